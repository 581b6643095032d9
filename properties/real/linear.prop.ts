/**
 * C3 and C5 for the linear model on real images (Fashion-MNIST class pairs, properties/real/):
 * with the exp loss and loss-based steps (α = 1.9/max‖x‖², below the descent bound 2/max‖x‖² of
 * src/schedule.ts) from w = 0, w(t) = ŵ log t + r(t) with ŵ the hard-margin SVM (margin 1, so
 * ‖ŵ‖ = 1/γ*) from the quadprog oracle (src/svm.ts) on the same images.
 *
 *   R-C3  the slope of ‖w‖ in log t over a window tends to 1/γ*: its relative error over the last
 *         quarter of the run (in log t) is below that over the second quarter (it falls) and,
 *         with r bounded, O(1/log t): asserted ≤ 2/log t_end.
 *   R-C5  the angle to the SVM falls (the end's ≤ 0.6 × the angle at the first record with L < 1)
 *         and is ≤ 0.05 at the end of the budget (the issue's target; the budgets below were
 *         measured to reach it: 1,8 at log t ≈ 45, 5,7 at log t ≈ 60).
 * Negative controls: the squared loss (constant steps; loss-based needs an exponential loss)
 * converges to the minimum-norm solution w* of Zw = 1 (z_n = y_n x_n; N < d, so it exists), and
 * GD from 0 with η < 1/λ_max moves each eigen-component of w monotonically towards w*'s, so
 * ‖w_t‖ ≤ ‖w*‖ at every step: ‖w‖ cannot grow like log t/γ* (the slope in log t still rises at
 * the end of the budget, 0.37 → 0.55 of 1/γ* — ZᵀZ is ill-conditioned — so no slope is asserted);
 * 5 of the 100 images added again with the opposite label make the pair non-separable: the oracle refuses it and the
 * smallest margin stays negative (no max-margin direction to converge to).
 */
import { describe, expect, test } from 'vitest';
import { withLabelNoise, type Dataset } from '../../src/data.js';
import { angle } from '../../src/measure.js';
import { modelSpec } from '../../src/model.js';
import { stream } from '../../src/rng.js';
import { maxMarginSvm, NotSeparableError } from '../../src/svm.js';
import { train, type TrainRecord } from '../../src/train.js';
import { geometricSteps, lambdaMax } from '../common.js';
import { reportFigure, reportTrajectory } from '../store.js';
import { lineFit } from '../../src/checks.js';
import { fashionPair, isReal, PAIR_NAMES, progress } from './real-data.js';

const linear = modelSpec('linear');

function maxRowNormSq(X: number[][]): number {
  return Math.max(...X.map((x) => x.reduce((s, v) => s + v * v, 0)));
}

function linearRun(data: Dataset, steps: number, svmW: number[] | null, label: string, loss: 'exp' | 'squared' = 'exp') {
  // squared: the sum loss Σ(1 − q_n)² has Hessian 2ZᵀZ, so η = 1/(2N λ_max(ZᵀZ/N)) descends
  const lr = loss === 'exp' ? 1.9 / maxRowNormSq(data.X) : 1 / (2 * data.X.length * lambdaMax(data));
  const ws: number[] = [];
  const { records } = train(data, [[new Array(data.X[0].length).fill(0)]], { model: linear, loss, reduction: 'sum', schedule: loss === 'exp' ? 'loss-based' : 'constant', lr }, {
    steps,
    record: geometricSteps(steps, 1.05),
    annotate: (w, rec) => {
      ws.push(Math.hypot(...w[0][0]));
      if (svmW) rec.angleToSvm = angle(w[0][0], svmW);
    },
    onStep: progress(label, steps),
  });
  return { records, norms: ws };
}

/** ‖w*‖ for w* = Zᵀ(ZZᵀ)⁻¹1, the minimum-norm solution of y_n x_n·w = 1 (Cholesky of ZZᵀ, float64). */
function minNormInterpolantNorm(data: Dataset): number {
  const Z = data.X.map((x, n) => x.map((v) => v * data.y[n]));
  const N = Z.length;
  const G = Z.map((a) => Z.map((b) => a.reduce((s, v, i) => s + v * b[i], 0)));
  const L = G.map(() => new Array<number>(N).fill(0));
  for (let i = 0; i < N; i++) {
    for (let j = 0; j <= i; j++) {
      let s = G[i][j];
      for (let k = 0; k < j; k++) s -= L[i][k] * L[j][k];
      L[i][j] = i === j ? Math.sqrt(s) : s / L[j][j];
    }
  }
  // ‖w*‖² = 1ᵀ(ZZᵀ)⁻¹1 = ‖L⁻¹1‖²
  const u = new Array<number>(N).fill(0);
  for (let i = 0; i < N; i++) {
    let s = 1;
    for (let k = 0; k < i; k++) s -= L[i][k] * u[k];
    u[i] = s / L[i][i];
  }
  return Math.sqrt(u.reduce((s, v) => s + v * v, 0));
}

