/**
 * C3 and C5 for the linear model on real images (Fashion-MNIST class pairs, properties/real/):
 * with the exp loss and loss-based steps (α = 1.9/max‖x‖², below the descent bound 2/max‖x‖² of
 * src/schedule.ts) from w = 0, w(t) = ŵ log t + r(t) with ŵ the hard-margin SVM (margin 1, so
 * ‖ŵ‖ = 1/γ*) from the quadprog oracle (src/svm.ts) on the same images. The run, the oracle and the
 * checks are src/real/linear-job.ts and src/checks.ts (linearSlopeFailure, linearAngleFailure),
 * shared with `theory3 replay`.
 *
 *   R-C3  the slope of ‖w‖ in log t over a window tends to 1/γ*: its relative error over the last
 *         quarter of the run (in log t) is below that over the second quarter (it falls) and,
 *         with r bounded, O(1/log t): asserted ≤ 2/log t_end.
 *   R-C5  w does not move away from the SVM's limit line ŵ log t + r* (r* from the SVM multipliers,
 *         z_n·r* = −log α_n on the support vectors for the sum loss) from half the final log t to
 *         the end, within ‖ŵ‖ × the log-t advance of the step into each of the two records and
 *         float32 rounding (the derived check of the synthetic runs, src/checks.ts
 *         limitLineFailure; for these discrete steps see linearAngleFailure): w − ŵ log t stays
 *         bounded, so the angle is O(1/log t); the angle falls (the end's ≤ 0.6 × the angle at the
 *         first record with L < 1) and is ≤ 0.05 at the end of the budget (the issue's target; the
 *         budgets below were measured to reach it).
 * Drawn cases (every profile): trouser/bag, 1–DRAWN_MAX images of each class among its first 100
 * training images (positions in data/fashion-mnist/, drawn by fast-check, so a failure shrinks
 * by removing images), the exact SVM of the drawn images as the oracle, a run until log t ≥
 * DRAWN_LOG_T (at most DRAWN_STEPS steps; fc.pre that it gets there): both checks. log t ≥ 150 so
 * that 2/log t ≤ 0.0133 sits below the 2% of a γ* off by 2% (N-R below: γ* × 1.02 and × 0.98 and
 * the direction turned by ±0.05 rad towards the images' signed mean, within their span, must
 * fail on the same runs: the limit-line check rejects the turn, the 0.05 cap alone could not; docs/THEORY.md). A failure is stored with its images as positions in the IDX file
 * and replays with `theory3 replay`; the control that stores one on every run hands the slope
 * check γ* × 1.02.
 * Negative controls: the squared loss (constant steps; loss-based needs an exponential loss)
 * converges to the minimum-norm solution w* of Zw = 1 (z_n = y_n x_n; N < d, so it exists), and
 * GD from 0 with η < 1/λ_max moves each eigen-component of w monotonically towards w*'s, so
 * ‖w_t‖ ≤ ‖w*‖ at every step: ‖w‖ cannot grow like log t/γ* (the slope in log t still rises at
 * the end of the budget, 0.37 → 0.55 of 1/γ* — ZᵀZ is ill-conditioned — so no slope is asserted);
 * 5 of the 100 images added again with the opposite label make the pair non-separable: the oracle refuses it and the
 * smallest margin stays negative (no max-margin direction to converge to).
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Counterexample } from '../../src/counterexamples.js';
import { withLabelNoise, type Dataset } from '../../src/data.js';
import { modelSpec } from '../../src/model.js';
import { angle, rotated } from '../../src/measure.js';
import { LINEAR_CHECKS, linearSnapshots, predictionOf, runLinearJob, type LinearJob, type LinearRun } from '../../src/real/linear-job.js';
import { stream } from '../../src/rng.js';
import { maxMarginSvm, NotSeparableError } from '../../src/svm.js';
import { train } from '../../src/train.js';
import { LINEAR_ANGLE_END, LINEAR_SLOPE_CONSTANT, limitLineMeasure, slopeError } from '../../src/checks.js';
import { expectChecked, geometricSteps, lambdaMax, runs } from '../common.js';
import { checkProperty, assertProperty, reportFigure, reportTrajectory } from '../store.js';
import { imagePositions, range, TRAIN } from './net-cases.js';
import { fashionPair, isReal, PAIR_NAMES, progress, replayOutput } from './real-data.js';

/** Drawn cases: at most this many images per class, run until log t ≥ DRAWN_LOG_T within DRAWN_STEPS steps. */
export const DRAWN_MAX = 24;
export const DRAWN_LOG_T = 150;
export const DRAWN_STEPS = 8000;
/** The broken oracle's counterexample shrinks to at most this many images. */
export const SHRUNK_IMAGES = 4;

