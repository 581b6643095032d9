/**
 * EnsembleTrainer (src/ensemble.ts): R replicates stepped as one program follow, each, the
 * trajectory the Trainer gives that replicate alone; memory stays flat; unsupported options are
 * refused.
 *
 * Tolerance. The host side (loss, coefficient, δ, the float64 update rounded once to float32, and
 * for K = 2 the Trainer's G₁ = W₂ᵀ ⊙ Q, G₂ᵢ = Σ_j Q_ij W₁_ij) is the same arithmetic in both, so only
 * the float32 products can differ: the ensemble runs batched or stacked products ([R·h, d]·Xᵀ)
 * where the Trainer runs 2-D ones, and XNNPACK and the naive loop may sum in different orders.
 * Each such difference is a few float32 roundings (2⁻²⁴ ≈ 6e-8 relative), and gradient descent with
 * these small steps carries it along without blowing it up over 200 steps. Measured (wasm, 40
 * cases of this property; cpu, a fixed grid): the weights agree bit for bit at these sizes; an
 * earlier K = 2 backward that formed G₁ on the backend deviated by ≤ 3e-7·max|W|. The bound,
 * 1e-4·max|W| per replicate, leaves room for other shapes and kernel choices while still catching
 * any real mistake (a wrong replicate, layer or coefficient moves weights by ≥ 1e-2 relative).
 */
import { describe, test, expect } from 'vitest';
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { reluTeacherData, type Dataset } from '../src/data.js';
import { EnsembleTrainer } from '../src/ensemble.js';
import { InputError } from '../src/errors.js';
import { initWeights, modelSpec, type ModelKind } from '../src/model.js';
import { stream } from '../src/rng.js';
import { Trainer, type TrainOptions } from '../src/train.js';
import { runs } from './reference64.js';

const TOL = 1e-4;
const R = 4;
const N = 16;
const d = 4;
const STEPS = 200;

function maxDeviation(a: number[], b: number[]): number {
  const scale = Math.max(...a.map(Math.abs));
  return Math.max(...a.map((x, i) => Math.abs(x - b[i]))) / scale;
}

describe('EnsembleTrainer', () => {
  test(`per replicate the Trainer's trajectory: weights after ${STEPS} steps within ${TOL}·max|W| (R = ${R})`, () => {
    const arch = fc.constantFrom<[ModelKind, number]>(['linear', 1], ['deep-linear', 2], ['deep-linear', 3], ['relu', 2], ['relu', 3]);
    fc.assert(
      fc.property(
        arch, fc.array(fc.integer({ min: 1, max: 2 ** 31 - 1 }), { minLength: R, maxLength: R }), fc.boolean(),
        fc.constantFrom<TrainOptions['loss']>('exp', 'logistic', 'squared'), fc.constantFrom<TrainOptions['reduction']>('sum', 'mean'), fc.constantFrom<TrainOptions['schedule']>('constant', 'flow'),
        ([kind, K], seeds, shared, loss, reduction, schedule) => {
          if (loss === 'squared') schedule = 'constant';
          const model = modelSpec(kind, K, 5);
          // small steps: sum losses scale the gradient by N, squared loss is not normalized by L
          const lr = (reduction === 'sum' ? 0.05 / N : 0.05) * (loss === 'squared' ? 0.2 : 1);
          const opts: TrainOptions = { model, loss, reduction, schedule, lr };
          const datas = seeds.map((s) => reluTeacherData(stream(s, 'data'), N, d, 3, 0.1));
          const inits = seeds.map((s) => initWeights(model, d, 'gaussian', 1, stream(s, 'init')));
          const ensemble = new EnsembleTrainer(shared ? datas[0] : datas, inits, opts);
          const alone = inits.map((w, r) => new Trainer(shared ? datas[0] : datas[r], w, opts));
          try {
            for (let s = 0; s < STEPS; s++) {
              const info = ensemble.step();
              alone.forEach((t, r) => {
                const mine = t.step();
                expect(Math.abs(info[r].logLoss - mine.logLoss)).toBeLessThanOrEqual(TOL * Math.max(1, Math.abs(mine.logLoss)));
              });
            }
            expect(ensemble.stepCount).toBe(STEPS);
            alone.forEach((t, r) => {
              const a = t.weights().flat(2);
              const b = ensemble.weights(r).flat(2);
              expect(maxDeviation(a, b)).toBeLessThanOrEqual(TOL);
              // the replicate moved (the comparison has teeth) and is not another replicate's
              expect(maxDeviation(a, inits[r].flat(2))).toBeGreaterThan(100 * TOL);
              if (r > 0) expect(maxDeviation(a, ensemble.weights(r - 1).flat(2))).toBeGreaterThan(100 * TOL);
              expect(Math.abs(ensemble.logFlowTime[r] - t.logFlowTime)).toBeLessThanOrEqual(TOL);
            });
            expect(ensemble.weightsAll()).toEqual(inits.map((_, r) => ensemble.weights(r)));
          } finally {
            ensemble.dispose();
            alone.forEach((t) => t.dispose());
          }
        },
      ),
      { numRuns: runs(4) },
    );
  });

  test('tensor count is flat over 2000 steps and returns to the baseline on dispose', () => {
    const model = modelSpec('relu', 3, 4);
    const datas = [1, 2, 3].map((s) => reluTeacherData(stream(s, 'data'), 8, 3, 3, 0.1));
    const inits = [1, 2, 3].map((s) => initWeights(model, 3, 'gaussian', 1, stream(s, 'init')));
    const before = tf.memory().numTensors;
    for (const data of [datas[0], datas] as (Dataset | Dataset[])[]) {
      const e = new EnsembleTrainer(data, inits, { model, loss: 'logistic', reduction: 'mean', schedule: 'flow', lr: 0.05 });
      const held = tf.memory().numTensors;
      expect(held - before).toBe(2 + 3); // X, Xᵀ and one variable per layer
      for (let i = 0; i < 2000; i++) e.step();
      e.weightsAll();
      expect(tf.memory().numTensors).toBe(held);
      e.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  test('unsupported or inconsistent options are refused with an InputError', () => {
    const model = modelSpec('relu', 2, 3);
    const data = reluTeacherData(stream(1, 'data'), 6, 2, 3, 0.1);
    const inits = [1, 2].map((s) => initWeights(model, 2, 'gaussian', 1, stream(s, 'init')));
    const opts: TrainOptions = { model, loss: 'exp', reduction: 'mean', schedule: 'constant', lr: 0.1 };
    const before = tf.memory().numTensors;
    const bad: [Dataset | Dataset[], typeof inits, TrainOptions][] = [
      [data, inits, { ...opts, batchSize: 2 }],
      [data, inits, { ...opts, layerLr: [1, 0.5] }],
      [data, inits, { ...opts, weightDecay: 0.01 }],
      [data, inits, { ...opts, lr: 0 }],
      [data, inits, { ...opts, loss: 'squared', schedule: 'flow' }],
      [data, [], opts],
      [[data], inits, opts], // 2 inits, 1 data set in an array
      [[data, { X: data.X.slice(1), y: data.y.slice(1) }], inits, opts], // data sets of different shapes
      [data, [inits[0], initWeights(modelSpec('relu', 2, 4), 2, 'gaussian', 1, stream(3, 'init'))], opts], // wrong width
    ];
    for (const [dt, w, o] of bad) expect(() => new EnsembleTrainer(dt, w, o)).toThrow(InputError);
    const e = new EnsembleTrainer(data, inits, opts);
    expect(() => e.weights(2)).toThrow(InputError);
    e.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