/** Relative error of the slope of ‖w‖ in log t against 1/γ* over the records with log t in [lo, hi]. */
function slopeError(records: TrainRecord[], norms: number[], lo: number, hi: number, gamma: number): number {
  const idx = records.map((r, i) => i).filter((i) => records[i].logFlowTime >= lo && records[i].logFlowTime <= hi);
  return Math.abs(lineFit(idx.map((i) => records[i].logFlowTime), idx.map((i) => norms[i])).slope * gamma - 1);
}

function checkLinear(a: number, b: number, n: number, steps: number) {
  const pair = `${a},${b}`;
  const data = fashionPair(a, b, n);
  const svm = maxMarginSvm(data.X, data.y);
  const { records, norms } = linearRun(data, steps, svm.w, `linear ${pair} 2×${n}`);
  const id = `R-C3-linear-${a}-${b}`;
  reportTrajectory(id, records, { gammaStar: svm.gamma });
  reportTrajectory(`R-C5-linear-${a}-${b}`, records, { gammaStar: svm.gamma });
  const end = records.at(-1)!;
  const T = end.logFlowTime;
  const early = slopeError(records, norms, T / 4, T / 2, svm.gamma);
  const late = slopeError(records, norms, (3 * T) / 4, T, svm.gamma);
  const fit = records.findIndex((r) => r.minMargin > 0);
  const angles = records.map((r) => r.angleToSvm as number);
  console.log(`real linear ${pair} (${PAIR_NAMES[pair]}) 2×${n}: γ* ${svm.gamma.toPrecision(4)} (${svm.support.length} support vectors), log t ${T.toFixed(1)}, slope error ${early.toExponential(2)} → ${late.toExponential(2)}, angle ${angles[fit].toFixed(3)} at the fit → ${angles.at(-1)!.toFixed(4)}`);
  reportFigure({ name: `linear ${pair} 2×${n}: relative error of the slope of ‖w‖ in log t against 1/γ*, late quarter`, value: late, predicted: `falls (second quarter ${early.toExponential(2)}), ≤ 2/log t = ${(2 / T).toExponential(2)}` });
  reportFigure({ name: `linear ${pair} 2×${n}: final angle to the SVM`, value: angles.at(-1)!, predicted: '≤ 0.05', unit: 'rad' });
  return { early, late, T, fitAngle: angles[fit], endAngle: angles.at(-1)! };
}

describe('real data, linear model', () => {
  test('R: C3 C5 linear fast slice, trouser/bag (1,8), 2×50 images: slope of ‖w‖ → 1/γ*, angle to the SVM ≤ 0.05', () => {
    const r = checkLinear(1, 8, 50, 12_000);
    expect(r.late).toBeLessThan(r.early);
    expect(r.late).toBeLessThanOrEqual(2 / r.T);
    expect(r.endAngle).toBeLessThanOrEqual(0.6 * r.fitAngle);
    expect(r.endAngle).toBeLessThanOrEqual(0.05);
  });

  for (const [a, b, n, steps] of [[1, 8, 250, 15_000], [5, 7, 250, 150_000]] as const) {
    test.runIf(isReal())(`R: C3 C5 linear, ${PAIR_NAMES[`${a},${b}`]} (${a},${b}), 2×${n} images: slope of ‖w‖ in log t → 1/γ*, angle to the exact SVM ≤ 0.05`, () => {
      const r = checkLinear(a, b, n, steps);
      expect(r.late).toBeLessThan(r.early);
      expect(r.late).toBeLessThanOrEqual(2 / r.T);
      expect(r.endAngle).toBeLessThanOrEqual(0.6 * r.fitAngle);
      expect(r.endAngle).toBeLessThanOrEqual(0.05);
    }, 600_000);
  }

  test.runIf(isReal())('N-R: C3 linear, squared loss, trouser/bag (1,8), 2×250: ‖w‖ stays below the least-squares norm, so it cannot grow like log t/γ*', () => {
    const data = fashionPair(1, 8, 250);
    const { records, norms } = linearRun(data, 15_000, null, 'linear squared 1,8', 'squared');
    const bound = minNormInterpolantNorm(data);
    const worst = Math.max(...norms);
    console.log(`real linear squared 1,8: largest ‖w‖ ${worst.toPrecision(4)} ≤ ‖w*‖ = ${bound.toPrecision(4)} (the least-squares limit) at log t ${records.at(-1)!.logFlowTime.toFixed(2)}; the exp-loss run reaches ‖w‖ ≈ 67 at log t 74`);
    expect(worst).toBeLessThanOrEqual(bound * (1 + 1e-4));
    expect(Number.isFinite(bound)).toBe(true);
  }, 600_000);

  test('N-R: C5 linear, 5 images repeated with the opposite label: trouser/bag (1,8), 2×50: no SVM exists and the smallest margin stays negative', () => {
    const clean = fashionPair(1, 8, 50);
    const data = withLabelNoise(clean, stream(1, 'noise'), 5);
    expect(() => maxMarginSvm(data.X, data.y)).toThrow(NotSeparableError);
    const { records } = linearRun(data, 3000, null, 'linear 1,8 noisy');
    expect(records.at(-1)!.minMargin).toBeLessThan(0);
  });
});