interface LinearCase {
  pair: [number, number];
  neg: number[];
  pos: number[];
}

/** Class-relative positions among the first 100 images of each class: shrinking removes images and moves towards the first ones. */
const linearCaseArb: fc.Arbitrary<LinearCase> = fc.record({
  pair: fc.constant<[number, number]>([1, 8]),
  neg: fc.uniqueArray(fc.nat({ max: 99 }), { minLength: 1, maxLength: DRAWN_MAX, size: 'max' }),
  pos: fc.uniqueArray(fc.nat({ max: 99 }), { minLength: 1, maxLength: DRAWN_MAX, size: 'max' }),
});

const drawnJob = (c: LinearCase, check: string, wrongOracle?: LinearJob['wrongOracle']): LinearJob => ({
  kind: 'linear', images: imagePositions(c), steps: DRAWN_STEPS, untilLogT: DRAWN_LOG_T, ...(wrongOracle ? { wrongOracle } : {}), check,
});

/** Runs of the drawn cases, by their images: the property, its wrong-theory test and the stored control share them. */
const runsOf = new Map<string, LinearRun | 'not separable'>();
function drawnRun(c: LinearCase): LinearRun {
  const key = JSON.stringify(imagePositions(c));
  let r = runsOf.get(key);
  if (!r) {
    try {
      r = runLinearJob(drawnJob(c, 'R-C3C5/linear'));
    } catch (e) {
      if (!(e instanceof NotSeparableError)) throw e;
      r = 'not separable';
    }
    runsOf.set(key, r);
  }
  fc.pre(r !== 'not separable'); // a subset of a separable pair is separable; kept for other pairs
  fc.pre(r.records.at(-1)!.logFlowTime >= DRAWN_LOG_T);
  return r;
}

/** The run judged by another prediction (the oracle turned or rescaled), as a stored job's wrongOracle makes it. */
const judgedBy = (r: LinearRun, wrong: LinearJob['wrongOracle']): LinearRun => ({ ...r, prediction: predictionOf(r.svm, r.signedMean, wrong) });

const linear = modelSpec('linear');

function maxRowNormSq(X: number[][]): number {
  return Math.max(...X.map((x) => x.reduce((s, v) => s + v * v, 0)));
}

