/**
 * C7 — the generalization gap of the NORMALIZED network shrinks as N grows (docs/THEORY.md C7;
 * Golowich, Rakhlin & Shamir 2018, Thm 1; Soudry et al. 2018 for the control).
 *
 * Setting: ReLU nets of depth K = 2 (width 6–8, no biases), inputs on the unit sphere of R^d
 * (d = 3–5), so ‖x‖ ≤ B = 1, labelled by a width-3 ReLU teacher with a margin filter (|teacher
 * score| ≥ gap, gap 0.05–0.15). With V_k = W_k/‖W_k‖_F, |f(V;x)| ≤ B, so the logistic loss of the
 * normalized margin q̄ = y f(V;x) lies in [ℓ(B), ℓ(−B)] (range exactly B) and is σ(B)-Lipschitz.
 * Training: exp loss, mean reduction, flow schedule (η₀ = 1 = 1/max‖x‖²), stopped at the first
 * step whose SUM loss is < 1 (checked again in float64: every train margin is then positive);
 * a run that has not got there in STEP_CAP steps (a dead-ReLU plateau) is no replicate.
 *
 * (1) C7 claim, a sequential test on paired replicates. Replicate i draws (from seed·1024 + i)
 *     a teacher and 4N points from the 'data' stream (the N-point set is their prefix), N_TEST
 *     = 2000 held-out points from the 'test' stream, one Gaussian init; it trains the N-point and
 *     the 4N-point net from that init and measures gap = test − train of the normalized net's
 *     mean logistic loss (src/generalization.ts generalizationGap; its 0-1 error is printed, not
 *     tested: the 0-1 loss is not Lipschitz, so the cited bound says nothing about it). D =
 *     gap(N) − gap(4N), and the claim E[D] > 0 is decided by sequentialMeanTest (betting, valid
 *     under optional stopping):
 *       α       ALPHA = 0.001 in total, split (splitAlpha) over the fast-check runs: α' = 0.001
 *               in the default profile (1 run), 0.0001 in explore.
 *               Why 0.001 and not 0.01: a flake audit runs the suite 20 times with fresh seeds,
 *               and 20·(α + P(inconclusive)) must stay ≪ 1 (it is ≤ 0.02 + 20·0.001 here).
 *       bounds  loss: test ∈ [ℓ(1), ℓ(−1)] (width 1), train ∈ [ℓ(1), ℓ(0)] since every train
 *               margin is positive (width log 2 − ℓ(1) = 0.380), so |D| ≤ B_D = 1.380.
 *       budget  ⌈80·ln(1/α')⌉ fitted replicates (553 in the default profile, 737 in explore):
 *               the replicates a betting test needs grow like ln(1/α').
 *       verdict the test must end in 'pass'. 'fail' (evidence against the claim) and
 *               'inconclusive' (budget spent) both fail the property, with distinct messages;
 *               the budget is sized for power ≥ 0.95, so an 'inconclusive' means the effect is
 *               smaller than measured, not bad luck.
 *     Effect sizes, measured on 150–200 replicates at each of 8 corners of the drawn ranges (d,
 *     width, gap; ~1400 replicates): E[D_loss] = 0.052–0.060 (sd 0.03–0.045), E[D_0-1] =
 *     0.12–0.15 (sd 0.09–0.12); gap_loss(N) ≈ 0.08–0.09 and gap_loss(4N) ≈ 0.02–0.03, i.e. the gap
 *     shrinks ~3–4× from N to 4N, faster than the 2× of the O(1/√N) bound (realizable data with a
 *     margin). Power, by resampling those replicates through the same test (verdictRates, 400
 *     simulated tests per corner): at α' = 0.005 the loss test stops after a median of 252–290
 *     replicates and passes within the budget in 100% of simulated tests at every corner; shifted
 *     to E[D_loss] = 0.040 it still passes in 98% (0.038: 91%), so the power is ≥ 0.95 down to
 *     E[D_loss] ≈ 0.04, 25% below the weakest corner. The 0-1 test stops after 76–94 (power 1,
 *     also at E[D_0-1] = 0.06). At α' = 0.0005 (the default since ALPHA = 0.001) the medians are
 *     360–414 and 108–134; a Gaussian model of D_loss (scratch simulation, 4000 tests each, which
 *     reproduces the resampled medians to ~10%) passes within the 609 budget in 100% at
 *     (mean, sd) = (0.052, 0.045), (0.045, 0.045) and in 99% at (0.040, 0.045).
 *     Why so many: a betting test with |D| ≤ B_D wins at most log(1 + ½D/B_D) per observation,
 *     and the loss gap difference (≈ 0.055) is small against its a-priori range (1.38); the 0-1
 *     error, with a 2.5× larger effect on a smaller range, decides in a third of the replicates.
 *     Replicates that did not reach L < 1 within STEP_CAP steps: 5–12% at width 8, 20–25% at
 *     width 6; the property fails if more than half are skipped. One teacher in a few thousand
 *     is degenerate (its units nearly cancel, the margin filter keeps almost nothing): skipped too.
 *     N = 4 (4N = 16), not 8 and 32: at N = 8 the loss test needs 320–450 replicates of twice the
 *     cost, beyond the budget of this file (≤ 15 s). Measured run time of this test: 3.5–5 s at
 *     ALPHA = 0.01, ~1.4× that at 0.001.
 *   Inconclusive rate at the single test's α' = 0.001 and budget 553 (verdictRates on a Gaussian
 *     model of D_loss with sd 0.045, 2000 simulated tests each, 2026-12-03): 0% at the effect this
 *     run prints (mean D ≈ 0.055) and at 0.052 and 0.045 (median stop 360–440), 1.5% at 0.040, 65%
 *     at 0.035.
 *   The rate form E[gap(N) − 2·gap(4N)] > 0 is (4) below; random labels are NOT a negative control
 *     for the normalized gap: the Rademacher bound is distribution-free, and measured gap(N)/gap(4N)
 *     = 0.127/0.058 on random labels (first fit, 200 replicates, D₂ = 0.011 ± 0.003) and
 *     0.160/0.058 late: it shrinks like 1/√N or faster there too. What does separate: the
 *     UNnormalized network on random labels, (2) below.
 *   Premise. Every normalized margin, train and test, is checked to lie in [−B, B]: the loss
 *     ranges, hence B_D and the bound below, rest on it. Without this check a forgotten
 *     normalization went unnoticed: stopped at L < 1 (ρ ≈ 5–20), the UNnormalized gap also
 *     shrinks from N to 4N (mean D_loss 0.23) and stayed inside B_D and the vacuous bound.
 *   Bound. Each replicate's loss gap is also checked against the explicit bound, in its
 *     high-probability form (Bartlett & Mendelson 2002 Thm 8 with Ledoux–Talagrand contraction,
 *     then Hoeffding for the finite test set): with probability ≥ 1 − 2δ,
 *       gap ≤ 2·σ(B)·R_N + B·√(ln(2/δ)/(2N)) + B·√(ln(2/δ)/(2·N_TEST)),
 *       R_N ≤ B(√(2K ln 2) + 1)/√N,  δ = 1e-8 (≤ 5e-4 false alarms over all the gaps checked,
 *       2 per replicate, even in the explore profile).
 *     The expectation form (E[gap] ≤ 2σ(B)R_N) bounds only the MEAN gap; one replicate's gap is
 *     one draw, so the per-replicate check needs the deviation term. At N = 4 and 16 the bound
 *     is 3.6 and 1.8, above the largest gap possible (ℓ(−1) − ℓ(1) = 1): it is vacuous here and
 *     only catches gross errors. It falls below 1 only from N ≈ 130 (the expectation form alone
 *     from N ≈ 16); the measured gaps are ≤ 0.22, mean ≈ 0.085 at N = 4 and ≈ 0.025 at N = 16.
 *
 * (2) N-C7, the control, on the statistic of the rate form: D₂ = gap(N) − 2·gap(4N) of the
 *     UNnormalized network W, which no theorem bounds (|f(W; x)| ≤ ρ grows with training). On clean
 *     labels it does not separate (first fit, 200 replicates: D = 0.22 ± 0.01, D₂ = 0.084 ± 0.015,
 *     both positive: the claim's betting test would pass it, which is why the premise |f| ≤ B is
 *     the part of (1) with teeth there; tests/theory-mutants.test.ts). On random labels it does: at
 *     the first fit ρ is ≈ 11 at N and ≈ 50 at 4N (4N random labels take longer to fit), the raw
 *     test loss grows with ρ, and D₂ = −4.46 ± 0.11 (sd 1.5; all 200 replicates ≤ −1.84; 100
 *     steps later −5.8 ± 0.7). The same betting test (α = ALPHA, range derived below) must end in
 *     'fail', evidence AGAINST E[D₂] > 0; measured: 'fail' after 53–70 replicates. Drawn at d = 5 and width 8
 *     only, where random labels reach L < 1 within STEP_CAP (and ρ stays under its caps) in ~27% of
 *     draws (~200 tried; 2.0–2.6 s standalone at load 10–12, where the control it replaced took
 *     1.1–1.6 s); at d = 3, width 7 only 2.5% did (2090 tried, 66 s under load). On the same nets the
 *     normalized D₂ is printed (0.018: positive, as above). Not 'fail' within RAW_BUDGET = 300: 0
 *     of 2000 simulated tests on a Gaussian model (sd 1.5) at mean −4.46, −3 and −2 (median stops
 *     62, 90, 134). It replaces a control of another
 *     statistic (the held-out loss of misclassified points grows like ρ), which showed the raw
 *     network unbounded but not that the claim's own statistic rejects it.
 * (3) Exploratory (CBMM Memo 091, Liao et al.): across networks of one architecture trained on one
 *     task with a fraction c ∈ {0, 1/8, 1/4, 3/8, 1/2} of the 4N = 16 training labels flipped
 *     (nested sets, 'noise' stream), the normalized test loss (clean labels) is close to a linear
 *     function of the normalized train loss (on the labels trained on). Only networks that reach
 *     L < 1 within NOISY_STEP_CAP = 400 steps count (~70%); a task counts with fitted networks at
 *     ≥ 3 corruption levels. Per task R² is a fragile statistic here: over 84 tasks (d = 4, 5,
 *     width 8, 2–4 inits each) its median was 0.86–0.89 but it fell below 0.3 in 4–6% of tasks
 *     (and one slope was negative): at high corruption the interpolating net sometimes has a
 *     LOWER normalized train loss than at c = 1/4 while its test loss keeps rising, so the
 *     relation genuinely breaks on a few tasks. Asserted therefore on TASKS = 6 tasks per run
 *     (one init each; fc.pre needs ≥ MIN_TASKS = 4 to count): one slope shared by the tasks and
 *     an intercept per task, slope > 0 and the within-task R² ≥ R2_MIN = 0.2. Resampling the 70
 *     measured tasks: median R² 0.75, 0.1% quantile 0.24, 1% quantile 0.35; slopes ≈ 0.7–1.7.
 *     The slope, intercepts and R² are printed.
 *
 * (4) The rate form, as the O(1/√N) bound reads from N to 4N: E[gap(N) − 2·gap(4N)] > 0 for the
 *     normalized loss, at the first fit and LATE_STEPS = 100 flow steps later (ρ ≈ 200), in the
 *     explore and real profiles only (skipped in ci: it needs 600–1000 replicates, 17–22 s each
 *     test at load 8–10). One sequential test each (fast-check's single run), α = ALPHA = 0.001.
 *       range   D₂ ∈ [−0.380 − 2·1, 1 + 2·0.380] = [−2.38, 1.76] a priori (gap ∈ [−0.380, 1], as
 *               in (1)); no tighter range is valid: gap(4N) = 1 needs only every test margin at −1
 *               and every train margin at +1. Only the lower end −2.38 enters the 'pass' side's
 *               bet cap c/(m + 2.38) (src/stats.ts), so a replicate can stake at most 0.21 and
 *               the test wins ≈ 0.21·E[D₂] per replicate: ln(1/α)/(0.21·0.033) ≈ 1000.
 *       effect  measured (200 replicates, float64 scratch replicas): 0.033 ± 0.003 (sd 0.043) at the
 *               first fit, 0.057 ± 0.004 (sd 0.050) late; this file's run (explore seed 1489351805):
 *               0.041 after 840 replicates, 0.059 after 580.
 *       budget  RATE_BUDGET = 1400 (first fit) and 900 (late). Inconclusive rate on a Gaussian model
 *               of D₂ (verdictRates, 2000 simulated tests each): first fit 0% at mean 0.033 and
 *               0.030 (median stop 1031 and 1133), 0.75% at 0.027; late 0% at 0.057, 0.050 and
 *               0.045 (medians 598, 681, 758).
 *       teeth   a 1/N rate, gap(N) − 4·gap(4N) > 0 on [−4.38, 2.52], was tried in place of it (explore
 *               seed 521130974): inconclusive after 1400 replicates at the first fit (mean −0.015)
 *               and after 900 late (mean +0.011), so the test fails; N-C7 handed the normalized
 *               network's D₂ in place of the raw one: inconclusive after 300 (mean +0.013), fails.
 *       cost    22–40 ms per replicate (more under load): not cheaper at larger N, where the
 *               effect shrinks with the gaps while the a-priori range does not; late in training
 *               the effect is larger (0.057) and each replicate only slightly dearer, so it
 *               decides in ~40% fewer replicates.
 */
