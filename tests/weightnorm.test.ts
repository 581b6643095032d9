/**
 * The weight-normalized stepper (src/weightnorm.ts): W_k = g_k v_k/‖v_k‖, GD on (g, v).
 *
 * Gradients. The stepper's ∂L/∂g and ∇_v L are the chain rule through the normalization, applied
 * in float64 to the float32 ∇_W log L of the src/nn network's backward pass. They are checked
 * against float64 central differences of L(g, v) = L(W(g, v)) (reference64's loss: no chain rule,
 * no tfjs), and those in turn against the chain rule applied to float64 central differences in W:
 *   ∂L/∂g_k = ⟨∇_{W_k}L, V_k⟩,  ∇_{v_k}L = (g_k/‖v_k‖)(∇_{W_k}L − ⟨∇_{W_k}L, V_k⟩V_k).
 * Tolerances: float64 central differences (h = 1e-6·max(1,|x|)) agree to 1e-6 relative plus their
 * rounding noise 1e-9·L per entry (as in gradients.test.ts). The float32 gradient is bounded like
 * Trainer.gradient() there, 1e-4·‖g‖ + 2e-6·S (S: the gradient with every term in absolute value),
 * with S scaled by max(1, |g_k|/‖v_k‖), the factor by which ∇_v L rescales ∇_W L. Weights, data and
 * (g, v) are float32 numbers, so both sides see the same inputs. Measured over 300 cases: the
 * float64 chain rule uses ≤ 3% of its tolerance, the float32 gradient ≤ 0.5% of its own; a missing
 * projection or a gradient of log L in place of L is off by O(‖g‖) (checked by breaking the stepper).
 * On drawn tiny CNNs (src/nn conv and pooling layers, ‖v_k‖ = 0.25–3·‖W_k‖) the same comparison
 * with the float64 network of tests/nn-reference64.ts and the rounding bound of
 * tests/nn-gradients.test.ts: ≤ 0.14% of it over 100 nets; breaking the stepper (no projection, no
 * g/‖v‖ factor, ∂L/∂g without the factor L) fails it.
 *
 * Steps. One step is v⁺ = fl32(v − η∇_v L) and g⁺ = fl32(g − η∂L/∂g) with the gradient it reports,
 * bit for bit; the negative-control options add λv (weight decay on v) or step along ∇_W L. Over
 * 1000 steps the trainer holds a fixed set of tensors (the data and the weights the backend last
 * saw; the host copies of g and v are the truth) and frees them all.
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Dataset } from '../src/data.js';
import { InputError } from '../src/errors.js';
import type { LossKind, LossSpec, Reduction } from '../src/loss.js';
import { logLoss } from '../src/measure.js';
import { asRows, initWeights, modelSpec, type ModelKind, type ModelSpec, type Weights } from '../src/model.js';
import { sizeOf } from '../src/nn/layer.js';
import { initParams, type NetSpec } from '../src/nn/network.js';
import { stream } from '../src/rng.js';
import { WeightNormTrainer, weightNormOf, weightsOf, type WeightNormParams } from '../src/weightnorm.js';
import { netCaseArb, netSpecOf, tinyNet } from './nn-cases.js';
import { abs64, centralDifferences, dot64, network64 } from './nn-reference64.js';
import { dist2, finiteDiffGrad64, finiteDiffWn64, flat, fround, gradScale64, kinkDistance, lossGrad64, norm2, runs } from './reference64.js';

const caseArb = fc.record({
  kind: fc.constantFrom<ModelKind>('linear', 'deep-linear', 'relu'),
  depth: fc.integer({ min: 2, max: 3 }),
  width: fc.integer({ min: 1, max: 4 }),
  d: fc.integer({ min: 1, max: 4 }),
  N: fc.integer({ min: 1, max: 8 }),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  /** squared: the control loss, whose objective is L itself (no factor e^{log L}) */
  loss: fc.constantFrom<LossKind>('exp', 'logistic', 'squared'),
  reduction: fc.constantFrom<Reduction>('sum', 'mean'),
  /** ‖v_k‖ = vScale·‖W_k‖: the scale of v is free, and the gradient must not depend on it being 1. */
  vScale: fc.constantFrom(0.25, 1, 3),
});
type Case = typeof caseArb extends fc.Arbitrary<infer C> ? C : never;

