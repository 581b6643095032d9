/**
 * C5, ReLU part — the normalized weights of a ReLU net converge in direction to a KKT point of
 * min ½‖θ‖² s.t. q_n(θ) ≥ 1 (docs/THEORY.md C5; Lyu & Li 2020 Thm 4.4 and Lemma 5.1; Ji & Telgarsky
 * 2020). Convergence is log log t slow, so no property asserts "KKT residual < tol at the end".
 * Measured worst cases below are over 240 runs per property (THEORY3_SEED=1..6, THEORY3_RUNS=40).
 *
 * (a) Exact oracle for a nonlinear model. With the first layer W1 frozen, f = a·relu(W1 x) is a
 *     linear model on the features φ(x) = relu(W1 x); training a alone from 0 (the linear-model
 *     Trainer on the feature data set, exp loss, flow schedule) is Soudry et al.: a/‖a‖ → ŵ/‖ŵ‖,
 *     the hard-margin SVM of (φ(X), y) from maxMarginSvm, with angle A = O(1/log t). The feature
 *     set keeps a margin gap (non-support points ≥ 1 + FEATURE_GAP in SVM units, as the linear
 *     claims' sets do), else a point near the margin keeps pulling a for a long time (see
 *     featureProblem). Asserted (the "measured" figures below predate the gap filter, which only
 *     removes slow cases; checked since on 3 explore seeds and the failing seed):
 *       decrease  A_end ≤ DECREASE = 0.75 × the largest A after L < 1 (measured worst 0.52);
 *       small     A_end ≤ ANGLE_END = 0.2 rad (measured worst 0.123). The runs end at
 *                 log t = 17…460, so at the shortest ones this allows C/log t with C = 3.4.
 *     A·log t is NOT asserted constant or bounded by a fixed C: r = w − ŵ log t relaxes on a
 *     data-dependent scale in log t (linearizing dr/d log t = Σ_S e^{−z_n·r} z_n − ŵ: 1/λ_min
 *     of Σ_S α̂_n z_n z_nᵀ over the support vectors S, α̂ the SVM duals), and its limit grows
 *     with the spread of log α̂. Measured: with α̂ = (0.60, 0.037, 2.05) on 5 points A climbs
 *     from 0.026 to a plateau 0.052 between log t = 13 and 60 (the same with a 4.5× smaller
 *     step), so A·log t doubles within the run; with α̂ = (6e-4, 0.81) on 2 points A·log t is
 *     still growing at 8.8 at log t = 254. Nor is A monotone at every record (rises up to 3×
 *     were seen once A < 1e-2). Angles below ANGLE_FLOOR = 1e-4 are at float32 resolution (seen:
 *     1e-7…6e-6 with one support vector) and count as converged.
 *     Preconditions (fc.pre): the features are separable (84% of draws) and their normalized
 *     margin g = γ* / max‖φ‖ ≥ 0.2 (held in 41% of all draws): log t grows by ≈ lrScale·g² per
 *     step, so every run reaches log t ≳ 17 in STEPS_A steps. Since lrScale·g² ≤ 1, log t stays
 *     below ~610: Trainer computes η_t = c/L in linear space, and once log(1/L) > 709 that is ∞
 *     and logFlowTime turns NaN (the weights are unaffected).
 *
 * (b) Lyu & Li Lemma 5.1 in integrated form: for windows t1 < t2 after L < 1 (exp loss, sum)
 *       log(γ̃(t2)/γ̃(t1)) · (log‖θ(t2)‖ − log‖θ(t1)‖) ≥ K ‖θ̂(t2) − θ̂(t1)‖²,  θ̂ = θ/‖θ‖,
 *     which follows from d log γ̃/dt ≥ K ‖dθ̂/dt‖²/(d log‖θ‖/dt) by Cauchy–Schwarz. For one point
 *     the flow inequality is an equality, and it is nearly tight whenever one point dominates:
 *     in a quarter of the runs the worst window's LHS/RHS is below 1.0–1.27 (medians 1.27–1.9),
 *     and with 1.1·K in place of K this property fails at the default run count, shrunk to one
 *     point and width 2. Checked on constant-step GD (step lrScale/curvatureScale,
 *     lrScale ≤ 0.5) started once log(1/L) ≥ ½, on every window of at least WINDOW = 20 steps:
 *     LHS ≥ (1 − SLACK)·RHS with SLACK = 5%. Why these: a GD step that crosses a ReLU kink moves
 *     θ̂ by up to ~1.4× what the flow does in that time (measured single-step ratio 0.69), and
 *     right after L < 1, γ̃ ∝ log(1/L) ≈ 0 amplifies GD's error in L by 1/log(1/L) (single-step
 *     ratios 0.4–0.8 at log(1/L) < 0.2). Windows of ≥ 20 steps from log(1/L) ≥ ½ dilute both:
 *     measured worst ratio 0.989 (offline, windows ≥ 10 steps: 0.973; single steps: 0.70).
 *     The start is reached by a flow-schedule phase that is not under test (its time change does
 *     not matter, only the weights it reaches).
 *
 * (c) Complementary slackness: α = softmax(−q) concentrates on the minimum-margin points as ρ
 *     grows. A band around q_min taken at the same time is a tautology (outside a relative band
 *     δ, α_n ≤ e^{−δ q_min}); the content is that α piles onto a FIXED set, the points that are
 *     minimum-margin in the limit. Proxy: S = {n : q_n(T) ≤ (1 + δ) q_min(T)}, δ = ALPHA_BAND =
 *     0.1, at the end of a flow-schedule run; with m(t) = Σ_{n∈S} α_n(t), asserted:
 *       grows     1 − m(T) ≤ ALPHA_GROWTH × (1 − m(t_fit)), ALPHA_GROWTH = 0.9, t_fit the
 *                 first record with L < 1 (measured worst 0.45 over 335 draws whose baseline
 *                 is below 0.9), unless m(t_fit) ≥ ALPHA_CONCENTRATED = 0.9. Why: at L < 1,
 *                 q_min ≈ 0 and α sits on the one point then lowest, so a baseline that high measures the ordering of that
 *                 moment, not S, and demanding 1 − m(T) ≤ 0.9(1 − m(t_fit)) then asks more than
 *                 the end's margins can give: seed 1761299047 (depth 3, width 4, 4 points) had
 *                 m = 0.994 at L < 1 from one point at q = 0.10 against 4.2–9.6 (α ≈ e^{−4} on
 *                 the next), and 0.890 at the end, where the margins 15.4–19.1 were still
 *                 equalizing (the normalized margin climbing 21% over the second half). An
 *                 earlier audit found baselines of 0.98 wobbling to 0.947. About a quarter of
 *                 the drawn runs start at m ≥ 0.9 (91 of 335 measured); they keep the majority
 *                 check;
 *       majority  m(T) ≥ ALPHA_MAJORITY = ½ (measured worst 0.78).
 *     m is not required to grow at every record: S is not final at q_min ≈ 15–20 and m was seen
 *     to dip by up to 1.2% in the late half of a run. Preconditions: L < 1 reached (not with dead
 *     units), q_min(T) ≥ 15 so that ρ has grown, and S is not every point (then m ≡ 1): held in
 *     38% of draws. The check is src/checks.ts alphaConcentrationFailure, which takes the scale s
 *     of α = softmax(−s·q̄), q̄ = q/‖θ‖^K, as the prediction (the truth: s = ‖θ‖^K, temperature
 *     1/ρ^K). Wrong theory (N-C5 below): "α concentrates without ρ growing", s held at its value
 *     at t_fit, so α(T) = softmax(−ρ(t_fit)^K q̄(T)), the end's direction at the fit's
 *     temperature. Same runs, same statistic: over 632 runs that met the preconditions (1,600
 *     draws, 5 fresh seeds) the check passed the truth on every run and rejected the wrong theory
 *     on only 150 (23.7%). On the first 365 of them, with a baseline below 0.9 (254 runs),
 *     (1 − m(T))/(1 − m(t_fit)) has median 4e-7 under the truth (90% below 8e-3, worst 0.43) and
 *     0.74 under the wrong theory (10% below 0.06): the direction's own convergence between t_fit
 *     and T already raises m at a fixed temperature by the 10% that ALPHA_GROWTH asks on most
 *     runs, and the majority part is nearly implied by the preconditions (outside S,
 *     q_n − q_min > δ·q_min ≥ 1.5, so m(T) > 1/(1 + e^{−1.5}(N − |S|)) ≥ 0.47 for N ≤ 6). So
 *     "as ρ grows" rests mostly on the precondition q_min(T) ≥ 15 with S taken at the end; the
 *     statistic alone tells the truth from a fixed temperature on about a quarter of the runs, and
 *     no threshold on it could on every run: the truth's worst ratio (0.43) lies above the wrong
 *     theory's 10% quantile (0.06). Runs with weight decay (ρ bounded; constant-step GD, 1,000
 *     steps, λ = 0.01 and 0.05, 200 draws each) end at q_min 0.5–5.8, so the precondition skips
 *     them; without it the statistic rejected 25 and 28 of 89 runs: no better a control.
 *
 * Negative controls: (a) with the squared loss the last layer converges to the least-squares
 * direction, not the SVM: fast-check finds an end angle > ANGLE_END and shrinks it to 2–3 points
 * and 3 features; (b) before L < 1 (windows with γ̃ < 0 at both ends) the inequality fails, shrunk
 * to 2 points and width 2; (c) α at the fit-time temperature (the wrong theory above): fast-check
 * finds a run on which the check passes the truth and rejects it (not shrunk: see there).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Dataset } from '../src/data.js';
import type { LossKind } from '../src/loss.js';
import { angle, margins } from '../src/measure.js';
import { modelSpec, type Weights } from '../src/model.js';
import { NotSeparableError, withMarginGap, type SvmResult } from '../src/svm.js';
import { alphaConcentrationFailure, lossScale, minimumMarginSet, type AlphaScale } from '../src/checks.js';
import { train, type TrainRecord } from '../src/train.js';
import { firstFailure, expectShrunk } from './store.js';
import { buildExperiment, curvatureScale, expectChecked, fittedIndex, geometricSteps, gridReal, maxRowNormSq, runs, settingArb } from './common.js';

// ---------------------------------------------------------------------------------------------
// (a) last layer on frozen ReLU features

const STEPS_A = 600;
const MIN_FEATURE_MARGIN = 0.2;
const FEATURE_GAP = 1;
const DECREASE = 0.75;
const ANGLE_END = 0.2;
const ANGLE_FLOOR = 1e-4;

const featureCaseArb = fc.record({
  setting: settingArb({ kinds: ['relu'], depth: [2, 2], width: [3, 10], n: [2, 10], d: [2, 4], initScale: [0.5, 2] }),
  lrScale: gridReal(0.7, 1),
});
type FeatureCase = typeof featureCaseArb extends fc.Arbitrary<infer T> ? T : never;

/** φ(x) = relu(W1 x) for every point. */
function reluFeatures(W1: number[][], X: number[][]): number[][] {
  return X.map((x) => W1.map((row) => Math.max(0, row.reduce((s, v, j) => s + v * x[j], 0))));
}

