/**
 * The Trainer's own guards and the flow schedule's coefficient, checked directly. The command line
 * only parses numbers and leaves these checks to the Trainer, renaming the parameter an
 * InputError names (lr, batchSize) to its flag (src/cli/flags.ts).
 */
import { describe, expect, test } from 'vitest';
import { InputError } from '../src/errors.js';
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

  test('flow, mean reduction: "fitted" is decided on the SUM loss N·L', () => {
    // mean L = 0.2 on N = 10 points: the sum is 2, not fitted → η₀·min(1, L) = 0.1
    expect(scheduleCoefficient(flow({ reduction: 'mean' }), 2, 10, Math.log(0.2), true)).toBeCloseTo(0.1, 15);
    // mean L = 0.05: the sum is 0.5 < 1, fitted → η₀/log(1/0.05)
    expect(scheduleCoefficient(flow({ reduction: 'mean' }), 2, 10, Math.log(0.05), true)).toBeCloseTo(0.5 / Math.log(20), 15);
  });

  test('flow, logistic loss: fitted below log 2 (every margin positive), not below 1', () => {
    expect(scheduleCoefficient(flow({ loss: 'logistic' }), 2, 10, Math.log(0.8), true)).toBeCloseTo(0.5 * 0.8, 15);
    expect(scheduleCoefficient(flow({ loss: 'logistic' }), 2, 10, Math.log(0.6), true)).toBeCloseTo(0.5 / Math.max(1, -Math.log(0.6)), 15);
  });
});
