/**
 * The log-space objectives of src/loss.ts at large scale (THEORY.md, Numerics): at ρ = 1e4 every
 * margin is in the hundreds or thousands, where float32 e^{−q} is exactly 0 (past q ≈ 104), so a
 * naive loss and its gradient vanish, while log L = LSE(log ℓ(q_n)) and ∇log L stay finite and
 * accurate. References: measure.logLoss and the backprop of reference64.ts, in float64 on the same
 * float32-rounded weights and data.
 *
 * Tolerances. The float32 margins are off by at most δq = m·u·F̄ (F̄ = |W_K|⋯|W_1||x|, u = 6e-8,
 * m ≲ d + width + 4 ≤ 12, so δq ≤ 1e-6·F̄), and log L = −q_min + O(1) inherits that:
 * |Δ log L| ≤ 1e-6·(|log L| + max F̄) — 1e-6 relative when the margins do not cancel (measured
 * ≤ 1.1e-6·|log L| with F̄/q_min up to 46). ∇log L = Σ_n p_n ∇q_n with softmax weights p: the ∇q_n
 * are products of float32 numbers (≤ 2e-5 relative, measured ≤ 1.2e-7), and an error δq in the
 * margins moves the weights by at most 4·δq·(1 − p_max) in total, which matters only when two
 * margins lie within a few units of each other (measured 5e-6 with a gap of 4.4).
 */
import { describe, test, expect } from 'vitest';
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { linearTeacherData, type Dataset } from '../src/data.js';
import type { LossSpec, Reduction } from '../src/loss.js';
import { objective, tapedForward } from './tf-objective.js';
import { logLoss, margins, outputs } from '../src/measure.js';
import { initWeights, modelSpec, type ModelKind, type Weights } from '../src/model.js';
import { stream } from '../src/rng.js';
import { absOutput, dist2, flat, fround, lossGrad64, norm2, outputGrad64, runs } from './reference64.js';

const RHO = 1e4;

/** log L (or L for squared) of the src objective and its gradient w.r.t. the weights, in float32. */
function objective32(W: Weights, data: Dataset, kind: ModelKind, spec: LossSpec): { value: number; grads: number[] } {
  return tf.tidy(() => {
    const X = tf.tensor2d(data.X);
    const y = tf.tensor1d(data.y);
    const f = (...ls: tf.Tensor[]) => objective(tf.mul(y, tapedForward(ls as tf.Tensor2D[], X, kind)) as tf.Tensor1D, spec).value;
    const { value, grads } = tf.valueAndGrads(f)(W.map((M) => tf.tensor2d(M)));
    return { value: value.dataSync()[0], grads: grads.flatMap((g) => Array.from(g.dataSync())) };
  });
}

/** The textbook loss Σ ℓ(q_n) in float32 and its gradient. */
function naive32(W: Weights, data: Dataset, kind: ModelKind, loss: 'exp' | 'logistic'): { value: number; grads: number[] } {
  return tf.tidy(() => {
    const X = tf.tensor2d(data.X);
    const y = tf.tensor1d(data.y);
    const f = (...ls: tf.Tensor[]) => {
      const e = tf.exp(tf.neg(tf.mul(y, tapedForward(ls as tf.Tensor2D[], X, kind))));
      return tf.sum(loss === 'exp' ? e : tf.log1p(e));
    };
    const { value, grads } = tf.valueAndGrads(f)(W.map((M) => tf.tensor2d(M)));
    return { value: value.dataSync()[0], grads: grads.flatMap((g) => Array.from(g.dataSync())) };
  });
}

/** A linear model w = 1e4·u on data the unit teacher u separates with margin ≥ 0.1: q_n ≥ 1000. */
function linearAtScale(seed: number, N: number, d: number): { W: Weights; data: Dataset } {
  const { X, y, teacher } = linearTeacherData(stream(seed, 'data'), N, d, 0.1);
  return { W: fround([[teacher.map((v) => RHO * v)]]), data: { X: X.map((r) => r.map(Math.fround)), y } };
}

/**
 * A 2-layer ReLU net with both layers of norm 100 (ρ = 1e4, balanced), and points it labels itself
 * with normalized margin |f(V; x)| ≥ 0.02, so q_n ≥ 200. Null when the net is (nearly) dead.
 */
