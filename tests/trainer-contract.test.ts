/**
 * The Trainer's own guards and the flow schedule's coefficient, checked directly. The command line
 * only parses numbers and leaves these checks to the Trainer, renaming the parameter an
 * InputError names (lr, batchSize) to its flag (src/cli/flags.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, test } from 'vitest';
import { InputError } from '../src/errors.js';
import { logLoss, margins } from '../src/measure.js';
import { modelSpec } from '../src/model.js';
import { scheduleCoefficient, Trainer, type TrainOptions } from '../src/train.js';

const data = { X: [[1, 0], [0, 1], [-1, 0.5]], y: [1, 1, -1] };
const linear = [[[0, 0]]];
const base: TrainOptions = { model: modelSpec('linear'), loss: 'exp', reduction: 'sum', schedule: 'constant', lr: 0.1 };

function refuses(opts: Partial<TrainOptions>, pattern: RegExp, init = linear) {
  let error: unknown;
  try {
    new Trainer(data, init, { ...base, ...opts }).dispose();
  } catch (e) {
    error = e;
  }
  expect(error, JSON.stringify(opts)).toBeInstanceOf(InputError);
  expect((error as Error).message).toMatch(pattern);
}

describe('Trainer guards (InputError naming the problem)', () => {
  test('the step must be a positive finite number', () => {
    for (const lr of [0, -0.1, Number.NaN, Number.POSITIVE_INFINITY]) refuses({ lr }, new RegExp(`^lr must be a positive number, got ${lr}$`));
  });

  test('the batch size must be an integer in 1..N; N itself is full batch', () => {
    for (const batchSize of [0, -1, 1.5, 4]) refuses({ batchSize }, new RegExp(`^batchSize must be an integer in 1\\.\\.3, got ${batchSize}$`));
    for (const batchSize of [1, 3]) expect(() => new Trainer(data, linear, { ...base, batchSize }).dispose()).not.toThrow();
  });

  test('the flow schedule needs an exponential-type loss and full batches', () => {
    refuses({ schedule: 'flow', loss: 'squared' }, /the flow schedule needs an exponential-type loss \(exp or logistic\), not squared/);
    refuses({ schedule: 'flow', batchSize: 2 }, /the flow schedule needs full-batch steps/);
    expect(() => new Trainer(data, linear, { ...base, schedule: 'flow', batchSize: 3 }).dispose()).not.toThrow();
    expect(() => new Trainer(data, linear, { ...base, schedule: 'flow', loss: 'logistic' }).dispose()).not.toThrow();
  });

  test('the loss-based schedule needs an exponential-type loss and full batches; on a linear model α < 2/max‖x‖²', () => {
    refuses({ schedule: 'loss-based', loss: 'squared' }, /the loss-based schedule needs an exponential-type loss \(exp or logistic\), not squared/);
    refuses({ schedule: 'loss-based', batchSize: 2 }, /the loss-based schedule needs full-batch steps/);
    // max‖x‖² = 1.25 (the point [−1, 0.5]): the bound is 1.6
    refuses({ schedule: 'loss-based', lr: 1.6 }, /^lr \(α of loss-based steps on a linear model\) must be below 2\/max‖x‖² = 1\.6 to descend, got 1\.6 \(1\/max‖x‖² = 0\.8 descends fastest\)$/);
    expect(() => new Trainer(data, linear, { ...base, schedule: 'loss-based', lr: 1.599 }).dispose()).not.toThrow();
    // deeper models adapt α: no bound on α₀
    const deep = [[[0.1, 0.2], [0.3, -0.1]], [[1, 1]]];
    expect(() => new Trainer(data, deep, { ...base, model: modelSpec('deep-linear', 2, 2), schedule: 'loss-based', lr: 100 }).dispose()).not.toThrow();
  });

  test('per-layer multipliers need one per layer', () => {
    refuses({ layerLr: [1, 2] }, /layerLr needs 1 multipliers, got 2/);
    expect(() => new Trainer(data, linear, { ...base, layerLr: [2] }).dispose()).not.toThrow();
  });
});

describe('scheduleCoefficient', () => {
  const flow = (o: Partial<TrainOptions>): TrainOptions => ({ ...base, schedule: 'flow', lr: 0.5, ...o });

  test('constant schedule: η·L for log-objectives, η for the squared loss', () => {
    expect(scheduleCoefficient(base, 2, 10, Math.log(0.25), true)).toBeCloseTo(0.1 * 0.25, 15);
    expect(scheduleCoefficient(base, 2, 10, Math.log(0.25), false)).toBe(0.1);
  });

  test('flow, not fitted: η₀·min(1, L)', () => {
    expect(scheduleCoefficient(flow({}), 2, 10, Math.log(4), true)).toBe(0.5);
    expect(scheduleCoefficient(flow({}), 2, 10, Math.log(1), true)).toBe(0.5); // L = 1 is not fitted
  });

  test('flow, fitted: η₀/(log 1/L)^{2−2/K}, the log floored at 1', () => {
    expect(scheduleCoefficient(flow({}), 2, 10, -9, true)).toBeCloseTo(0.5 / 9, 15);
    expect(scheduleCoefficient(flow({}), 3, 10, -8, true)).toBeCloseTo(0.5 / 8 ** (4 / 3), 15);
    expect(scheduleCoefficient(flow({}), 1, 10, -8, true)).toBeCloseTo(0.5, 15); // K = 1: exponent 0
    expect(scheduleCoefficient(flow({}), 2, 10, -0.5, true)).toBeCloseTo(0.5, 15); // floor
  });

  test('flow, mean reduction: "fitted" is decided on the SUM loss N·L, and so is the pre-fit branch', () => {
    // mean L = 0.2 on N = 10 points: the sum is 2, not fitted, above 1 → η₀/L steps: c = η₀ = 0.5
    // (before, min(1, L) on the mean loss gave plain GD, c = 0.1, which never reached the fit of a
    // 178-point set)
    expect(scheduleCoefficient(flow({ reduction: 'mean' }), 2, 10, Math.log(0.2), true)).toBe(0.5);
    // mean L = 0.05: the sum is 0.5 < 1, fitted → η₀/log(1/0.05)
    expect(scheduleCoefficient(flow({ reduction: 'mean' }), 2, 10, Math.log(0.05), true)).toBeCloseTo(0.5 / Math.log(20), 15);
  });

  test('flow, logistic loss: fitted below log 2 (every margin positive), not below 1', () => {
    expect(scheduleCoefficient(flow({ loss: 'logistic' }), 2, 10, Math.log(0.8), true)).toBeCloseTo(0.5 * 0.8, 15);
    // mean logistic L = 0.08 on 10 points: the sum 0.8 is in (log 2, 1], not fitted: plain GD on the sum
    expect(scheduleCoefficient(flow({ loss: 'logistic', reduction: 'mean' }), 2, 10, Math.log(0.08), true)).toBeCloseTo(0.5 * 0.8, 15);
    expect(scheduleCoefficient(flow({ loss: 'logistic' }), 2, 10, Math.log(0.6), true)).toBeCloseTo(0.5 / Math.max(1, -Math.log(0.6)), 15);
  });
});

describe('Trainer: the forward pass a kept loss-based step leaves for the next step', () => {
  const model = modelSpec('deep-linear', 2, 2);
  const opts: TrainOptions = { ...base, model, schedule: 'loss-based', lr: 0.5 };
  const lossAt = (w: number[][][]) => logLoss(margins(w, data, 'deep-linear'), opts);

  test('gives the loss at the current weights, and is dropped once a layer is assigned from outside', () => {
    const trainer = new Trainer(data, [[[0.1, 0.2], [0.3, -0.1]], [[1, 1]]], opts);
    try {
      trainer.step();
      // the judged forward pass of step 1 is step 2's: its log L is the loss at the current weights
      const now = trainer.weights();
      expect(trainer.step().logLoss).toBeCloseTo(lossAt(now), 5);
      // weights changed behind the trainer's back: the next step must see them, not the kept pass
      const [W1, W2] = trainer.weights();
      trainer.layers[0].assign(tf.tensor2d(W1.map((row) => row.map((v) => 2 * v))));
      const assigned = trainer.weights();
      expect(Math.abs(lossAt(assigned) - lossAt([W1, W2]))).toBeGreaterThan(0.01); // the stale pass would give the other loss
      expect(trainer.step().logLoss).toBeCloseTo(lossAt(assigned), 5);
    } finally {
      trainer.dispose();
    }
  });
});