import fc from 'fast-check';
import { describe, expect, inject, test } from 'vitest';
import { reluTeacher, type Dataset } from '../src/data.js';
import {
  boundedMargins,
  generalizationGap,
  logistic,
  logisticLipschitz,
  logisticRange,
  lossAndError,
  marginsOf,
  normalizeLayers,
  rademacherBound,
  sphereTeacherData,
} from '../src/generalization.js';
import { initWeights, modelSpec, type ModelSpec, type Weights } from '../src/model.js';
import { stream } from '../src/rng.js';
import { hoeffdingRadius, sequentialMeanTest, splitAlpha, type SequentialTest } from '../src/stats.js';
import { train, Trainer, type TrainOptions } from '../src/train.js';
import { expectChecked, gridReal, runs, seedArb } from './common.js';
import { reportEvidence, reportFigure, reportGaps } from './store.js';

const DEPTH = 2;
const TEACHER_WIDTH = 3;
const B = 1; // every point lies on the unit sphere
const N_SMALL = 4;
const N_LARGE = 4 * N_SMALL;
const N_TEST = 2000;
const LR = 1; // η₀ of the flow schedule, 1/max‖x‖²
const STEP_CAP = 60;

const ALPHA = 0.001;
/** Replicates per unit of log(1/α) in the budget (measured need: ≤ 55 at the median, see above). */
const BUDGET_PER_LOG = 80;
const MAX_UNFIT_FRACTION = 0.5;
const DELTA = 1e-8;

