/**
 * The training gradient (tfjs autodiff in float32, Trainer.gradient) against a float64 hand-written
 * backprop, against float64 central differences, and against the exact flow identities C1 of
 * THEORY.md (exp sum loss, any weights).
 *
 * Tolerances. Weights and data are rounded to float32 first, so the float64 references see the very
 * numbers tfjs sees and only arithmetic rounding separates them. A float32 sum of m terms is off by
 * at most m·u·Σ|terms| (u = 2^-24 ≈ 6e-8, Higham); here m ≲ N + d + K·width + 10 ≤ 30, so
 * ‖g32 − g64‖ ≤ 30u·S ≈ 2e-6·S, S = gradScale64 (the same gradient with every term in absolute
 * value). Trainer.gradient also multiplies ∇log L by e^{log L}, off by ≈ u·|log L| ≤ 1e-6 relative
 * here. The bound used is 1e-4·‖g64‖ + 2e-6·S: 1e-4 relative (50× the rounding when the terms do
 * not cancel) plus the cancellation term. Measured over 3000 random cases: ≤ 4e-5 relative in the
 * worst (cancelling) case, ~1e-7 typically. A wrong sign, factor or layer order is off by O(‖g‖).
 * Central differences with step h = 1e-6·max(1,|w|) have truncation O(h²) and rounding
 * ≈ 1e-16·L/h: the float64 backprop agrees with them to 1e-6 relative (measured ≤ 5e-7 when the
 * gradient cancels; precondition: no ReLU pre-activation within 1e-3 of its kink).
 */
import { describe, test, expect } from 'vitest';
import fc from 'fast-check';
import type { Dataset } from '../src/data.js';
import type { LossKind, Reduction } from '../src/loss.js';
import { outputs } from '../src/measure.js';
import { initWeights, modelSpec, type ModelKind, type ModelSpec, type Weights } from '../src/model.js';
import { stream } from '../src/rng.js';
import { Trainer } from '../src/train.js';
import {
  dist2, finiteDiffGrad64, flat, fround, gradScale64, kinkDistance, lossGrad64, norm2, outputGrad64, runs,
} from './reference64.js';

interface Case {
  kind: ModelKind;
  depth: number;
  width: number;
  d: number;
  N: number;
  seed: number;
  loss: LossKind;
  reduction: Reduction;
}

const caseArb = (losses: LossKind[] = ['exp', 'logistic', 'squared'], reductions: Reduction[] = ['sum', 'mean']) =>
  fc.record({
    kind: fc.constantFrom<ModelKind>('linear', 'deep-linear', 'relu'),
    depth: fc.integer({ min: 2, max: 3 }), // ignored for linear (K = 1)
    width: fc.integer({ min: 1, max: 4 }),
    d: fc.integer({ min: 1, max: 4 }),
    N: fc.integer({ min: 1, max: 8 }),
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    loss: fc.constantFrom(...losses),
    reduction: fc.constantFrom(...reductions),
  });

/** Gaussian points with random labels and Gaussian weights, all rounded to float32. */
function build(c: Case): { spec: ModelSpec; data: Dataset; W: Weights } {
  const spec = modelSpec(c.kind, c.depth, c.width);
  const rd = stream(c.seed, 'data');
  const X = Array.from({ length: c.N }, () => Array.from({ length: c.d }, () => Math.fround(rd.gaussian())));
  const y = X.map(() => (rd.uniform() < 0.5 ? -1 : 1));
  const W = fround(initWeights(spec, c.d, 'gaussian', 1, stream(c.seed, 'init')));
  return { spec, data: { X, y }, W };
}

/** ∇L and log L from the trainer (tfjs, float32), as float64 numbers. */
function tfjsGradient(spec: ModelSpec, data: Dataset, W: Weights, loss: LossKind, reduction: Reduction): { grads: Weights; logLoss: number } {
  const t = new Trainer(data, W, { model: spec, loss, reduction, schedule: 'constant', lr: 1 });
  try {
    return t.gradient();
  } finally {
    t.dispose();
  }
}

const inner = (a: number[][], b: number[][]) => a.reduce((s, row, i) => s + row.reduce((t, v, j) => t + v * b[i][j], 0), 0);
const frob = (a: number[][]) => Math.sqrt(inner(a, a));

