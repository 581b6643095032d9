/**
 * NetTrainer (src/nn) against the dense Trainer of src/train.ts: the same MLP (linear, deep linear,
 * ReLU) on the same data and init takes the same steps up to float32 rounding, for the constant and
 * flow schedules and every loss. The two compute the products in different orders (Trainer has a
 * transposed 2-layer layout and a host-side backward), so they agree to rounding, not bit for bit:
 * each step's gradient entries are sums of at most m = N·width + d terms, off by ≤ m·u relative to
 * the sum of their magnitudes, and a step moves W by c·g; over T steps the difference stays within
 * T·(m + 2)·u·(‖W‖∞ + ‖ΔW‖∞) per entry, asserted with a factor 4 of headroom. A step with a
 * different coefficient or a missing ReLU mask differs by O(c·g), far above it.
 * Also: undo() puts back the exact parameters, and the records' float64 reductions match
 * src/measure.ts's on the same weights.
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { DivergenceError } from '../src/errors.js';
import type { LossKind } from '../src/loss.js';
import { measure } from '../src/measure.js';
import { initWeights, modelSpec, type ModelKind } from '../src/model.js';
import { buildNetwork, initParams } from '../src/nn/network.js';
import { outputMetrics } from '../src/nn/records.js';
import { NetTrainer } from '../src/nn/trainer.js';
import { stream } from '../src/rng.js';
import { Trainer, type Schedule } from '../src/train.js';
import { runs } from './reference64.js';

const U32 = 2 ** -24;

const caseArb = fc.record({
  kind: fc.constantFrom<ModelKind>('linear', 'deep-linear', 'relu'),
  depth: fc.integer({ min: 2, max: 3 }),
  width: fc.integer({ min: 1, max: 5 }),
  d: fc.integer({ min: 1, max: 4 }),
  N: fc.integer({ min: 1, max: 8 }),
  loss: fc.constantFrom<LossKind>('exp', 'logistic', 'squared'),
  schedule: fc.constantFrom<Schedule>('constant', 'flow'),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

const STEPS = 5;

function setup(c: Case) {
  const spec = modelSpec(c.kind, c.depth, c.width);
  const rng = stream(c.seed, 'data');
  const X = Array.from({ length: c.N }, () => Array.from({ length: c.d }, () => Math.fround(rng.gaussian())));
  const y = X.map(() => (rng.uniform() < 0.5 ? -1 : 1));
  const init = initWeights(spec, c.d, 'gaussian', 1, stream(c.seed, 'init')).map((W) => W.map((r) => r.map(Math.fround)));
  const net = buildNetwork({ kind: 'mlp', inShape: [c.d], widths: c.kind === 'linear' ? [] : new Array(c.depth - 1).fill(c.width), relu: c.kind === 'relu' });
  const schedule = c.loss === 'squared' ? 'constant' : c.schedule;
  const opts = { loss: c.loss, reduction: 'sum' as const, schedule, lr: 0.05 };
  return { spec, data: { X, y }, init, net, opts, arrays: { X: Float32Array.from(X.flat()), shape: [c.d], y } };
}

describe('NetTrainer', () => {
  test('an MLP through src/nn takes the steps of src/train.ts\'s Trainer, to float32 rounding', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { spec, data, init, net, opts, arrays } = setup(c);
        const a = new Trainer(data, init, { ...opts, model: spec });
        const b = new NetTrainer(net, arrays, init.map((W) => Float32Array.from(W.flat())), opts);
        try {
          const m = c.N * Math.max(c.width, 1) + c.d;
          for (let t = 1; t <= STEPS; t++) {
            const before = a.weights().map((W) => W.flat());
            const sa = a.step();
            const sb = b.step();
            expect(Math.abs(sa.logLoss - sb.logLoss)).toBeLessThanOrEqual(4 * (m + 2) * U32 * t * (1 + Math.abs(sa.logLoss)));
            a.weights().forEach((W, k) => {
              const wa = W.flat();
              const scale = Math.max(...wa.map(Math.abs), ...before[k].map((v, i) => Math.abs(wa[i] - v)));
              wa.forEach((v, i) => {
                expect(Math.abs(v - b.params[k][i]), `step ${t} layer ${k} entry ${i}`).toBeLessThanOrEqual(4 * t * (m + 2) * U32 * scale);
              });
            });
          }
        } finally {
          a.dispose();
          b.dispose();
        }
      }),
      { numRuns: runs(40) },
    );
  });

  test('undo() restores the parameters, step count and flow time of before the last step exactly', () => {
    const { net, opts, arrays, init } = setup({ kind: 'relu', depth: 3, width: 3, d: 2, N: 5, loss: 'exp', schedule: 'flow', seed: 7 });
    const t = new NetTrainer(net, arrays, init.map((W) => Float32Array.from(W.flat())), opts);
    try {
      t.step();
      const saved = t.params.map((p) => Float32Array.from(p));
      const { stepCount, logFlowTime } = t;
      const f = t.outputs();
      t.step();
      expect(t.params[0]).not.toEqual(saved[0]);
      t.undo();
      expect(t.params).toEqual(saved);
      expect([t.stepCount, t.logFlowTime]).toEqual([stepCount, logFlowTime]);
      expect(t.outputs()).toEqual(f); // the backend got the restored parameters
      expect(() => t.undo()).toThrow('no step to undo');
    } finally {
      t.dispose();
    }
  });

  test('no tensor leaks: the count is flat over steps, evaluate/discard/undo, records, and back to the baseline on dispose (CNN, with patches)', () => {
    const net = buildNetwork({ kind: 'cnn', inShape: [6, 6, 1], channels: [2, 2], kernel: 3, pool: 'max', poolSize: 2, padding: 'same' });
    const rng = stream(9, 'data');
    const X = Float32Array.from({ length: 5 * 36 }, () => rng.uniform());
    const baseline = tf.memory().numTensors;
    const t = new NetTrainer(net, { X, shape: [6, 6, 1], y: [1, -1, 1, -1, 1] }, initParams(net, stream(9, 'init')), { loss: 'exp', reduction: 'sum', schedule: 'flow', lr: 0.1 });
    t.step();
    const running = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      t.step();
      t.evaluate();
      t.discard();
      t.outputs();
      t.gradient();
      t.step();
      t.undo();
    }
    expect(tf.memory().numTensors).toBe(running);
    t.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
  });

  test('a step that overflows stops with a DivergenceError naming the step and the last finite log L', () => {
    const { net, arrays, init } = setup({ kind: 'relu', depth: 2, width: 3, d: 2, N: 4, loss: 'squared', schedule: 'constant', seed: 5 });
    const t = new NetTrainer(net, arrays, init.map((W) => Float32Array.from(W.flat())), { loss: 'squared', reduction: 'sum', schedule: 'constant', lr: 1e6 });
    try {
      let e: Error | null = null;
      try {
        for (let i = 0; i < 50; i++) t.step();
      } catch (caught) {
        e = caught as Error;
      }
      expect(e).toBeInstanceOf(DivergenceError);
      expect(e!.message).toMatch(/^training produced a non-finite loss \((NaN|Infinity)\) at step \d+ \(log L was [-\d.e+]+ before step \d+\)$/);
    } finally {
      t.dispose();
    }
  });

  test('records from device outputs equal src/measure.ts on the same weights (float64 reductions)', () => {
    const c: Case = { kind: 'relu', depth: 3, width: 4, d: 3, N: 8, loss: 'logistic', schedule: 'constant', seed: 11 };
    const { spec, data, init, net, arrays } = setup(c);
    const t = new NetTrainer(net, arrays, init.map((W) => Float32Array.from(W.flat())), { loss: 'logistic', reduction: 'sum', schedule: 'constant', lr: 1 });
    try {
      const got = outputMetrics(t.outputs(), data.y, t.params, { loss: 'logistic', reduction: 'sum' });
      const want = measure(init, data, spec.kind, { loss: 'logistic', reduction: 'sum' });
      expect(got.layerNorms).toEqual(want.layerNorms.map((v) => expect.closeTo(v, 12)));
      for (const key of ['logLoss', 'minMargin', 'normalizedMargin', 'smoothedMargin', 'rho', 'norm'] as const) {
        // f from float32 outputs vs float64 forward: 1e-5 relative covers the float32 rounding of f
        expect(Math.abs(got[key] - want[key]), key).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want[key])));
      }
    } finally {
      t.dispose();
    }
  });
});
