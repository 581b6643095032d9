/**
 * C5 (linear and deep linear) — the normalized weights approach the minimum-norm (max-margin)
 * solution (Soudry et al. 2018; Ji & Telgarsky 2019 for deep linear nets; docs/THEORY.md C5).
 *
 * Linear, constant step: w(t) = ŵ log t + r(t) with r(t) converging, so the angle to ŵ is
 * O(1/log t) (sin angle ≤ ‖r(t)‖/‖w(t)‖). The angle itself is not monotone in a finite run (a
 * float64 scan of 450 sets saw it grow between t = 30 and 3000 in 5% of them while r settled),
 * so the check is that r(t) = w(t) − ŵ log t settles: it moves less over the last decade of t than
 * over the decade before (ratio ≤ RESIDUAL_SETTLE = 0.95; log-t drift of the direction gives ≥ 1).
 * Linear, flow-following schedule: the same path in far fewer steps — the flow run (η₀ =
 * 1/max‖x‖²) reaches the angle that 100,000 plain GD steps reach (η = 1/λ_max) within 2,000 steps
 * (≥ 50× fewer). The advantage grows with the baseline's length (flow steps advance log t at a
 * steady rate, plain GD steps at a rate 1/t): against a 1e5-step baseline it was 81× and 50× on the
 * two slowest sets seen (n = 7 and 8 in 2-d, γ* ≈ 0.18), ≥ 100× on most; the 100× of a 1e6-step
 * baseline costs ~1 s of float64 GD per case plus thousands of flow steps, beyond this budget.
 * The 100,000-step baseline is a float64 plain-GD loop in this file (the command-line test pins
 * the core's constant-step run to the same loop within 1e-4 at 10,000 steps).
 * Deep linear, flow schedule: the end-to-end predictor W_K⋯W_1 turns to the SVM direction (its
 * angle shrinks after L < 1 — by ≥ 5%, unless already below 0.01: the approach is slow, e.g. 0.56 →
 * 0.12 while log t went 2 → 81, and 0.163 → 0.150 in the slowest case seen), each
 * layer becomes rank one (stable rank ‖W‖_F²/‖W‖_2² < 1.1 at the end; a random layer has 1.5–3)
 * and adjacent layers align (|v_{i+1}·u_i| > 0.95 for the top singular vectors).
 *
 * Negative control: the squared loss converges to the least-squares direction, not the SVM
 * (with N ≥ d + 2, where the two differ).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Dataset } from '../src/data.js';
import type { LossKind } from '../src/loss.js';
import { angle, endToEnd } from '../src/measure.js';
import { initWeights, modelSpec, type Weights } from '../src/model.js';
import { stream } from '../src/rng.js';
import { train, Trainer } from '../src/train.js';
import { reportTrajectory } from './store.js';
import { fittedIndex, geometricSteps, gridReal, lambdaMax, linearGapArb, linearGapData, maxRowNormSq, runs } from './common.js';

const T = 3000;
/** r(t) moves less over the last decade than the one before; a set whose SVM multipliers differ 10× (data seed 18) gave 0.874. A direction drifting like log t gives ≥ 1. */
const RESIDUAL_SETTLE = 0.95;
/** A flake audit over fresh seeds found 0.163 → 0.150 (n = 7, width 2) in 1000 steps: slow, not wrong. */
const DEEP_SHRINK = 0.95;

/** Plain GD on the mean exp loss in float64 from w = 0: the baseline a user would run. */
function plainGd64(data: Dataset, eta: number, steps: number): number[] {
  const Z = data.X.map((x, n) => x.map((v) => v * data.y[n]));
  const N = Z.length;
  let w = new Array<number>(Z[0].length).fill(0);
  for (let k = 0; k < steps; k++) {
    const g = new Array<number>(w.length).fill(0);
    for (const z of Z) {
      const e = Math.exp(-z.reduce((s, v, i) => s + v * w[i], 0)) / N;
      z.forEach((v, i) => (g[i] -= e * v));
    }
    w = w.map((v, i) => v - eta * g[i]);
  }
  return w;
}

describe('C5: a linear model turns to the SVM direction', () => {
  test('C5: constant-step GD: r(t) = w(t) − ŵ log t settles, so the angle to the SVM is O(1/log t)', () => {
    fc.assert(
      fc.property(linearGapArb, (s) => {
        const { data, svm } = linearGapData(s);
        const eta = 1 / lambdaMax(data);
        const ws: number[][] = [];
        const { records } = train(data, [[new Array(s.d).fill(0)]], { model: modelSpec('linear'), loss: 'exp', reduction: 'mean', schedule: 'constant', lr: eta }, {
          steps: T, record: [...geometricSteps(T, 1.5), T / 100, T / 10], annotate: (w, rec) => { ws.push(w[0][0]); rec.angleToSvm = angle(w[0][0], svm.w); },
        });
        reportTrajectory('C5', records, { gammaStar: svm.gamma });
        const wHat = svm.w.map((v) => v); // ŵ: the SVM with margin 1, so w ≈ ŵ log t
        const at = (step: number) => records.findIndex((x) => x.step === step);
        const r = [T / 100, T / 10, T].map(at).map((i) => ws[i].map((v, j) => v - wHat[j] * records[i].logFlowTime));
        const dist = (a: number[], b: number[]) => Math.hypot(...a.map((v, j) => v - b[j]));
        expect(dist(r[2], r[1]) / dist(r[1], r[0]), 'movement of r over the last decade / the decade before').toBeLessThanOrEqual(RESIDUAL_SETTLE);
      }),
      { numRuns: runs(3) },
    );
  });

  test('C5: the flow-following schedule reaches the angle of 100,000 plain GD steps in at most 2,000 steps', () => {
    fc.assert(
      fc.property(linearGapArb, (s) => {
        const { data, svm } = linearGapData(s);
        const target = angle(plainGd64(data, 1 / lambdaMax(data), 100_000), svm.w);
        const trainer = new Trainer(data, [[new Array(s.d).fill(0)]], { model: modelSpec('linear'), loss: 'exp', reduction: 'mean', schedule: 'flow', lr: 1 / maxRowNormSq(data.X) });
        try {
          while (trainer.stepCount < 2000 && angle(trainer.weights()[0][0], svm.w) > target) trainer.step();
          expect(angle(trainer.weights()[0][0], svm.w), `angle of 1e5 GD steps, ${target}, not reached in 2000 flow steps`).toBeLessThanOrEqual(target);
        } finally {
          trainer.dispose();
        }
      }),
      { numRuns: runs(3) },
    );
  });
});

