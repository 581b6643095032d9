/**
 * C5's linear check (src/checks.ts linearDirectionFailure): w(t) = ŵ log t + r* + e(t), with r*
 * from the SVM multipliers (src/svm.ts limitOffset) and ‖e‖ non-increasing within the support
 * vectors' span, up to one step's advance in log t at each end.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { linearDirectionFailure, limitLineFailure, limitResidual, offDirection, type LinearSnapshot, type SvmPrediction } from '../src/checks.js';
import { dot, logSumExp, rotated } from '../src/measure.js';
import { limitOffset, solveSymmetric } from '../src/svm.js';
import { linearGapData } from '../properties/common.js';
import { linearFlowRun } from '../properties/runs.js';

const FC = { seed: 20261203, numRuns: 20 };
const setArb = fc.record({ n: fc.integer({ min: 4, max: 10 }), d: fc.integer({ min: 2, max: 3 }), seed: fc.integer({ min: 0, max: 1e6 }) });
const signed = (X: number[][], y: number[]) => X.map((x, n) => x.map((v) => v * y[n]));
const truthOf = (svm: { w: number[]; gamma: number; alpha: number[] }): SvmPrediction => ({ direction: svm.w, gamma: svm.gamma, alpha: svm.alpha });

/**
 * Steps η = c/L on the mean (the flow schedule, c = η₀) or the sum exp loss (the real runs'
 * loss-based steps, c = α) in float64: w ← w + c·Σ softmax(−q)_n z_n, flow time Σ c/L; the
 * snapshot after each step.
 */
function lossScaledSteps64(Z: number[][], c: number, steps: number, reduction: 'mean' | 'sum'): LinearSnapshot[] {
  let w = new Array<number>(Z[0].length).fill(0);
  let logT = -Infinity;
  const out: LinearSnapshot[] = [];
  for (let k = 0; k < steps; k++) {
    const q = Z.map((z) => -dot(z, w));
    const lse = logSumExp(q);
    const logStep = Math.log(c) - (lse - (reduction === 'mean' ? Math.log(Z.length) : 0)); // log(c/L)
    const before = logT;
    logT = logT === -Infinity ? logStep : logSumExp([logT, logStep]);
    const g = new Array<number>(w.length).fill(0);
    Z.forEach((z, n) => z.forEach((v, i) => (g[i] += Math.exp(q[n] - lse) * v)));
    w = w.map((v, i) => v + c * g[i]);
    out.push({ w, step: k + 1, logT, stepLogT: logT - before });
  }
  return out;
}

/** A drawn set with its SVM, run from w = 0 by lossScaledSteps64 with c = `scale`/max‖x‖² for 4000 steps. */
function drawnRun(s: { n: number; d: number; seed: number }, scale: number, reduction: 'mean' | 'sum') {
  const { data, svm } = linearGapData(s);
  const Z = signed(data.X, data.y);
  const R2 = Math.max(...data.X.map((x) => dot(x, x)));
  return { Z, svm, truth: truthOf(svm), run: lossScaledSteps64(Z, scale / R2, 4000, reduction) };
}

/** The wrong theories: the SVM direction turned by ±0.05 rad, γ* off by ±2%. */
const wrongPredictions = (truth: SvmPrediction): SvmPrediction[] => [
  { ...truth, direction: rotated(truth.direction, 0.05) },
  { ...truth, direction: rotated(truth.direction, -0.05) },
  { ...truth, gamma: 1.02 * truth.gamma },
  { ...truth, gamma: 0.98 * truth.gamma },
];

describe('limitOffset: the offset of the limit line from the SVM multipliers', () => {
  test('on every support vector z_n·r* = −log(N α_n), and r* lies in their span', () => {
    fc.assert(
      fc.property(setArb, (s) => {
        const { data, svm } = linearGapData(s);
        const Z = signed(data.X, data.y);
        const r = limitOffset(Z, svm.alpha);
        for (const n of svm.support) expect(dot(Z[n], r)).toBeCloseTo(-Math.log(Z.length * svm.alpha[n]), 9);
        // in the span: what is left after subtracting its projection on the support vectors is 0
        const p = limitResidual(Z, { w: r, step: 0, logT: 0, stepLogT: 0 }, { ...truthOf(svm), direction: svm.w });
        expect(Math.hypot(...p.offSpan)).toBeLessThan(1e-9 * (1 + Math.hypot(...r)));
      }),
      FC,
    );
  });

  test('for the sum loss z_n·r* = −log α_n, and r*(mean) = r*(sum) − log N · ŵ (ŵ is in the span, z_n·ŵ = 1)', () => {
    fc.assert(
      fc.property(setArb, (s) => {
        const { data, svm } = linearGapData(s);
        const Z = signed(data.X, data.y);
        const sum = limitOffset(Z, svm.alpha, 'sum');
        for (const n of svm.support) expect(dot(Z[n], sum)).toBeCloseTo(-Math.log(svm.alpha[n]), 9);
        const mean = limitOffset(Z, svm.alpha);
        const shift = mean.map((v, i) => v - sum[i] + Math.log(Z.length) * svm.w[i]);
        expect(Math.hypot(...shift)).toBeLessThan(1e-9 * (1 + Math.hypot(...sum)));
      }),
      FC,
    );
  });

  test('the Cholesky solve: exact on a positive definite matrix, refused by name on a singular one', () => {
    const c = solveSymmetric([[4, 2], [2, 3]], [2, 5]);
    expect(c[0]).toBeCloseTo(-0.5, 12);
    expect(c[1]).toBeCloseTo(2, 12);
    expect(() => solveSymmetric([[1, 1], [1, 1]], [1, 1])).toThrow(/not positive definite/);
  });

  test('a set with no support vector is refused by name', () => {
    expect(() => limitOffset([[1, 0]], [0])).toThrow(/no support vector/);
  });
});