/** Gaussian points, random labels, Gaussian weights; (g, v) of those weights; all float32 numbers. */
function build(c: Case): { spec: ModelSpec; data: Dataset; p: WeightNormParams; loss: LossSpec } {
  const spec = modelSpec(c.kind, c.depth, c.width);
  const rd = stream(c.seed, 'data');
  const X = Array.from({ length: c.N }, () => Array.from({ length: c.d }, () => Math.fround(rd.gaussian())));
  const y = X.map(() => (rd.uniform() < 0.5 ? -1 : 1));
  const W = initWeights(spec, c.d, 'gaussian', 1, stream(c.seed, 'init'));
  const p = weightNormOf(W);
  return {
    spec, data: { X, y },
    p: { g: p.g.map(Math.fround), v: fround(p.v.map((V) => V.map((row) => row.map((x) => x * c.vScale)))) },
    loss: { loss: c.loss, reduction: c.reduction },
  };
}

function withTrainer<T>(data: Dataset, p: WeightNormParams, spec: ModelSpec | NetSpec, loss: LossSpec, f: (t: WeightNormTrainer) => T, controls = {}): T {
  const t = new WeightNormTrainer(data, p, { model: spec, ...loss, lr: 0.05, ...controls });
  try {
    return f(t);
  } finally {
    t.dispose();
  }
}

const gradVec = (g: { gradG: number[]; gradV: Weights }) => [...g.gradG, ...flat(g.gradV)];

describe('weight normalization: gradients', () => {
  test('float64 central differences in (g, v) equal the chain rule on central differences in W (≤ 1e-6 relative)', () => {
    let checked = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        const { data, p, loss } = build(c);
        const W = weightsOf(p);
        fc.pre(c.kind !== 'relu' || kinkDistance(W, data.X) > 1e-3);
        checked++;
        const fd = finiteDiffWn64(p, (W) => lossGrad64(W, data, c.kind, loss).L);
        const G = finiteDiffGrad64(W, data, c.kind, loss);
        const chain = {
          gradG: G.map((Gk, k) => dot2(Gk, W[k]) / p.g[k]), // ⟨G, V⟩, since W = g V
          gradV: G.map((Gk, k) => {
            const nv = Math.sqrt(dot2(p.v[k], p.v[k]));
            const along = dot2(Gk, p.v[k]) / nv; // ⟨G, V⟩, V = v/‖v‖
            return Gk.map((row, i) => row.map((x, j) => (p.g[k] / nv) * (x - (along * p.v[k][i][j]) / nv)));
          }),
        };
        const { L } = lossGrad64(W, data, c.kind, loss);
        const a = gradVec(fd);
        const b = gradVec(chain);
        const noise = 1e-9 * L * Math.sqrt(a.length) * Math.max(1, ...p.g.map((g, k) => Math.abs(g) / Math.sqrt(dot2(p.v[k], p.v[k]))));
        expect(dist2(a, b)).toBeLessThanOrEqual(1e-6 * norm2(b) + noise);
      }),
      { numRuns: runs(40) },
    );
    expect(checked).toBeGreaterThan(0);
  });

  test('the stepper’s gradient equals float64 central differences in (g, v) (≤ 1e-4·‖g‖ + 2e-6·S)', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { spec, data, p, loss } = build(c);
        const W = weightsOf(p);
        fc.pre(c.kind !== 'relu' || kinkDistance(W, data.X) > 1e-3);
        const got = withTrainer(data, p, spec, loss, (t) => t.gradient());
        const fd = finiteDiffWn64(p, (W) => lossGrad64(W, data, c.kind, loss).L);
        const ref = lossGrad64(W, data, c.kind, loss);
        const rescale = Math.max(1, ...p.g.map((g, k) => Math.abs(g) / Math.sqrt(dot2(p.v[k], p.v[k]))));
        const S = gradScale64(W, data, loss, c.kind) * rescale;
        const fdNoise = 1e-9 * ref.L * Math.sqrt(gradVec(fd).length) * rescale;
        expect(dist2(gradVec(got), gradVec(fd))).toBeLessThanOrEqual(1e-4 * norm2(gradVec(fd)) + 2e-6 * S + fdNoise);
        // the reported norms and log L are those of the same gradient
        got.gradVNormSq.forEach((n2, k) => expect(n2).toBeCloseTo(dot2(got.gradV[k], got.gradV[k]), 12));
        expect(Math.abs(got.logLoss - ref.logL)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(ref.logL)));
      }),
      { numRuns: runs(40) },
    );
  });
});