/** Stable rank ‖W‖_F²/‖W‖_2² and top singular vectors (power iteration on WᵀW). */
function topSingular(W: number[][]): { stableRank: number; u: number[]; v: number[] } {
  let v = W[0].map((_, j) => 1 / Math.sqrt(W[0].length) + 1e-3 * j);
  let s = 0;
  for (let it = 0; it < 300; it++) {
    const Wv = W.map((row) => row.reduce((a, b, j) => a + b * v[j], 0));
    const WtWv = v.map((_, j) => W.reduce((a, row, i) => a + row[j] * Wv[i], 0));
    const n = Math.hypot(...WtWv);
    if (n === 0) break;
    v = WtWv.map((x) => x / n);
    s = Math.sqrt(n);
  }
  const Wv = W.map((row) => row.reduce((a, b, j) => a + b * v[j], 0));
  const u = Wv.map((x) => x / Math.hypot(...Wv));
  const fro = W.reduce((a, row) => a + row.reduce((b, x) => b + x * x, 0), 0);
  return { stableRank: fro / (s * s), u, v };
}

const deepCaseArb = fc.record({
  data: linearGapArb,
  depth: fc.integer({ min: 2, max: 3 }),
  width: fc.integer({ min: 2, max: 4 }),
  initScale: gridReal(0.5, 1),
  lrScale: gridReal(0.4, 0.8),
});

function deepRun(c: typeof deepCaseArb extends fc.Arbitrary<infer T> ? T : never, loss: LossKind = 'exp') {
  const { data, svm } = linearGapData(c.data);
  const spec = modelSpec('deep-linear', c.depth, c.width);
  const init = initWeights(spec, c.data.d, 'gaussian', c.initScale, stream(c.data.seed, 'init'));
  let last: Weights = init;
  const angles: number[] = [];
  const { records } = train(data, init, {
    model: spec, loss, reduction: 'mean', schedule: loss === 'squared' ? 'constant' : 'flow', lr: c.lrScale / maxRowNormSq(data.X),
  }, { steps: 1000, record: geometricSteps(1000, 1.3), annotate: (w) => { last = w; angles.push(angle(endToEnd(w), svm.w)); } });
  return { records, last, data, angles };
}

describe('C5: a deep linear network turns to the SVM direction and its layers align', () => {
  test('C5: deep linear, flow schedule: end-to-end direction → SVM, every layer rank one, adjacent layers aligned', () => {
    let fitted = 0;
    fc.assert(
      fc.property(deepCaseArb, (c) => {
        const { records, last, data, angles } = deepRun(c);
        const f = fittedIndex(records, data.X.length, 'mean', 'exp');
        if (f < 0) return;
        fitted++;
        // The approach is slow (slower than 1/log t here): the angle shrinks by DEEP_SHRINK after
        // L < 1, unless it was already below 0.01.
        expect(angles.at(-1)!, 'angle of W_K⋯W_1 to the SVM at the end').toBeLessThanOrEqual(Math.max(DEEP_SHRINK * angles[f], 0.01));
        const tops = last.map(topSingular);
        for (const [k, t] of tops.entries()) expect(t.stableRank, `stable rank of layer ${k}`).toBeLessThan(1.1);
        for (let k = 0; k + 1 < tops.length; k++) {
          expect(Math.abs(tops[k + 1].v.reduce((s, x, i) => s + x * tops[k].u[i], 0)), `alignment of layers ${k}, ${k + 1}`).toBeGreaterThan(0.95);
        }
      }),
      { numRuns: runs(4) },
    );
    expect(fitted).toBeGreaterThan(0);
  });
});

describe('N-C5: the squared loss does not approach the SVM', () => {
  test('N-C5: a linear model trained with the squared loss ends away from the SVM direction', () => {
    const result = fc.check(
      fc.property(fc.record({ n: fc.integer({ min: 6, max: 12 }), d: fc.integer({ min: 2, max: 3 }), seed: linearGapArb.map((s) => s.seed) }), (s) => {
        const { data, svm } = linearGapData(s);
        const { weights } = train(data, [[new Array(s.d).fill(0)]], { model: modelSpec('linear'), loss: 'squared', reduction: 'mean', schedule: 'constant', lr: 0.5 / lambdaMax(data) }, { steps: 500 });
        return angle(weights[0][0], svm.w) < 0.05;
      }),
      { numRuns: runs(6) },
    );
    expect(result.failed).toBe(true);
    const c = result.counterexample![0];
    expect(c.n * c.d).toBeLessThanOrEqual(6 * 3);
  });
});