function reluAtScale(seed: number, N: number, d: number, width: number): { W: Weights; data: Dataset } | null {
  const W0 = initWeights(modelSpec('relu', 2, width), d, 'gaussian', 1, stream(seed, 'init'));
  const W = fround(W0.map((M) => { const n = norm2(M.flat()); return M.map((row) => row.map((v) => (Math.sqrt(RHO) * v) / n)); }));
  const rd = stream(seed, 'data');
  const X: number[][] = [];
  const y: number[] = [];
  for (let tries = 0; X.length < N && tries < 2000; tries++) {
    const x = Array.from({ length: d }, () => Math.fround(rd.gaussian()));
    const f = outputs(W, [x], 'relu')[0] / RHO;
    if (Math.abs(f) >= 0.02) { X.push(x); y.push(Math.sign(f)); }
  }
  return X.length === N ? { W, data: { X, y } } : null;
}

/** Checks log L, ∇log L and the naive loss at one large-scale configuration. */
function checkAtScale(W: Weights, data: Dataset, kind: ModelKind, spec: LossSpec & { loss: 'exp' | 'logistic' }) {
  const q64 = margins(W, data, kind);
  expect(Math.min(...q64)).toBeGreaterThan(150); // the regime where float32 e^{−q} is 0
  const ref = lossGrad64(W, data, kind, spec);
  const logL64 = logLoss(q64, spec);
  expect(Math.abs(logL64 - ref.logL)).toBeLessThanOrEqual(1e-12 * Math.abs(ref.logL)); // two float64 references agree
  const Fbar = Math.max(...data.X.map((x) => absOutput(W, x)));
  const deltaQ = 1e-6 * Fbar;

  const obj = objective32(W, data, kind, spec);
  expect(Math.abs(obj.value - logL64)).toBeLessThanOrEqual(1e-6 * Math.abs(logL64) + deltaQ);

  const g64 = flat(ref.gradsLog);
  const weightsP = ref.dLogL.map(Math.abs);
  const pMax = Math.max(...weightsP) / weightsP.reduce((s, p) => s + p, 0);
  const gradQ = Math.max(...data.X.map((x) => norm2(flat(outputGrad64(W, x, kind).grads))));
  expect(obj.grads.every(Number.isFinite)).toBe(true);
  expect(norm2(g64)).toBeGreaterThan(0);
  expect(dist2(obj.grads, g64)).toBeLessThanOrEqual(2e-5 * norm2(g64) + 4 * deltaQ * (1 - pMax) * gradQ);

  // the naive loss: exactly 0, and so is every entry of its gradient — training would stop
  const naive = naive32(W, data, kind, spec.loss);
  expect(naive.value).toBe(0);
  expect(naive.grads.every((g) => g === 0)).toBe(true);
}

const lossArb = fc.constantFrom<'exp' | 'logistic'>('exp', 'logistic');
const reductionArb = fc.constantFrom<Reduction>('sum', 'mean');

describe('log-space losses at ρ = 1e4', () => {
  test('linear model w = 1e4·u: log L to ~1e-6, ∇log L to 2e-5, while the naive loss is 0', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 4 }), lossArb, reductionArb,
        (seed, N, d, loss, reduction) => {
          const { W, data } = linearAtScale(seed, N, d);
          checkAtScale(W, data, 'linear', { loss, reduction });
        },
      ),
      { numRuns: runs(25) },
    );
  });

  test('2-layer ReLU net with ρ = 1e4: log L to ~1e-6, ∇log L to 2e-5, while the naive loss is 0', () => {
    let dead = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }), lossArb, reductionArb,
        (seed, N, d, width, loss, reduction) => {
          const made = reluAtScale(seed, N, d, width);
          if (!made) dead++;
          fc.pre(made !== null);
          checkAtScale(made!.W, made!.data, 'relu', { loss, reduction });
        },
      ),
      { numRuns: runs(25) },
    );
    expect(dead).toBeLessThanOrEqual(Math.max(3, 0.3 * runs(25)));
  });

  test('the soudry2d layout at 1e4·ŵ: four tied support vectors share the gradient', () => {
    // X of the fixture's support vectors and two more points; ŵ = (0.5, 0.5)/‖·‖ scaled to norm 1e4
    const data: Dataset = { X: [[0.5, 1.5], [1.5, 0.5], [-0.5, -1.5], [-1.5, -0.5], [2, 3], [-3, -2]], y: [1, 1, -1, -1, 1, -1] };
    const W = fround([[[RHO * Math.SQRT1_2, RHO * Math.SQRT1_2]]]);
    for (const loss of ['exp', 'logistic'] as const) checkAtScale(W, data, 'linear', { loss, reduction: 'sum' });
  });
});