describe('weight normalization on a CNN (src/nn conv and pooling layers)', () => {
  /**
   * The tolerance of tests/nn-gradients.test.ts: a float32 sum of m terms is off by ≤ m·u·Σ|terms|;
   * S_j = Σ_n |∂L/∂f_n| ∂f̄_n/∂W_j with f̄ the network on |x|, |W| without ReLU (every term counted
   * positively), by central differences of that piecewise-linear float64 network; ‖S‖ scaled by
   * max(1, |g_k|/‖v_k‖) as above, plus 1e-4 relative for log L and e^{log L} and the differences' noise.
   */
  test('the stepper’s (g, v) gradient equals float64 central differences of the float64 network’s loss', () => {
    let checked = 0;
    let worst = 0;
    fc.assert(
      fc.property(netCaseArb.map((c) => ({ ...c, cnn: true })), fc.constantFrom<LossKind>('exp', 'logistic'), fc.constantFrom<Reduction>('sum', 'mean'), fc.constantFrom(0.25, 1, 3), (c, lossKind, reduction, vScale) => {
        const net = tinyNet(c);
        fc.pre(net !== null);
        const loss: LossSpec = { loss: lossKind, reduction };
        const size = sizeOf(net!.inShape);
        const rng = stream(c.seed, 'data');
        const X = Float32Array.from({ length: c.N * size }, () => rng.gaussian());
        const y = Array.from({ length: c.N }, (_, n) => (n % 2 === 0 ? 1 : -1));
        const shapes = net!.weightShapes;
        const init = initParams(net!, stream(c.seed, 'init'));
        const p = weightNormOf(init.map((W, k) => asRows(W, shapes[k][0], W.length / shapes[k][0])));
        p.g = p.g.map(Math.fround);
        p.v = fround(p.v.map((V) => V.map((row) => row.map((x) => x * vScale)))); // ‖v_k‖ = vScale·‖W_k‖
        const flatW = (W: Weights) => W.map((M) => M.flat());
        const f64 = (W: Weights) => network64(net!, X, c.N, flatW(W));
        const L64 = (W: Weights) => Math.exp(logLoss(Array.from(f64(W).y, (f, n) => y[n] * f), loss));
        const W = weightsOf(p);
        fc.pre(f64(W).kink > 1e-3);
        checked++;
        const data: Dataset = { X: Array.from({ length: c.N }, (_, n) => Array.from(X.subarray(n * size, (n + 1) * size))), y };
        const got = withTrainer(data, p, netSpecOf(c), loss, (t) => t.gradient());
        const fd = finiteDiffWn64(p, L64);
        // ∂L/∂f_n in float64, then S by central differences of ⟨|∂L/∂f|, f̄⟩ in every weight
        const q = Array.from(f64(W).y, (f, n) => y[n] * f);
        const scale = reduction === 'mean' ? 1 / c.N : 1;
        const dLdf = q.map((v) => Math.abs(scale * (lossKind === 'exp' ? Math.exp(-v) : 1 / (1 + Math.exp(v)))));
        const absX = abs64(X);
        const absW = flatW(W).map(abs64);
        const S = absW.map((Wk, k) => centralDifferences(Wk, (w) => dot64(dLdf, network64(net!, absX, c.N, absW.map((A, j) => (j === k ? w : A)), true).y), 1e-6));
        const m = 2 * (c.N * Math.max(size, ...net!.layers.map((l) => sizeOf(l.outShape))) + init.reduce((a, w) => a + w.length, 0));
        const rescale = Math.max(1, ...p.g.map((g, k) => Math.abs(g) / Math.sqrt(dot2(p.v[k], p.v[k]))));
        const a = gradVec(got);
        const b = gradVec(fd);
        const tol = 1e-4 * norm2(b) + 2 * m * 2 ** -24 * norm2(S.flatMap((s) => Array.from(s))) * rescale + 1e-9 * L64(W) * Math.sqrt(b.length) * rescale;
        worst = Math.max(worst, dist2(a, b) / tol);
        expect(dist2(a, b)).toBeLessThanOrEqual(tol);
      }),
      { numRuns: runs(10) },
    );
    console.log(`WN on CNNs: worst (g, v) gradient error ${(100 * worst).toFixed(2)}% of the tolerance over ${checked} nets`);
    expect(checked).toBeGreaterThan(0);
  });
});