describe('linearDirectionFailure on the float64 flow schedule', () => {
  test('the truth passes at every (k, 2k) from k = 100 on; the direction turned by 0.05 rad or γ* off by 2% fails once the run is past 0.01 rad', () => {
    fc.assert(
      fc.property(setArb, (s) => {
        const { Z, svm, truth, run } = drawnRun(s, 1, 'mean');
        const margin = (w: number[]) => Math.min(...Z.map((z) => dot(z, w))) / Math.hypot(...w);
        for (const k of [100, 250, 500, 1000, 2000]) {
          expect(linearDirectionFailure(Z, run[k - 1], run[2 * k - 1], margin(run[2 * k - 1].w), truth), `k = ${k}`).toBeNull();
        }
        const [mid, end] = [run[1999], run[3999]];
        if (offDirection(end.w, svm.w) / Math.hypot(...end.w) < 0.01) {
          for (const wrong of wrongPredictions(truth)) {
            expect(linearDirectionFailure(Z, mid, end, margin(end.w), wrong)).not.toBeNull();
          }
        }
      }),
      { ...FC, numRuns: 12 },
    );
  });

  test('names the part that moved: off the limit line within the span, or off the span', () => {
    const Z = [[1, 0.5], [1, -0.5]]; // two support vectors spanning the plane
    const truth = truthOf({ w: [1, 0], gamma: 1, alpha: [0.5, 0.5] });
    const r = limitOffset(Z, truth.alpha);
    const at = (s: number, extra: number[]): LinearSnapshot => ({ w: [s + r[0] + extra[0], r[1] + extra[1]], step: s, logT: s, stepLogT: 0.01 });
    expect(linearDirectionFailure(Z, at(50, [0, 0]), at(100, [0, 0]), 1, truth)).toBeNull();
    expect(linearDirectionFailure(Z, at(50, [0, 0.5]), at(100, [0, 1]), 1, truth)).toMatch(/limit line/);
    const oneSv = truthOf({ w: [1, 0], gamma: 1, alpha: [1, 0] });
    const Z1 = [[1, 0], [2, 3]]; // one support vector; the other point at margin 2
    const r1 = limitOffset(Z1, oneSv.alpha);
    const at1 = (s: number, off: number): LinearSnapshot => ({ w: [s + r1[0], off], step: s, logT: s, stepLogT: 0.01 });
    expect(linearDirectionFailure(Z1, at1(50, 0.2), at1(100, 0.2), 1, oneSv)).toBeNull();
    expect(linearDirectionFailure(Z1, at1(50, 0.2), at1(100, 0.7), 1, oneSv)).toMatch(/off the support vectors' span/);
  });
});

describe('limitLineFailure on the loss-based steps of the real runs (sum loss, α = 1.9/max‖x‖²), in float64', () => {
  test('the truth passes at every (k, 2k) from k = 100 on; the direction turned by ±0.05 rad or γ* off by 2% fails once the run is past 0.01 rad', () => {
    let judged = 0;
    fc.assert(
      fc.property(setArb, (s) => {
        const { Z, svm, truth, run } = drawnRun(s, 1.9, 'sum');
        for (const k of [100, 250, 500, 1000, 2000]) expect(limitLineFailure(Z, run[k - 1], run[2 * k - 1], truth, 'sum'), `k = ${k}`).toBeNull();
        const [mid, end] = [run[1999], run[3999]];
        if (offDirection(end.w, svm.w) / Math.hypot(...end.w) < 0.01) {
          judged++;
          for (const wrong of wrongPredictions(truth)) {
            expect(limitLineFailure(Z, mid, end, wrong, 'sum')).not.toBeNull();
          }
        }
      }),
      { ...FC, numRuns: 12 },
    );
    expect(judged).toBeGreaterThan(0);
  });
});

describe('the set whose residual relaxes on a scale of ~1000 in log t', () => {
  test('the core\'s flow run passes the limit-line check, though ‖P_⊥w‖ grows 1.78× from mid-run to the end (the old 1.35× settle factor failed it)', () => {
    // {"n":5,"d":3,"seed":909550}: 3 support vectors spanning the space, multipliers 0.074/0.66/0.45
    const s = { n: 5, d: 3, seed: 909550 };
    const r = linearFlowRun(s);
    expect(offDirection(r.end.w, r.truth.direction) / offDirection(r.mid.w, r.truth.direction)).toBeGreaterThan(1.35);
    expect(linearDirectionFailure(r.Z, r.mid, r.end, r.margin, r.truth)).toBeNull();
  });
});