/** The negative controls' runs (no SVM to converge to, or squared loss): the same steps as a job's. */
function controlRun(data: Dataset, steps: number, label: string, loss: 'exp' | 'squared' = 'exp') {
  // squared: the sum loss Σ(1 − q_n)² has Hessian 2ZᵀZ, so η = 1/(2N λ_max(ZᵀZ/N)) descends
  const lr = loss === 'exp' ? 1.9 / maxRowNormSq(data.X) : 1 / (2 * data.X.length * lambdaMax(data));
  const ws: number[] = [];
  const { records } = train(data, [[new Array(data.X[0].length).fill(0)]], { model: linear, loss, reduction: 'sum', schedule: loss === 'exp' ? 'loss-based' : 'constant', lr }, {
    steps,
    record: geometricSteps(steps, 1.05),
    annotate: (w) => {
      ws.push(Math.hypot(...w[0][0]));
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

/** A full run of the real profile: the first n images of each class of the pair, a fixed step budget. */
function checkLinear(a: number, b: number, n: number, steps: number) {
  const pair = `${a},${b}`;
  const job: LinearJob = { kind: 'linear', images: imagePositions({ pair: [a, b], neg: range(n), pos: range(n) }), steps, check: 'R-C3C5/linear' };
  const r = runLinearJob(job, progress(`linear ${pair} 2×${n}`, steps));
  const { records, svm, fit } = r;
  reportTrajectory(`R-C3-linear-${a}-${b}`, records, { gammaStar: svm.gamma });
  reportTrajectory(`R-C5-linear-${a}-${b}`, records, { gammaStar: svm.gamma });
  const T = records.at(-1)!.logFlowTime;
  const logT = records.map((x) => x.logFlowTime);
  const norms = r.weights.map((w) => Math.hypot(...w));
  const early = slopeError(logT, norms, T / 4, T / 2, svm.gamma);
  const late = slopeError(logT, norms, (3 * T) / 4, T, svm.gamma);
  console.log(`real linear ${pair} (${PAIR_NAMES[pair]}) 2×${n}: γ* ${svm.gamma.toPrecision(4)} (${svm.support.length} support vectors), log t ${T.toFixed(1)}, slope error ${early.toExponential(2)} → ${late.toExponential(2)}, angle ${angleAt(r, fit).toFixed(3)} at the fit → ${angleAt(r, records.length - 1).toFixed(4)}, ${limitLineUse(r)}`);
  reportFigure({ name: `linear ${pair} 2×${n}: relative error of the slope of ‖w‖ in log t against 1/γ*, late quarter`, value: late, predicted: `falls (second quarter ${early.toExponential(2)}), ≤ 2/log t = ${(2 / T).toExponential(2)}` });
  reportFigure({ name: `linear ${pair} 2×${n}: final angle to the SVM`, value: angleAt(r, records.length - 1), predicted: '≤ 0.05', unit: 'rad' });
  return r;
}

const angleAt = (r: LinearRun, i: number) => angle(r.weights[i], r.svm.w);
/** The limit-line check's figures on a run against its prediction, as printed. */
const limitLineUse = (r: LinearRun) => {
  const x = linearSnapshots(r);
  const mid = x.find((q) => q.logT >= x.at(-1)!.logT / 2)!;
  const m = limitLineMeasure(r.Z, mid, x.at(-1)!, r.prediction, 'sum');
  if (typeof m === 'string') return m;
  return `distance to the limit line ${m.inMid.toPrecision(3)} → ${m.inEnd.toPrecision(3)} from log t ${mid.logT.toFixed(1)} (allowed growth ${(m.slack + m.floor).toPrecision(3)}), off the span moved ${m.offMove.toPrecision(3)} (allowed ${m.floor.toPrecision(3)})`;
};

describe('real data, linear model', () => {
  test(`R: C3 C5 linear on drawn cases: trouser/bag (1,8), 1–${DRAWN_MAX} of its first 100 images per class, the exact SVM of the drawn images, loss-based steps to log t ≥ ${DRAWN_LOG_T}: slope of ‖w‖ → 1/γ*, angle to the SVM falls below 0.05`, () => {
    let checked = 0;
    let images = 0;
    assertProperty({
      id: 'R-linear',
      arb: linearCaseArb,
      predicate: (c) => {
        const r = drawnRun(c);
        checked++;
        images += r.svm.alpha.length;
        const failure = LINEAR_CHECKS['R-C3C5/linear'].run(r);
        if (failure) throw new Error(failure);
      },
      linearJob: (c) => drawnJob(c, 'R-C3C5/linear'),
      params: { numRuns: runs(3) },
    });
    console.log(`R linear drawn cases: ${images} images in ${checked} cases`);
    expectChecked('R linear drawn cases', checked, runs(3));
  });

  test('N-R: C3 C5 linear, wrong oracles on the drawn cases\' runs: γ* × 1.02 and × 0.98 fail the slope check, the SVM direction turned by ±0.05 rad within the images\' span fails the direction check', () => {
    let checked = 0;
    fc.assert(
      fc.property(linearCaseArb, (c) => {
        const r = drawnRun(c);
        checked++;
        const slope = LINEAR_CHECKS['R-C3/slope'].run;
        const turn = LINEAR_CHECKS['R-C5/angle'].run;
        const T = r.records.at(-1)!.logFlowTime;
        const logT = r.records.map((q) => q.logFlowTime);
        const norms = r.weights.map((w) => Math.hypot(...w));
        const late = (g: number) => slopeError(logT, norms, (3 * T) / 4, T, g).toExponential(2);
        const endAngle = (u: number[]) => angle(r.weights.at(-1)!, u).toFixed(4);
        console.log(
          `real linear ${r.svm.alpha.length} images, log t ${T.toFixed(0)}: late slope error ${late(r.svm.gamma)} (γ* × 1.02: ${late(1.02 * r.svm.gamma)}, × 0.98: ${late(0.98 * r.svm.gamma)}; allowed ${(LINEAR_SLOPE_CONSTANT / T).toExponential(2)}), ` +
            `end angle ${endAngle(r.svm.w)} (turned ±0.05 towards the signed mean: ${endAngle(rotated(r.svm.w, 0.05, r.signedMean))}, ${endAngle(rotated(r.svm.w, -0.05, r.signedMean))}; allowed ${LINEAR_ANGLE_END}); ` +
            `truth: ${limitLineUse(r)}; turned +0.05: ${limitLineUse(judgedBy(r, { rotate: 0.05 }))}`,
        );
        expect(slope(r), 'the truth').toBeNull();
        expect(turn(r), 'the truth').toBeNull();
        for (const gammaScale of [1.02, 0.98]) expect(slope(judgedBy(r, { gammaScale })), `γ* × ${gammaScale}`).not.toBeNull();
        // rejected by the limit-line part itself (not only by the 0.05 cap): its messages
        for (const rotate of [0.05, -0.05]) expect(turn(judgedBy(r, { rotate })), `direction turned by ${rotate}`).toMatch(/limit line|off the support vectors' span|multiplier 0/);
      }),
      { numRuns: runs(3) },
    );
    expectChecked('N-R linear wrong oracles', checked, runs(3));
  });

  test('N-R: C3 linear, the check handed γ* × 1.02: the failure shrinks to a few images, is stored, and `theory3 replay ID` reproduces it', async () => {
    const wrong = { gammaScale: 1.02 };
    const result = checkProperty({
      id: 'N-R-C3-linear-wrong-gamma',
      arb: linearCaseArb,
      predicate: (c) => {
        const failure = LINEAR_CHECKS['R-C3/slope'].run(judgedBy(drawnRun(c), wrong));
        if (failure) throw new Error(failure);
      },
      linearJob: (c) => drawnJob(c, 'R-C3/slope', wrong),
      params: { numRuns: runs(1) },
    });
    expect(result.failed).toBe(true);
    const c = result.counterexample![0];
    const n = c.neg.length + c.pos.length;
    console.log(`real control: γ* × 1.02 shrinks to ${JSON.stringify(c)}: ${String((result.errorInstance as Error).message)}`);
    expect(n).toBeLessThanOrEqual(SHRUNK_IMAGES);
    const stored = JSON.parse(readFileSync(result.stored!, 'utf8')) as Counterexample;
    expect(stored.linearJob!.images.index).toHaveLength(n);
    expect(stored.linearJob!.wrongOracle).toEqual(wrong);
    expect(JSON.stringify(stored)).not.toMatch(/"X"/); // no pixels in the file
    // by its id, looked up in the store (the file name without .json)
    const id = result.stored!.split('/').at(-1)!.replace(/\.json$/, '');
    const out = await replayOutput([id]);
    expect(out).toBe(`N-R-C3-linear-wrong-gamma: violates R-C3 (R-C3/slope) on ${n} images (${TRAIN} positions ${stored.linearJob!.images.index.join(',')}): ${stored.failure}\n`);
  });

  for (const [a, b, n, steps] of [[1, 8, 250, 15_000], [5, 7, 250, 150_000]] as const) {
    test.runIf(isReal())(`R: C3 C5 linear, ${PAIR_NAMES[`${a},${b}`]} (${a},${b}), 2×${n} images: slope of ‖w‖ in log t → 1/γ*, angle to the exact SVM ≤ 0.05`, () => {
      const r = checkLinear(a, b, n, steps);
      const failure = LINEAR_CHECKS['R-C3C5/linear'].run(r);
      expect(failure).toBeNull();
    }, 600_000);
  }

  test.runIf(isReal())('N-R: C3 linear, squared loss, trouser/bag (1,8), 2×250: ‖w‖ stays below the least-squares norm, so it cannot grow like log t/γ*', () => {
    const data = fashionPair(1, 8, 250);
    const { records, norms } = controlRun(data, 15_000, 'linear squared 1,8', 'squared');
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
    const { records } = controlRun(data, 3000, 'linear 1,8 noisy');
    expect(records.at(-1)!.minMargin).toBeLessThan(0);
  });
});