describe('gradients: tfjs autodiff against float64', () => {
  test('Trainer.gradient() equals the float64 backprop (≤ 1e-4·‖g‖ + 2e-6·S)', () => {
    fc.assert(
      fc.property(caseArb(), (c) => {
        const { spec, data, W } = build(c);
        const t32 = tfjsGradient(spec, data, W, c.loss, c.reduction);
        const g32 = flat(t32.grads);
        const ref = lossGrad64(W, data, c.kind, c);
        const g64 = flat(ref.grads);
        const S = gradScale64(W, data, c, c.kind);
        expect(g32.length).toBe(g64.length);
        expect(dist2(g32, g64)).toBeLessThanOrEqual(1e-4 * norm2(g64) + 2e-6 * S);
        // the log L the trainer reports (margins are O(1) here, so ≈ 30u absolute error)
        expect(Math.abs(t32.logLoss - ref.logL)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(ref.logL)));
      }),
      { numRuns: runs(80) },
    );
  });

  test('float64 backprop equals central differences (≤ 1e-6 relative), and so does tfjs (≤ 1e-4)', () => {
    let checked = 0;
    let skipped = 0;
    fc.assert(
      fc.property(caseArb(), (c) => {
        const { spec, data, W } = build(c);
        const farFromKinks = c.kind !== 'relu' || kinkDistance(W, data.X) > 1e-3;
        if (!farFromKinks) skipped++;
        fc.pre(farFromKinks);
        checked++;
        const fd = flat(finiteDiffGrad64(W, data, c.kind, c));
        const ref = lossGrad64(W, data, c.kind, c);
        const g64 = flat(ref.grads);
        const S = gradScale64(W, data, c, c.kind);
        // central-difference rounding ≈ 1e-16·L/h = 1e-10·L per entry
        const fdNoise = 1e-9 * ref.L * Math.sqrt(g64.length);
        expect(dist2(g64, fd)).toBeLessThanOrEqual(1e-6 * norm2(g64) + fdNoise);
        const g32 = flat(tfjsGradient(spec, data, W, c.loss, c.reduction).grads);
        expect(dist2(g32, fd)).toBeLessThanOrEqual(1e-4 * norm2(fd) + 2e-6 * S + fdNoise);
      }),
      { numRuns: runs(60) },
    );
    expect(skipped).toBeLessThanOrEqual(0.1 * checked); // the kink precondition rarely skips
  });

  test('the gradient depends on the reduction exactly by 1/N', () => {
    fc.assert(
      fc.property(caseArb(['exp', 'logistic', 'squared'], ['sum']), (c) => {
        fc.pre(c.N >= 2);
        const { spec, data, W } = build(c);
        const gSum = flat(tfjsGradient(spec, data, W, c.loss, 'sum').grads);
        const gMean = flat(tfjsGradient(spec, data, W, c.loss, 'mean').grads);
        fc.pre(norm2(gSum) > 0); // an all-dead ReLU net has no gradient at all
        expect(dist2(gMean.map((v) => v * c.N), gSum)).toBeLessThanOrEqual(1e-5 * norm2(gSum) + 1e-6 * gradScale64(W, data, c, c.kind));
        expect(dist2(gMean, gSum)).toBeGreaterThan(0.1 * norm2(gSum)); // and it is not ignored
      }),
      { numRuns: runs(20) },
    );
  });
});