/** The feature data set of a case (first layer of the Gaussian init) and its SVM, or null if not separable. */
function featureProblem(c: FeatureCase, gap = FEATURE_GAP): { features: Dataset; svm: SvmResult; g: number } | null {
  const { data, init } = buildExperiment(c.setting);
  const features = { X: reluFeatures(init[0], data.X), y: data.y };
  try {
    // As for the linear claims (properties/common.ts linearGapData): non-support points closer than
    // FEATURE_GAP (SVM units) to the margin are dropped, so that only the support vectors matter
    // within the run. Without it a flake audit drew a set (seed 138651557) whose next point sat
    // near the margin: the angle climbed until the run's end at log t 22 (0.028 → 0.081) and fell
    // only later (0.036 at log t 195).
    const gapped = withMarginGap(features.X, features.y, gap);
    const kept = { X: gapped.X, y: gapped.y };
    return { features: kept, svm: gapped.svm, g: gapped.svm.gamma / Math.sqrt(maxRowNormSq(kept.X)) };
  } catch (e) {
    if (e instanceof NotSeparableError) return null;
    throw e;
  }
}

/** Trains the last layer alone (a linear model on the features) from 0; records the angle to the SVM. */
function trainLastLayer(features: Dataset, svm: SvmResult, lrScale: number, loss: LossKind) {
  const H = features.X[0].length;
  const R2 = maxRowNormSq(features.X);
  // Squared loss (control): Hessian 2ZᵀZ ≤ 2N·max‖z‖², so this constant step is stable.
  const lr = loss === 'squared' ? lrScale / (2 * features.X.length * R2) : lrScale / R2;
  const { records } = train(features, [[new Array<number>(H).fill(0)]], {
    model: modelSpec('linear'), loss, reduction: 'sum', schedule: loss === 'squared' ? 'constant' : 'flow', lr,
  }, { steps: STEPS_A, record: geometricSteps(STEPS_A, 1.2), annotate: (w, r) => { r.angle = angle(w[0][0], svm.w); } });
  return records;
}