/** |D_loss| ≤ B_D: test loss range B plus train loss range ℓ(0) − ℓ(B) (every train margin > 0). */
const LOSS_RANGE = logisticRange(B);
const B_D_LOSS = LOSS_RANGE + logistic(0) - logistic(B);

const caseArb = fc.record({
  d: fc.integer({ min: 3, max: 5 }),
  width: fc.integer({ min: 6, max: 8 }),
  gap: gridReal(0.05, 0.15),
  seed: seedArb,
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

const trainOptions = (spec: ModelSpec): TrainOptions => ({ model: spec, loss: 'exp', reduction: 'mean', schedule: 'flow', lr: LR });

/**
 * Teacher, the 4N training points (the N-point set is their prefix), the init, and the held-out
 * set on demand (`testSet`, from its own stream: drawing it after training gives the same points,
 * and a replicate that does not fit never pays for its 2,000 points, ~60% of a random-label
 * control's time when they were drawn up front); null, or a null test set, when the teacher is
 * degenerate (its margin filter keeps < 1% of the sphere, see sphereTeacherData): such a draw is
 * no replicate.
 */
function problem(c: Case, seed: number) {
  const spec = modelSpec('relu', DEPTH, c.width);
  const rng = stream(seed, 'data');
  const teacher = reluTeacher(rng, c.d, TEACHER_WIDTH);
  const keepingEnough = (draw: () => Dataset): Dataset | null => {
    try {
      return draw();
    } catch (e) {
      if (e instanceof RangeError) return null;
      throw e;
    }
  };
  const large = keepingEnough(() => sphereTeacherData(rng, teacher, N_LARGE, c.gap));
  if (!large) return null;
  let test: Dataset | null | undefined;
  const testSet = () => (test === undefined ? (test = keepingEnough(() => sphereTeacherData(stream(seed, 'test'), teacher, N_TEST, c.gap))) : test);
  const small: Dataset = { X: large.X.slice(0, N_SMALL), y: large.y.slice(0, N_SMALL) };
  const init = initWeights(spec, c.d, 'gaussian', 1, stream(seed, 'init'));
  return { spec, small, large, testSet, init };
}

/** Sum exp loss < 1 in float64, i.e. Σ e^{−q_n} < 1 (so every margin is positive). */
function fittedIn64(w: Weights, data: Dataset): boolean {
  return marginsOf(w, data, 'relu').reduce((s, q) => s + Math.exp(-q), 0) < 1;
}

/**
 * Trains until the sum loss is < 1, then `extra` more steps (the loss must still be < 1 in float64
 * after them, as it is under the flow's descent); null if `cap` steps do not get there.
 */
function fitToLossBelowOne(spec: ModelSpec, data: Dataset, init: Weights, cap = STEP_CAP, extra = 0): Weights | null {
  const trainer = new Trainer(data, init, trainOptions(spec));
  try {
    const logN = Math.log(data.X.length);
    while (trainer.stepCount < cap) {
      // logLoss is the mean loss before the step: once its sum is < 1, check the current weights
      if (trainer.step().logLoss + logN < 0) {
        const w = trainer.weights();
        if (!fittedIn64(w, data)) continue;
        if (extra === 0) return w;
        for (let k = 0; k < extra; k++) trainer.step();
        const late = trainer.weights();
        return fittedIn64(late, data) ? late : null;
      }
    }
    return null;
  } finally {
    trainer.dispose();
  }
}

interface Gap {
  loss: number;
  error: number;
}

/** Margins of the normalized network, its premise |f(V; x)| ≤ B checked (src/generalization.ts). */
const normalizedMargins = (V: Weights, data: Dataset) => boundedMargins(V, data, 'relu', B);

/** test − train of the normalized network's mean logistic loss and 0-1 error. */
const normalizedGap = (w: Weights, train: Dataset, test: Dataset): Gap => generalizationGap(w, train, test, 'relu', normalizeLayers, B);

/** The explicit bound on one replicate's loss gap at sample size n (see the file comment). */
function gapBound(n: number): number {
  return (
    2 * logisticLipschitz(B) * rademacherBound(n, DEPTH, B) +
    hoeffdingRadius(n, LOSS_RANGE, DELTA) +
    hoeffdingRadius(N_TEST, LOSS_RANGE, DELTA)
  );
}

/** One paired replicate: the gaps at N and 4N, or null if either run did not fit. */
function replicate(c: Case, i: number, extra = 0): { small: Gap; large: Gap } | null {
  const p = problem(c, c.seed * 1024 + i);
  if (!p) return null;
  const ws = fitToLossBelowOne(p.spec, p.small, p.init, STEP_CAP, extra);
  if (!ws) return null;
  const wl = fitToLossBelowOne(p.spec, p.large, p.init, STEP_CAP, extra);
  if (!wl) return null;
  const test = p.testSet();
  if (!test) return null;
  return { small: normalizedGap(ws, p.small, test), large: normalizedGap(wl, p.large, test) };
}

const fmt = (v: number) => v.toPrecision(3);
function describeTest(name: string, t: SequentialTest): string {
  return `${name}: ${t.verdict} after ${t.n} replicates, mean D = ${fmt(t.mean)}, CS [${fmt(t.lower)}, ${fmt(t.upper)}]`;
}

describe('C7: the generalization gap of the normalized network shrinks as N grows', () => {
  test('C7: the mean gap of the normalized network shrinks from N to 4N and stays under the Rademacher bound plus a Hoeffding term', () => {
    const numRuns = runs(1);
    const alpha = splitAlpha(ALPHA, numRuns);
    const maxObservations = Math.ceil(BUDGET_PER_LOG * Math.log(1 / alpha));
    const boundSmall = gapBound(N_SMALL);
    const boundLarge = gapBound(N_LARGE);
    let replicates = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        const lossTest = sequentialMeanTest({ alpha, bound: B_D_LOSS, maxSamples: maxObservations });
        let attempts = 0;
        let largestGap = -Infinity;
        const sums = { small: { loss: 0, error: 0 }, large: { loss: 0, error: 0 }, count: 0 };
        const squares = { small: { loss: 0, error: 0 }, large: { loss: 0, error: 0 } };
        const maxAttempts = Math.ceil(maxObservations / (1 - MAX_UNFIT_FRACTION));
        while (!lossTest.done && attempts < maxAttempts) {
          const r = replicate(c, attempts++);
          if (!r) continue;
          for (const [g, bound, n] of [[r.small, boundSmall, N_SMALL], [r.large, boundLarge, N_LARGE]] as const) {
            if (!(g.loss <= bound)) throw new Error(`replicate ${attempts - 1}: loss gap ${g.loss} at N = ${n} exceeds the bound ${bound}`);
            largestGap = Math.max(largestGap, g.loss);
          }
          for (const k of ['loss', 'error'] as const) {
            sums.small[k] += r.small[k];
            sums.large[k] += r.large[k];
            squares.small[k] += r.small[k] ** 2;
            squares.large[k] += r.large[k] ** 2;
          }
          sums.count++;
          replicates++;
          if (!lossTest.done) lossTest.observe(r.small.loss - r.large.loss);
        }
        const summary = `${JSON.stringify(c)}: ${attempts} replicates tried; ${describeTest('loss', lossTest)}; mean 0-1 gap ${fmt(sums.small.error / sums.count)} at N, ${fmt(sums.large.error / sums.count)} at 4N (not tested); largest loss gap ${fmt(largestGap)} (bounds ${fmt(boundSmall)} at N, ${fmt(boundLarge)} at 4N)`;
        console.log(`C7 ${summary}`);
        // For the report: each mean with its normal-approximation 95% interval, and the bound.
        const point = (k: 'loss' | 'error', size: 'small' | 'large', n: number, bound?: number) => {
          const mean = sums[size][k] / sums.count;
          const half = 1.96 * Math.sqrt(Math.max(0, squares[size][k] / sums.count - mean ** 2) / Math.max(1, sums.count - 1));
          return { n, gap: mean, which: `${k} gap`, lower: mean - half, upper: mean + half, replicates: sums.count, ...(bound ? { bound } : {}) };
        };
        reportGaps('C7', [point('loss', 'small', N_SMALL, boundSmall), point('loss', 'large', N_LARGE, boundLarge), point('error', 'small', N_SMALL), point('error', 'large', N_LARGE)]);
        reportEvidence({ replicates: sums.count });
        reportFigure({ name: 'mean loss-gap difference gap(N) − gap(4N)', value: lossTest.mean, predicted: `> 0 at α = ${ALPHA}` });
        if (!lossTest.done) {
          throw new Error(`more than ${MAX_UNFIT_FRACTION * 100}% of replicates did not reach L < 1 within ${STEP_CAP} steps (or had a degenerate teacher): ${summary}`);
        }
        for (const t of [lossTest]) {
          if (t.verdict === 'fail') throw new Error(`evidence AGAINST the claim (E[gap(N) − gap(4N)] ≤ 0 at level ${alpha}): ${summary}`);
          if (t.verdict === 'inconclusive') throw new Error(`inconclusive: the budget of ${maxObservations} replicates (sized for power ≥ 0.95) was spent undecided: ${summary}`);
        }
      }),
      // A statistical failure is not shrunk: shrinking would re-test on other inputs (a retry).
      // The explore profile (10 runs, ~6 s each) stops starting runs after a minute, inside the
      // 120 s test timeout; fewer runs than the α split assumed only make the test conservative.
      { numRuns, endOnFailure: true, interruptAfterTimeLimit: 60_000 },
    );
    // A case of this property is one sequential test; its replicates are what it checked.
    expectChecked('C7 paired replicates', replicates, 8, 'C7-gap');
  });
});