function dot2(a: number[][], b: number[][]): number {
  let s = 0;
  a.forEach((row, i) => row.forEach((x, j) => (s += x * b[i][j])));
  return s;
}

describe('weight normalization: steps', () => {
  test('one step is g⁺ = fl32(g − η ∂L/∂g), v⁺ = fl32(v − η ∇_v L), bit for bit, with the gradient it reports', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { spec, data, p, loss } = build(c);
        withTrainer(data, p, spec, loss, (t) => {
          const before = t.params();
          expect(before).toEqual(p); // float32 inputs are stored exactly
          const info = t.step();
          const after = t.params();
          expect(after.g).toEqual(before.g.map((g, k) => Math.fround(g - info.lr * info.gradG[k])));
          expect(after.v).toEqual(before.v.map((V, k) => V.map((row, i) => row.map((x, j) => Math.fround(x - info.lr * info.gradV[k][i][j])))));
          expect(t.stepCount).toBe(1);
        });
      }),
      { numRuns: runs(20) },
    );
  });

  test('negative-control options: weight decay adds λv to the v step; `unprojected` steps v along ∇_W L', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { spec, data, p, loss } = build(c);
        withTrainer(data, p, spec, loss, (t) => {
          const info = t.step();
          const after = t.params();
          expect(after.v).toEqual(p.v.map((V, k) => V.map((row, i) => row.map((x, j) => Math.fround(x - info.lr * (info.gradV[k][i][j] + 0.1 * x))))));
        }, { vWeightDecay: 0.1 });
        withTrainer(data, p, spec, loss, (t) => {
          const info = t.step();
          const after = t.params();
          const G = lossGrad64(weightsOf(p), data, c.kind, loss).grads;
          const S = gradScale64(weightsOf(p), data, loss, c.kind);
          // v⁺ = v − η∇_W L: the float32 ∇_W L within the bound of gradients.test.ts
          const implied = flat(after.v).map((x, i) => (flat(p.v)[i] - x) / info.lr);
          const ulp = flat(p.v).map((x) => (Math.abs(x) * 2 ** -23) / info.lr); // one rounding of v⁺
          expect(dist2(implied, flat(G))).toBeLessThanOrEqual(1e-4 * norm2(flat(G)) + 2e-6 * S + norm2(ulp));
        }, { unprojected: true });
      }),
      { numRuns: runs(10) },
    );
  });

  test('the network of (g, v) is the network of W: weightsOf(weightNormOf(W)) = W, the same loss', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { spec, data, p, loss } = build(c);
        const W = weightsOf(p);
        const back = weightsOf(weightNormOf(W));
        expect(dist2(flat(back), flat(W))).toBeLessThanOrEqual(1e-15 * norm2(flat(W)));
        const logL = withTrainer(data, p, spec, loss, (t) => {
          expect(dist2(flat(t.weights()), flat(W))).toBeLessThanOrEqual(1e-15 * norm2(flat(W)));
          return t.gradient().logLoss;
        });
        expect(Math.abs(logL - lossGrad64(W, data, c.kind, loss).logL)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(logL)));
      }),
      { numRuns: runs(10) },
    );
  });

  test('1000 steps hold a fixed set of tensors, and dispose frees them all', () => {
    const { spec, data, p, loss } = build({ kind: 'relu', depth: 2, width: 2, d: 2, N: 4, seed: 7, loss: 'logistic', reduction: 'mean', vScale: 1 });
    const start = tf.memory().numTensors;
    const t = new WeightNormTrainer(data, p, { model: spec, ...loss, lr: 0.05 });
    t.step();
    const held = tf.memory().numTensors;
    expect(held - start).toBe(1 + spec.depth); // X, and W_k per layer as the backend last saw it
    for (let s = 1; s < 1000; s++) t.step();
    t.gradient();
    t.weights();
    expect(tf.memory().numTensors).toBe(held);
    expect(t.stepCount).toBe(1000);
    t.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  test('bad input is an InputError: zero v_k, a non-positive step, g and v of different lengths, examples or layers that do not fit the network', () => {
    const { spec, data, p, loss } = build({ kind: 'deep-linear', depth: 2, width: 2, d: 2, N: 3, seed: 3, loss: 'exp', reduction: 'sum', vScale: 1 });
    const zero = { g: p.g, v: p.v.map((V, k) => (k === 0 ? V.map((row) => row.map(() => 0)) : V)) };
    expect(() => new WeightNormTrainer(data, zero, { model: spec, ...loss, lr: 0.1 })).toThrow(InputError);
    expect(() => new WeightNormTrainer(data, p, { model: spec, ...loss, lr: 0 })).toThrow(InputError);
    expect(() => new WeightNormTrainer(data, { g: p.g.slice(1), v: p.v }, { model: spec, ...loss, lr: 0.1 })).toThrow(InputError);
    // a CNN: examples of the wrong size, too few layers, a layer of the wrong shape
    const cnn: NetSpec = { kind: 'cnn', inShape: [3, 3, 1], channels: [2], kernel: 2, pool: 'none', poolSize: 2, padding: 'valid' };
    const images: Dataset = { X: [Array.from({ length: 9 }, (_, i) => i - 4)], y: [1] };
    const v: Weights = [[[1, -1, 2, -2], [3, -3, 4, -4]], [[1, 2, 3, 4, 5, 6, 7, 8]]]; // [2, 2, 1, 2] as 2 rows of 4; the head [1, 2, 2, 2]
    const ok = { g: [1, 1], v };
    expect(() => new WeightNormTrainer(images, ok, { model: cnn, ...loss, lr: 0.1 }).dispose()).not.toThrow();
    const messages: [Dataset, WeightNormParams, RegExp][] = [
      [{ X: [[1, 2, 3]], y: [1] }, ok, /every example must have 9 values \(the network takes \[3, 3, 1\]\)/],
      [images, { g: [1], v: v.slice(0, 1) }, /the network has 2 weight layers, 1 given/],
      [images, { g: [1, 1], v: [v[0].slice(1), v[1]] }, /v_0 must be 2 rows of 4 \(layer shape \[2, 2, 1, 2\]\)/],
    ];
    for (const [d, q, message] of messages) expect(() => new WeightNormTrainer(d, q, { model: cnn, ...loss, lr: 0.1 })).toThrow(message);
  });
});