const angleOf = (r: TrainRecord) => r.angle as number;

/** The (a) claim on an exp-loss run; returns what failed, or null. */
function directionFailure(records: TrainRecord[]): string | null {
  const fit = fittedIndex(records, 1, 'sum', 'exp');
  if (fit < 0) return 'never reached L < 1';
  const last = records.at(-1)!;
  const end = angleOf(last);
  const peak = Math.max(...records.slice(fit).map(angleOf));
  if (!(end <= DECREASE * peak || end <= ANGLE_FLOOR)) return `angle did not decrease: ${end} at the end, ${peak} at most after L < 1`;
  if (!(end <= ANGLE_END)) return `angle ${end} rad at the end (log t = ${last.logFlowTime}) exceeds ${ANGLE_END}`;
  return null;
}

describe('C5: the last layer on fixed ReLU features converges to the SVM of the features', () => {
  test('C5: training only the last layer on fixed ReLU features converges to the SVM of those features', () => {
    let drawn = 0;
    let separable = 0;
    let used = 0;
    fc.assert(
      fc.property(featureCaseArb, (c) => {
        drawn++;
        const p = featureProblem(c);
        fc.pre(p !== null);
        separable++;
        fc.pre(p!.g >= MIN_FEATURE_MARGIN);
        used++;
        expect(directionFailure(trainLastLayer(p!.features, p!.svm, c.lrScale, 'exp'))).toBeNull();
      }),
      { numRuns: runs(8) },
    );
    // Measured: 49% of draws meet the preconditions (304 draws, 3 seeds; 95% lower bound 44%). The
    // draws needed for 8 cases then exceed 5 × 8 with chance 3e-5 (5e-4 at 44%), 6 × 8 with 5e-7
    // (2e-5): a sixth still fails a property that mostly skips.
    expect(used, `preconditions held in only ${used} of ${drawn} draws (${separable} separable)`).toBeGreaterThanOrEqual(drawn / 6);
    expectChecked('C5 ReLU features', used, runs(8), 'C5-relu-features');
  });
});