// ---------------------------------------------------------------------------------------------
// The rate form, and its control on the same statistic

/**
 * D₂ = gap(N) − 2·gap(4N) of the normalized net lies in [−B₂, B₂'] a priori: gap ∈ [−(ℓ(0) −
 * ℓ(B)), ℓ(−B) − ℓ(B)] = [−0.380, 1] (every train margin in (0, B], every test margin in [−B, B]), so
 * D₂ ≥ −0.380 − 2·1 and D₂ ≤ 1 + 2·0.380.
 */
const GAP_LOW = -(logistic(0) - logistic(B));
const GAP_HIGH = LOSS_RANGE;
const RATE_RANGE: [number, number] = [GAP_LOW - 2 * GAP_HIGH, GAP_HIGH - 2 * GAP_LOW];
/** Flow steps after the first fit for the "late" form (ρ ≈ 200 there, from ≈ 10 at the fit). */
const LATE_STEPS = 100;
/** Budgets of the rate tests, sized from the measured effect (see the file comment). */
const RATE_BUDGET = { first: 1400, late: 900 };

const isCi = () => inject('theory3').name === 'ci';

/** Runs one sequential test of E[D₂] > 0 over paired replicates; returns it and a summary line. */
function rateTest(c: Case, extra: number, budget: number, alpha: number) {
  const t = sequentialMeanTest({ alpha, bound: RATE_RANGE, maxSamples: budget });
  let attempts = 0;
  const maxAttempts = Math.ceil(budget / (1 - MAX_UNFIT_FRACTION));
  let sumSmall = 0;
  let sumLarge = 0;
  while (!t.done && attempts < maxAttempts) {
    const r = replicate(c, attempts++, extra);
    if (!r) continue;
    sumSmall += r.small.loss;
    sumLarge += r.large.loss;
    t.observe(r.small.loss - 2 * r.large.loss);
  }
  const summary = `${JSON.stringify(c)}, ${extra} steps after the fit: ${attempts} replicates tried; ${describeTest('gap(N) − 2·gap(4N)', t)}; mean gap ${fmt(sumSmall / t.n)} at N, ${fmt(sumLarge / t.n)} at 4N`;
  return { t, summary };
}