describe('C1: exact flow identities of the exp sum loss, from the tfjs gradient', () => {
  const exp = caseArb(['exp'], ['sum']);

  test('C1: ⟨W_k, G_k⟩ = −Σ e^{−q_n} q_n for every layer k, so ρ̇_k = (ρ/ρ_k) Σ e^{−ρ f_n} f_n', () => {
    fc.assert(
      fc.property(exp, (c) => {
        const { spec, data, W } = build(c);
        const G32 = tfjsGradient(spec, data, W, 'exp', 'sum').grads;
        const ref = lossGrad64(W, data, c.kind, c);
        const S = gradScale64(W, data, c, c.kind);
        const closed = -ref.q.reduce((s, q) => s + Math.exp(-q) * q, 0);
        const scaleQ = ref.q.reduce((s, q) => s + Math.exp(-q) * Math.abs(q), 0);
        // normalized factorization W_k = ρ_k V_k, f_n = y_n f(V; x_n) from the float64 forward pass
        const rhoK = W.map(frob);
        const rho = rhoK.reduce((p, r) => p * r, 1);
        const V = W.map((M, k) => M.map((row) => row.map((v) => v / rhoK[k])));
        const fN = outputs(V, data.X, c.kind).map((f, n) => data.y[n] * f);
        const rhoDotTheory = (k: number) => (rho / rhoK[k]) * fN.reduce((s, f) => s + Math.exp(-rho * f) * f, 0);
        W.forEach((Wk, k) => {
          // float64 backprop: exact up to a few ulps of the summed terms
          expect(Math.abs(inner(Wk, ref.grads[k]) - closed)).toBeLessThanOrEqual(1e-12 * (scaleQ + rhoK[k] * S));
          // tfjs: |⟨W_k, ΔG_k⟩| ≤ ‖W_k‖·‖ΔG‖ (Cauchy–Schwarz) with the gradient bound of this file
          const tol = rhoK[k] * (1e-4 * norm2(flat(ref.grads)) + 2e-6 * S);
          expect(Math.abs(inner(Wk, G32[k]) - closed)).toBeLessThanOrEqual(tol);
          // ρ̇_k = ⟨W_k, Ẇ_k⟩/ρ_k = −⟨W_k, G_k⟩/ρ_k
          expect(Math.abs(-inner(Wk, G32[k]) / rhoK[k] - rhoDotTheory(k))).toBeLessThanOrEqual(tol / rhoK[k] + 1e-12 * scaleQ / rhoK[k]);
        });
      }),
      { numRuns: runs(60) },
    );
  });

  test('C1: tangential velocity −(G_k − ⟨G_k,V_k⟩V_k)/ρ_k = (ρ/ρ_k²) Σ e^{−q_n}(∂f_n/∂V_k − f_n V_k)', () => {
    fc.assert(
      fc.property(exp, (c) => {
        const { spec, data, W } = build(c);
        const G32 = tfjsGradient(spec, data, W, 'exp', 'sum').grads;
        const ref = lossGrad64(W, data, c.kind, c);
        const S = gradScale64(W, data, c, c.kind);
        const rhoK = W.map(frob);
        const rho = rhoK.reduce((p, r) => p * r, 1);
        const V = W.map((M, k) => M.map((row) => row.map((v) => v / rhoK[k])));
        // ∂f_n/∂V_k and f_n at the normalized weights, float64 backprop
        const atV = data.X.map((x, n) => {
          const { f, grads } = outputGrad64(V, x, c.kind);
          return { f: data.y[n] * f, grads: grads.map((M) => M.map((row) => row.map((g) => data.y[n] * g))) };
        });
        const q = atV.map((p) => rho * p.f);
        W.forEach((_, k) => {
          const Vk = flat([V[k]]);
          const theory = Vk.map(() => 0);
          atV.forEach((p, n) => {
            const dfk = flat([p.grads[k]]);
            theory.forEach((_, i) => (theory[i] += (rho / rhoK[k] ** 2) * Math.exp(-q[n]) * (dfk[i] - p.f * Vk[i])));
          });
          const tangential = (G: number[]) => {
            const radial = G.reduce((s, g, i) => s + g * Vk[i], 0);
            return G.map((g, i) => -(g - radial * Vk[i]) / rhoK[k]);
          };
          const Gk64 = flat([ref.grads[k]]);
          // float64: exact up to rounding relative to ‖G_k‖/ρ_k
          expect(dist2(tangential(Gk64), theory)).toBeLessThanOrEqual(1e-10 * (norm2(Gk64) + S) / rhoK[k]);
          // tfjs: the projection I − V_k V_kᵀ has norm 1, so the error is ≤ ‖ΔG_k‖/ρ_k
          const tol = (1e-4 * norm2(flat(ref.grads)) + 2e-6 * S) / rhoK[k];
          expect(dist2(tangential(flat([G32[k]])), theory)).toBeLessThanOrEqual(tol);
        });
      }),
      { numRuns: runs(60) },
    );
  });
});