describe('N-C5: where the direction does not approach the SVM of the features', () => {
  test('N-C5: squared loss does not approach the SVM of the features (its counterexample shrinks)', () => {
    const property = fc.property(featureCaseArb, (c) => {
        // The whole feature set (no margin gap): on a gapped set every kept point may be a support
        // vector, and then least squares interpolates y = ±1 on them, which IS the SVM (a flake audit,
        // seed 2015834057, drew no separating case in 6 runs).
        const p = featureProblem(c, 0);
        fc.pre(p !== null && p.g >= MIN_FEATURE_MARGIN);
        // Only a finite angle above the bound counts: a NaN or a divergence would be a bug, not the control.
        return !(angleOf(trainLastLayer(p!.features, p!.svm, c.lrScale, 'squared').at(-1)!) > ANGLE_END);
      });
    // Measured: 64–73% of the drawn cases that pass fc.pre fail the angle (450 draws, 3 seeds),
    // so 6 draws found none with chance ~0.36⁶ ≈ 2e-3 (a flake audit hit it, seed 1316302879);
    // 12 make that ~5e-6. fc.check stops at the first failure, so this costs nothing on most runs.
    const params = { numRuns: runs(12) };
    const result = fc.check(property, params);
    expect(result.failed).toBe(true);
    // Shrunk: no more points, features and dimensions than the first failing case (not a fixed size:
    // local minima of 5 and 7 points were met by flake audits, seeds 2117315549 and 472474337).
    const size = (c: FeatureCase) => c.setting.n + c.setting.width + c.setting.d;
    const sizes = expectShrunk(result.counterexample![0], firstFailure(property, result, params), size);
    console.log(`N-C5 squared loss on features: shrunk from n + width + d = ${sizes.first} to ${sizes.shrunk}`);
  });
});