describe('C7 (rate form, explore and real profiles): the normalized gap falls at least like 1/√N', () => {
  for (const [when, extra, budget] of [['at the first fit', 0, RATE_BUDGET.first], [`${LATE_STEPS} flow steps after the fit`, LATE_STEPS, RATE_BUDGET.late]] as const) {
    // ~1000 and ~600 replicates to decide (22–40 ms each): beyond the ci profile's budget.
    test.skipIf(isCi())(`C7: (rate form) E[gap(N) − 2·gap(4N)] > 0 for the normalized network ${when} (betting test, α = ${ALPHA})`, () => {
      let decided = 0;
      fc.assert(
        fc.property(caseArb, (c) => {
          const { t, summary } = rateTest(c, extra, budget, ALPHA);
          console.log(`C7 rate form ${summary}`);
          reportFigure({ name: `mean gap(N) − 2·gap(4N) ${when}`, value: t.mean, predicted: `> 0 at α = ${ALPHA}` });
          if (!t.done) throw new Error(`more than ${MAX_UNFIT_FRACTION * 100}% of replicates did not reach L < 1: ${summary}`);
          if (t.verdict === 'fail') throw new Error(`evidence AGAINST the rate form (E[gap(N) − 2·gap(4N)] ≤ 0 at level ${ALPHA}): ${summary}`);
          if (t.verdict === 'inconclusive') throw new Error(`inconclusive: the budget of ${budget} replicates was spent undecided: ${summary}`);
          decided += t.n;
        }),
        // one sequential test: α is not split, and a statistical failure is not shrunk (a retry)
        { numRuns: 1, endOnFailure: true },
      );
      expectChecked(`C7 rate form ${when}`, decided, 8, `C7-rate-${extra}`);
    });
  }
});