describe('logistic loss: the switch between the two log-space branches', () => {
  /** log ℓ(q) and its derivative for a single margin, in float32 through the src objective. */
  function logistic32(q: number): { v: number; dv: number } {
    return tf.tidy(() => {
      const { value, grad } = tf.valueAndGrad((t: tf.Tensor) => objective(t as tf.Tensor1D, { loss: 'logistic', reduction: 'sum' }).value)(tf.tensor1d([q]));
      return { v: value.dataSync()[0], dv: grad.dataSync()[0] };
    });
  }

  test('continuous at q = 15: values and slopes on both sides match float64 (≤ 2e-6 absolute)', () => {
    // float32 near 15 has ulp 9.5e-7; softplus and log add a few ulps
    const at = (q: number) => {
      const qf = Math.fround(q);
      const ref = lossGrad64([[[1]]], { X: [[qf]], y: [1] }, 'linear', { loss: 'logistic', reduction: 'sum' });
      return { q: qf, v64: ref.logL, dv64: ref.dLogL[0], ...logistic32(qf) };
    };
    const below = at(15 - 1e-3);
    const on = at(15);
    const above = at(15 + 1e-3);
    for (const p of [below, on, above]) {
      expect(Math.abs(p.v - p.v64)).toBeLessThanOrEqual(2e-6);
      expect(Math.abs(p.dv - p.dv64)).toBeLessThanOrEqual(2e-6);
    }
    // the step across the switch is the float64 step (≈ −2e-3), not a jump
    expect(Math.abs(above.v - below.v - (above.v64 - below.v64))).toBeLessThanOrEqual(4e-6);
    expect(Math.abs(above.dv - below.dv)).toBeLessThanOrEqual(4e-6);
  });

  const wideQ = fc.double({ min: -1000, max: 10_000, noNaN: true });
  const extremes: [number, 'exp' | 'logistic'][] = [[-1000, 'logistic'], [-1000, 'exp'], [0, 'logistic'], [30, 'logistic'], [10_000, 'logistic']];

  test('tfjs log ℓ(q) for q from −1e3 to 1e4 matches float64', () => {
    fc.assert(
      fc.property(wideQ, lossArb, (q0, loss) => {
        const q = Math.fround(q0);
        const spec: LossSpec = { loss, reduction: 'sum' };
        const ref = lossGrad64([[[1]]], { X: [[q]], y: [1] }, 'linear', spec);
        const v32 = tf.tidy(() => objective(tf.tensor1d([q]), spec).value.dataSync()[0]);
        // float32 rounding of a value of size |log ℓ| ≤ |q| + 7, plus a few ulps of softplus/log
        expect(Math.abs(v32 - ref.logL)).toBeLessThanOrEqual(2e-7 * (Math.abs(ref.logL) + 8));
      }),
      { numRuns: runs(200), examples: extremes },
    );
  });

  test('float64 measure.logLoss is finite and accurate for q from −1e3 to 1e4 (logistic: e^{−q} overflows past q < −709)', () => {
    fc.assert(
      fc.property(wideQ, lossArb, (q0, loss) => {
        const q = Math.fround(q0);
        const spec: LossSpec = { loss, reduction: 'sum' };
        const ref = lossGrad64([[[1]]], { X: [[q]], y: [1] }, 'linear', spec);
        expect(Math.abs(logLoss([q], spec) - ref.logL)).toBeLessThanOrEqual(1e-12 * (Math.abs(ref.logL) + 1));
      }),
      { numRuns: runs(200), examples: extremes },
    );
  });
});

describe('squared control and reductions', () => {
  test('squared loss: the value is L itself (not log L), sum or mean', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 1, maxLength: 8 }), reductionArb, (qs, reduction) => {
        const q = qs.map(Math.fround);
        const L64 = q.reduce((s, v) => s + (1 - v) ** 2, 0) / (reduction === 'mean' ? q.length : 1);
        const { value, isLog } = tf.tidy(() => {
          const o = objective(tf.tensor1d(q), { loss: 'squared', reduction });
          return { value: o.value.dataSync()[0], isLog: o.isLog };
        });
        expect(isLog).toBe(false);
        expect(Math.abs(value - L64)).toBeLessThanOrEqual(1e-6 * (L64 + 1));
      }),
      { numRuns: runs(30) },
    );
  });

  test('mean reduction: log L_mean = log L_sum − log N for exp and logistic', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -20, max: 50, noNaN: true }), { minLength: 1, maxLength: 8 }), lossArb, (qs, loss) => {
        const q = qs.map(Math.fround);
        const [sum, mean] = (['sum', 'mean'] as const).map((reduction) =>
          tf.tidy(() => objective(tf.tensor1d(q), { loss, reduction }).value.dataSync()[0]),
        );
        expect(Math.abs(sum - mean - Math.log(q.length))).toBeLessThanOrEqual(1e-6 * (Math.abs(sum) + 1));
        expect(Math.abs(mean - logLoss(q, { loss, reduction: 'mean' }))).toBeLessThanOrEqual(1e-6 * (Math.abs(mean) + 1));
      }),
      { numRuns: runs(30) },
    );
  });
});