// ---------------------------------------------------------------------------------------------
// (b) Lyu–Li integrated inequality

const FIT_STEPS = 60;
const GD_STEPS = 200;
const START_LOG_INV_LOSS = 0.5;
const WINDOW = 20;
const SLACK = 0.05;

const reluCaseArb = fc.record({
  setting: settingArb({ kinds: ['relu'], depth: [2, 3], width: [2, 4], n: [1, 6], d: [2, 3], initScale: [0.5, 2] }),
  lrScale: gridReal(0.1, 0.5),
});
type ReluCase = typeof reluCaseArb extends fc.Arbitrary<infer T> ? T : never;

/** Constant-step GD (exp, sum) from `start`, recording every step with a copy of the weights. */
function gdRun(data: Dataset, start: Weights, depth: number, width: number, lrScale: number, steps: number) {
  const spec = modelSpec('relu', depth, width);
  const thetas: number[][] = [];
  const { records } = train(data, start, {
    model: spec, loss: 'exp', reduction: 'sum', schedule: 'constant', lr: lrScale / curvatureScale(data, start, 'relu', 'exp', 'sum'),
  }, { steps, record: Array.from({ length: steps + 1 }, (_, i) => i), annotate: (w) => { thetas.push(w.flat(2)); } });
  return { records, thetas, K: spec.depth };
}

/**
 * Phase 1 (not under test): the flow schedule from the Gaussian init until log(1/L) ≥ ½; its time
 * change is irrelevant, only the weights it reaches matter. Returns those weights, or null.
 */
function fittedStart(c: ReluCase): { data: Dataset; start: Weights } | null {
  const { spec, data, init } = buildExperiment(c.setting);
  const weights: Weights[] = [];
  const { records } = train(data, init, { model: spec, loss: 'exp', reduction: 'sum', schedule: 'flow', lr: 1 / maxRowNormSq(data.X) }, {
    steps: FIT_STEPS, record: geometricSteps(FIT_STEPS, 1.1), annotate: (w) => { weights.push(w); },
  });
  const k = records.findIndex((r) => r.logLoss <= -START_LOG_INV_LOSS);
  return k < 0 ? null : { data, start: weights[k] };
}