/**
 * The control: the same statistic D₂ of the UNnormalized network W on random labels. Theory
 * bounds nothing here (|f(W; x)| ≤ ρ grows with training), and the raw test loss grows with ρ,
 * which at the first fit is larger on 4N random labels than on N (measured ρ 11 → 50): D₂ = −4.46
 * ± 0.11 (sd 1.5, every one of 200 replicates ≤ −1.84). The betting test needs a range known in
 * advance: with |q| ≤ ρ on the unit sphere, train losses in (0, log 2) and test losses in
 * [0, ρ + log 2], D₂ ∈ [−log 2 − 2(ρ_4N + log 2), ρ_N + 3 log 2]; a replicate whose ρ_N exceeds
 * RAW_RHO_SMALL or ρ_4N exceeds RAW_RHO_LARGE (measured maxima 24 and 80) is no replicate. The
 * 'fail' side bets c/(b − m), so only the near end b = RAW_RHO_SMALL + 3 log 2 sets its pace; the
 * bets start from a prior pseudo-observation at 0 with spread b (src/stats.ts `prior`: any prior
 * is valid), not from the midpoint of [a, b] ≈ −152 with spread ≈ 170, which kept the bets below
 * their cap for the first ~100 replicates (measured: 'fail' after 166 replicates with the default
 * prior; a Gaussian model of D₂ stops after a median of 118 with it and 62 with this one).
 */