/** Worst LHS/RHS over windows of at least `minWindow` records, among records accepted by `use`. */
function worstLyuLi(records: TrainRecord[], thetas: number[][], K: number, minWindow: number, use: (r: TrainRecord) => boolean) {
  const unit = thetas.map((t) => {
    const n = Math.hypot(...t);
    return t.map((v) => v / n);
  });
  let worst = { ratio: Infinity, detail: 'no window' };
  for (let i = 0; i < records.length; i++) {
    if (!use(records[i])) continue;
    for (let j = i + minWindow; j < records.length; j++) {
      if (!use(records[j])) continue;
      const lhs = Math.log(records[j].smoothedMargin / records[i].smoothedMargin) * (Math.log(records[j].norm) - Math.log(records[i].norm));
      let d2 = 0;
      for (let k = 0; k < unit[i].length; k++) d2 += (unit[j][k] - unit[i][k]) ** 2;
      const rhs = K * d2;
      // A window in which the direction does not move at float32 resolution has no claim to test.
      if (rhs < 1e-12) continue;
      const ratio = lhs / rhs;
      if (!(ratio >= worst.ratio)) worst = { ratio, detail: `steps ${records[i].step}→${records[j].step}: LHS ${lhs}, K‖Δθ̂‖² ${rhs}, log L ${records[i].logLoss}→${records[j].logLoss}` };
    }
  }
  return worst;
}

describe('C5: the Lyu–Li integrated inequality', () => {
  test('C5: the Lyu–Li integrated inequality holds on windows after L < 1', () => {
    let drawn = 0;
    let used = 0;
    fc.assert(
      fc.property(reluCaseArb, (c) => {
        drawn++;
        const p = fittedStart(c);
        fc.pre(p !== null); // dead ReLU units or too little capacity: L < 1 never reached
        used++;
        const { records, thetas, K } = gdRun(p!.data, p!.start, c.setting.depth, c.setting.width, c.lrScale, GD_STEPS);
        expect(records.every((r) => r.logLoss < 0), 'L < 1 throughout').toBe(true);
        const worst = worstLyuLi(records, thetas, K, WINDOW, () => true);
        expect(worst.ratio, worst.detail).toBeGreaterThanOrEqual(1 - SLACK);
      }),
      { numRuns: runs(8) },
    );
    // Measured: 54% of draws reach L < 1 (276 draws, 3 seeds; 95% lower bound 48%). The draws
    // needed for 8 cases then exceed 4 × 8 with chance 2e-4 (2e-3 at 48%), 5 × 8 with 2e-6 (5e-5).
    expect(used, `L < 1 reached in only ${used} of ${drawn} draws`).toBeGreaterThanOrEqual(drawn / 5);
    expectChecked('C5 Lyu–Li', used, runs(8), 'C5-lyu-li');
  });
});

describe('N-C5: where the Lyu–Li inequality fails', () => {
  test('N-C5: before L < 1 the Lyu–Li inequality can fail (shrinks to a small net)', () => {
    // Constant-step GD from the Gaussian init; windows whose both ends have L > 1 (γ̃ < 0).
    const result = fc.check(
      fc.property(reluCaseArb, (c) => {
        const { data, init } = buildExperiment(c.setting);
        const { records, thetas, K } = gdRun(data, init, c.setting.depth, c.setting.width, c.lrScale, 60);
        // A NaN ratio is no counterexample: only a finite LHS below the bound counts.
        return !(worstLyuLi(records, thetas, K, WINDOW, (r) => r.logLoss > 0).ratio < 1 - SLACK);
      }),
      // Measured: 75% of draws fail (150 draws, 3 seeds): 8 draws miss with chance 2e-5, 12 with 7e-8.
      { numRuns: runs(12) },
    );
    expect(result.failed).toBe(true);
    const s = result.counterexample![0].setting;
    expect(s.n).toBeLessThanOrEqual(3);
    expect(s.width).toBeLessThanOrEqual(3);
  });
});

// ---------------------------------------------------------------------------------------------
// (c) α concentrates on the minimum-margin points

const STEPS_C = 250;
const MIN_END_MARGIN = 15;

const flowCaseArb = fc.record({
  setting: settingArb({ kinds: ['relu'], depth: [2, 3], width: [2, 4], n: [2, 6], d: [2, 3], initScale: [0.5, 2] }),
  lrScale: gridReal(0.3, 1),
});
type FlowCase = typeof flowCaseArb extends fc.Arbitrary<infer T> ? T : never;