const RAW_RHO_SMALL = 16;
const RAW_RHO_LARGE = 160;
const RAW_RANGE: [number, number] = [-Math.LN2 - 2 * (RAW_RHO_LARGE + Math.LN2), RAW_RHO_SMALL + 3 * Math.LN2];
const RAW_BUDGET = 300;

const productNorm = (w: Weights) => w.reduce((p, W) => p * Math.sqrt(W.flat().reduce((s, v) => s + v * v, 0)), 1);

/** A paired replicate on random labels (train and test, 'noise' stream): the raw network's D₂, or null. */
function randomLabelReplicate(c: Case, i: number): { raw: number; normalized: number; rhoSmall: number; rhoLarge: number } | null {
  const p = problem(c, c.seed * 1024 + i);
  if (!p) return null;
  const noise = stream(c.seed * 1024 + i, 'noise');
  const flip = (d: Dataset): Dataset => ({ X: d.X, y: d.y.map(() => (noise.uniform() < 0.5 ? -1 : 1)) });
  const large = flip(p.large);
  const small: Dataset = { X: large.X.slice(0, N_SMALL), y: large.y.slice(0, N_SMALL) };
  const ws = fitToLossBelowOne(p.spec, small, p.init);
  if (!ws) return null;
  const wl = fitToLossBelowOne(p.spec, large, p.init);
  if (!wl) return null;
  const [rhoSmall, rhoLarge] = [productNorm(ws), productNorm(wl)];
  if (rhoSmall > RAW_RHO_SMALL || rhoLarge > RAW_RHO_LARGE) return null;
  const clean = p.testSet();
  if (!clean) return null;
  const test = flip(clean); // its labels continue the noise stream after the training labels
  const identity = (w: Weights) => w;
  // The gap check of C7 with the raw network and B = ρ cap: its premise |f(W; x)| ≤ B holds here.
  const raw = (w: Weights, train: Dataset, cap: number) => generalizationGap(w, train, test, 'relu', identity, cap).loss;
  return {
    raw: raw(ws, small, RAW_RHO_SMALL) - 2 * raw(wl, large, RAW_RHO_LARGE),
    normalized: normalizedGap(ws, small, test).loss - 2 * normalizedGap(wl, large, test).loss,
    rhoSmall,
    rhoLarge,
  };
}

describe('N-C7: the rate statistic of the UNnormalized network', () => {
  test("N-C7: on random labels the same betting test decides AGAINST E[gap(N) − 2·gap(4N)] > 0 for the unnormalized network (verdict 'fail')", () => {
    let checked = 0;
    fc.assert(
      // d = 5 and width 8: 16 random labels reach L < 1 within STEP_CAP (and ρ stays under its
      // caps) most often there. Replicates used per draw, measured on fresh seeds: 27% at d = 5,
      // 15–19% at d = 4 (width 8), 8% at d = 4 and 2.5% at d = 3 with width 6–7 (2090 draws, 66 s).
      fc.property(caseArb.map((c) => ({ ...c, d: 5, width: 8 })), (c) => {
        const t = sequentialMeanTest({ alpha: ALPHA, bound: RAW_RANGE, maxSamples: RAW_BUDGET, prior: { mean: 0, spread: RAW_RANGE[1] } });
        let attempts = 0;
        let normalizedSum = 0;
        let rhoSmall = 0;
        let rhoLarge = 0;
        while (!t.done && attempts < 10 * RAW_BUDGET) {
          const r = randomLabelReplicate(c, attempts++);
          if (!r) continue;
          normalizedSum += r.normalized;
          rhoSmall += r.rhoSmall;
          rhoLarge += r.rhoLarge;
          t.observe(r.raw);
        }
        checked += t.n;
        console.log(
          `N-C7 ${JSON.stringify(c)}, random labels: ${attempts} replicates tried; unnormalized ${describeTest('gap(N) − 2·gap(4N)', t)}; ` +
            `mean ρ ${fmt(rhoSmall / t.n)} at N, ${fmt(rhoLarge / t.n)} at 4N; the normalized network's D₂ on the same nets: mean ${fmt(normalizedSum / t.n)}`,
        );
        expect(t.verdict, `the unnormalized rate statistic: ${describeTest('D₂', t)}`).toBe('fail');
      }),
      { numRuns: 1, endOnFailure: true },
    );
    expectChecked('N-C7', checked, 8, 'N-C7-unnormalized-rate');
  });
});

const FRACTIONS = [0, 1 / 8, 2 / 8, 3 / 8, 4 / 8];
const TASKS = 6;
const NOISY_STEP_CAP = 400;
const MIN_TASKS = 4;
const R2_MIN = 0.2;

/**
 * Least squares y ≈ slope·x + intercept_t with one slope shared by every task t and an intercept
 * per task (each task's points centred on their means), and the R² of that fit within tasks.
 */
function withinTaskFit(tasks: [number, number][][]): { slope: number; intercepts: number[]; r2: number } {
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  const means = tasks.map((pts) => {
    const mx = pts.reduce((s, [x]) => s + x, 0) / pts.length;
    const my = pts.reduce((s, [, y]) => s + y, 0) / pts.length;
    for (const [x, y] of pts) {
      sxx += (x - mx) ** 2;
      sxy += (x - mx) * (y - my);
      syy += (y - my) ** 2;
    }
    return [mx, my];
  });
  const slope = sxy / sxx;
  return { slope, intercepts: means.map(([mx, my]) => my - slope * mx), r2: (sxy * sxy) / (sxx * syy) };
}

/** The 4N training labels with a nested fraction flipped: the first ⌈f·4N⌉ of one shuffle ('noise' stream). */
function corruptions(seed: number, y: number[]): { fraction: number; y: number[] }[] {
  const noise = stream(seed, 'noise');
  const order = Array.from({ length: y.length }, (_, i) => i);
  for (let k = 0; k < y.length; k++) {
    const j = k + noise.int(y.length - k);
    [order[k], order[j]] = [order[j], order[k]];
  }
  return FRACTIONS.map((fraction) => {
    const flipped = new Set(order.slice(0, Math.round(fraction * y.length)));
    return { fraction, y: y.map((v, i) => (flipped.has(i) ? -v : v)) };
  });
}

describe('C7 (Memo 091, exploratory): normalized test loss against normalized train loss', () => {
  test('C7: across label-corruption fractions the normalized test loss is close to a linear function of the normalized train loss', () => {
    let total = 0;
    let held = 0;
    fc.assert(
      fc.property(caseArb.map((c) => ({ ...c, d: Math.max(c.d, 4), width: 8 })), (c) => {
        total++;
        const tasks: [number, number][][] = [];
        for (let t = 0; t < TASKS; t++) {
          const p = problem(c, c.seed * 16 + t);
          const test = p?.testSet();
          if (!p || !test) continue;
          const points: [number, number][] = [];
          const levels = new Set<number>();
          for (const { fraction, y } of corruptions(c.seed * 16 + t, p.large.y)) {
            const noisy: Dataset = { X: p.large.X, y };
            const w = fitToLossBelowOne(p.spec, noisy, p.init, NOISY_STEP_CAP);
            if (!w) continue;
            const V = normalizeLayers(w);
            points.push([lossAndError(normalizedMargins(V, noisy)).loss, lossAndError(normalizedMargins(V, test)).loss]);
            levels.add(fraction);
          }
          if (levels.size >= 3) tasks.push(points);
        }
        fc.pre(tasks.length >= MIN_TASKS);
        held++;
        const { slope, intercepts, r2 } = withinTaskFit(tasks);
        console.log(
          `C7/Memo 091 ${JSON.stringify(c)}: ${tasks.length} tasks, ${tasks.flat().length} networks: test ≈ ${fmt(slope)}·train + b_task, ` +
            `b_task ∈ [${fmt(Math.min(...intercepts))}, ${fmt(Math.max(...intercepts))}], R² (within tasks) = ${fmt(r2)}`,
        );
        expect(slope).toBeGreaterThan(0);
        expect(r2).toBeGreaterThanOrEqual(R2_MIN);
      }),
      { numRuns: runs(1) },
    );
    // A floor on held/total, not a rate: with one run, total/2 failed whenever two draws in a row
    // missed the precondition (a flake audit, seed 2117315549: 1 of 3). Measured: the precondition
    // holds in 50% of draws (105 draws, 3 seeds; 95% lower bound 40%), so a tenth (the first case
    // within 10 draws) failed with chance 0.5^10 ≈ 1e-3; a twentieth fails with 1e-6 (4e-5 at 40%),
    // still only when the property mostly skips.
    expect(held, `preconditions held in only ${held} of ${total} runs`).toBeGreaterThanOrEqual(total / 20);
    expectChecked('C7 Memo 091 (exploratory)', held, runs(1), 'C7-memo091');
  });
});