/**
 * A flow-schedule run (exp, sum) with every record annotated with its margins r.q; the records
 * from the first with L < 1 on, if the (c) preconditions hold (L < 1 reached, q_min(T) ≥
 * MIN_END_MARGIN, S not every point), else null.
 */
function concentrationRun(c: FlowCase): TrainRecord[] | null {
  const { spec, data, init } = buildExperiment(c.setting);
  const { records } = train(data, init, {
    model: spec, loss: 'exp', reduction: 'sum', schedule: 'flow', lr: c.lrScale / maxRowNormSq(data.X),
  }, { steps: STEPS_C, record: geometricSteps(STEPS_C, 1.15), annotate: (w, r) => { r.q = margins(w, data, 'relu'); } });
  const fit = fittedIndex(records, data.X.length, 'sum', 'exp');
  if (fit < 0) return null;
  const fitted = records.slice(fit);
  const qEnd = fitted.at(-1)!.q as number[];
  if (!(Math.min(...qEnd) >= MIN_END_MARGIN)) return null;
  if (minimumMarginSet(qEnd).every(Boolean)) return null;
  return fitted;
}

/** The wrong theory "α concentrates without ρ growing": α = softmax(−s·q̄) at the scale of the first record with L < 1. */
const fitTimeScale = (fitted: TrainRecord[]): AlphaScale => {
  const s = lossScale(fitted[0]);
  return () => s;
};

describe('C5: α = softmax(−q) concentrates on the minimum-margin points', () => {
  test('C5: the weights α = softmax(−q) concentrate on the minimum-margin points as ρ grows', () => {
    let drawn = 0;
    let used = 0;
    fc.assert(
      fc.property(flowCaseArb, (c) => {
        drawn++;
        const fitted = concentrationRun(c);
        fc.pre(fitted !== null);
        used++;
        expect(alphaConcentrationFailure(fitted!)).toBeNull();
      }),
      { numRuns: runs(8) },
    );
    // ~38% of draws meet the preconditions on average; a flake audit saw 8 of 42 (19%) on one
    // seed, so the floor against a mostly-skipping property is a tenth.
    expect(used, `preconditions held in only ${used} of ${drawn} draws`).toBeGreaterThanOrEqual(drawn / 10);
    expectChecked('C5 α concentration', used, runs(8), 'C5-alpha');
  });
});

describe('N-C5: where α does not concentrate', () => {
  test('N-C5: α at the fit-time temperature is rejected by the concentration check on a run where the truth passes', () => {
    // The same runs and the same check, with α(T) = softmax(−ρ(t_fit)^K q̄(T)) in place of
    // softmax(−q): a counterexample is a run on which the check passes the truth and rejects this.
    const result = fc.check(
      fc.property(flowCaseArb, (c) => {
        const fitted = concentrationRun(c);
        fc.pre(fitted !== null);
        return !(alphaConcentrationFailure(fitted!) === null && alphaConcentrationFailure(fitted!, fitTimeScale(fitted!)) !== null);
      }),
      // Measured: 150 of 632 runs that meet the preconditions reject the wrong theory (23.7%; 95%
      // lower bound 20.4%; 1,600 draws, 5 seeds), so 48 such runs find none with chance 2e-6
      // (2e-5 at the bound); 300 fresh seeds needed at most 32. No shrinking: its local minima
      // range over 2–6 points, widths 2–4 and depths 2–3 (300 seeds), so no size bound would hold,
      // and it cost ~40 runs (a median 1.1 s against 0.2 s without, under load 7–10).
      { numRuns: runs(48), endOnFailure: true },
    );
    expect(result.failed).toBe(true);
    const fitted = concentrationRun(result.counterexample![0])!;
    expect(alphaConcentrationFailure(fitted), 'the truth').toBeNull();
    expect(alphaConcentrationFailure(fitted, fitTimeScale(fitted)), 'α at the fit-time temperature').not.toBeNull();
  });
});
