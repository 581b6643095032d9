import { fittedThreshold, type LossSpec, type Reduction } from './loss.js';
import { angle, dot, softmaxNeg } from './measure.js';
import type { TrainRecord } from './train.js';
import type { Weights } from './model.js';
import { limitOffset, orthonormalSpan } from './svm.js';

/**
 * The claims' checks on a recorded trajectory, shared by the properties (which assert them on
 * random runs) and `replay` (which re-runs a stored counterexample and says what it violates).
 * Each returns null when the claim holds on the records, else one line saying what failed and by
 * how much. Property files explain the claims and the tolerances; the numbers live here.
 */

/** Index of the first record at which the SUM loss is below ℓ(0): every margin is positive. */
export function fittedIndex(records: { logLoss: number }[], n: number, spec: LossSpec): number {
  const shift = spec.reduction === 'mean' ? Math.log(n) : 0;
  return records.findIndex((r) => r.logLoss + shift < Math.log(fittedThreshold(spec.loss)));
}

/** C2 growth: every ρ_k increases after fitting, and ρ grows ≥ 1.2× over the second half of the run. */
export const C2_GROWTH = 1.2;
export function layerGrowthFailure(records: TrainRecord[], fitted: number): string | null {
  for (let i = fitted + 1; i < records.length; i++) {
    const k = records[i].layerNorms.findIndex((v, j) => v < records[i - 1].layerNorms[j] * (1 - 1e-6));
    if (k >= 0) return `ρ_${k} decreased from ${records[i - 1].layerNorms[k]} to ${records[i].layerNorms[k]} at step ${records[i].step}`;
  }
  const last = records.at(-1)!;
  const half = records.find((r) => r.step >= last.step / 2)!;
  if (last.rho < C2_GROWTH * half.rho) return `ρ grew only ${last.rho / half.rho}× from step ${half.step} (${half.rho}) to step ${last.step} (${last.rho}), less than ${C2_GROWTH}×`;
  return null;
}

const squares = (r: TrainRecord) => r.layerNorms.map((v) => v * v);
export const logImbalance = (r: TrainRecord) => Math.max(...r.layerNorms.map((a) => Math.max(...r.layerNorms.map((b) => Math.abs(Math.log(a / b))))));

/** The imbalance must shrink to this fraction of its value at fitting (a depth-3 ReLU run with a 2× tilt reached ~0.6× in 600 steps). */
export const C2_SHRINK = 0.75;

/** With equal steps, the imbalance max |log ρ_k/ρ_j| at the end ≤ C2_SHRINK × its value at fitting (+ 1e-3). */
export function imbalanceShrinkFailure(records: TrainRecord[], fitted: number): string | null {
  const before = logImbalance(records[fitted]);
  const after = logImbalance(records.at(-1)!);
  return after > C2_SHRINK * before + 1e-3 ? `imbalance max |log ρ_k/ρ_j| went from ${before} only to ${after}, not below ${C2_SHRINK}× of it` : null;
}

/** Largest drift of ρ_k² − ρ_j² relative to the smaller growth, for the measurements printed by C2. */
export function balanceDrift(records: TrainRecord[], fitted: number): number {
  const a = squares(records[fitted]);
  const b = squares(records.at(-1)!);
  let worst = 0;
  for (let j = 0; j + 1 < a.length; j++) worst = Math.max(worst, Math.abs(b[j] - b[j + 1] - (a[j] - a[j + 1])) / Math.min(b[j] - a[j], b[j + 1] - a[j + 1]));
  return worst;
}

/** Slope of ρ against log t from the record half-way in log t to the end, relative to ρ/log t at the end. */
export function relativeEndSlope(records: TrainRecord[]): number {
  const last = records.at(-1)!;
  const from = [...records].reverse().find((r) => r.logFlowTime <= last.logFlowTime / 2 || r.logFlowTime <= 0) ?? records[0];
  const slope = (last.rho - from.rho) / (last.logFlowTime - from.logFlowTime);
  return slope / (last.rho / last.logFlowTime);
}

/** Least-squares slope and intercept of y against x. */
export function lineFit(x: number[], y: number[]): { slope: number; intercept: number } {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (x[i] - mx) ** 2;
    sxy += (x[i] - mx) * (y[i] - my);
  }
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

/**
 * The exponent p of y ≈ a + b·x^p (least squares over p on a grid of 0.01 in [0.01, 4]): the
 * additive constant a absorbs the offset that makes a plain log–log slope of ρ against log t
 * read 1.2–1.5 at log t ≈ 10–30 (ρ = (log t + O(log log t) + c)/γ).
 */
export function powerExponent(x: number[], y: number[]): number {
  let best = { p: NaN, rss: Infinity };
  for (let k = 1; k <= 400; k++) {
    const p = k / 100;
    const xp = x.map((v) => v ** p);
    const { slope, intercept } = lineFit(xp, y);
    const rss = xp.reduce((s, v, i) => s + (y[i] - intercept - slope * v) ** 2, 0);
    if (rss < best.rss) best = { p, rss };
  }
  return best.p;
}

/**
 * C3's two exponents on a fitted run, fitted over its late records (log t ≥ RATE_FROM × the
 * final log t, and log t > e so that log log t > 0):
 *   lossExponent  the coefficient β of log log t in −log L − log t = β log log t + c
 *                 (theory: L = Θ(1/(t (log t)^{2−2/K})), so β = 2 − 2/K);
 *   rhoExponent   the exponent p in ρ = a + b (log t)^p (theory: ρ = Θ(log t), p = 1).
 */
export const RATE_FROM = 0.25;
export function rateExponents(records: TrainRecord[], fitted: number): { lossExponent: number; rhoExponent: number; points: number; logT: [number, number] } | null {
  const end = records.at(-1)!.logFlowTime;
  const late = records.slice(Math.max(fitted, 0)).filter((r) => r.logFlowTime >= Math.max(Math.E, RATE_FROM * end));
  if (late.length < 4) return null;
  const lll = late.map((r) => Math.log(r.logFlowTime));
  return {
    lossExponent: lineFit(lll, late.map((r) => -r.logLoss - r.logFlowTime)).slope,
    rhoExponent: powerExponent(late.map((r) => r.logFlowTime), late.map((r) => r.rho)),
    points: late.length,
    logT: [late[0].logFlowTime, end],
  };
}

/**
 * The per-layer smoothed margin γ̃_ρ = −log L/ρ's share of ρ's log–log slope over the records
 * rateExponents fits: log(γ̃_ρ(end)/γ̃_ρ(start)) / log(log t(end)/log t(start)). ρ = (−log L)/γ̃_ρ
 * exactly (exp loss), so over that window ρ's slope in log t is −log L's minus this; ρ = Θ(log t)
 * with one constant is what a fit sees only once γ̃_ρ is near its limit, and while it still climbs
 * (ReLU nets reorganizing) the fit sees −log L/γ̃_ρ instead.
 */
export function fitWindowMarginSlope(records: TrainRecord[], fitted: number): number {
  const end = records.at(-1)!.logFlowTime;
  const late = records.slice(Math.max(fitted, 0)).filter((r) => r.logFlowTime >= Math.max(Math.E, RATE_FROM * end));
  if (late.length < 2) return NaN;
  const perLayer = (r: TrainRecord) => -r.logLoss / r.rho;
  return Math.log(perLayer(late.at(-1)!) / perLayer(late[0])) / Math.log(end / late[0].logFlowTime);
}

/** Tolerances of the fitted exponents (measured; see properties/c3-norm-growth.prop.ts). */
export const C3_LOSS_EXPONENT_TOL = 0.5;
export const C3_RHO_EXPONENT_TOL = 0.25;

/** The predictions C3's exponent check compares against; the truth is c3Truth(K). */
export interface RatePrediction {
  lossExponent: number;
  rhoExponent: number;
}
export const c3Truth = (K: number): RatePrediction => ({ lossExponent: 2 - 2 / K, rhoExponent: 1 });

/** Null when both fitted exponents are within tolerance of the prediction. */
export function rateExponentFailure(records: TrainRecord[], fitted: number, prediction: RatePrediction): string | null {
  const fit = rateExponents(records, fitted);
  if (!fit) return `fewer than 4 fitted records with log t ≥ max(e, ${RATE_FROM} × the final log t)`;
  const where = `(${fit.points} records, log t ${fit.logT[0].toPrecision(3)}…${fit.logT[1].toPrecision(3)})`;
  if (!(Math.abs(fit.lossExponent - prediction.lossExponent) <= C3_LOSS_EXPONENT_TOL)) {
    return `coefficient of log log t in −log L − log t is ${fit.lossExponent}, not within ${C3_LOSS_EXPONENT_TOL} of ${prediction.lossExponent} ${where}`;
  }
  if (!(Math.abs(fit.rhoExponent - prediction.rhoExponent) <= C3_RHO_EXPONENT_TOL)) {
    return `exponent of log t in ρ is ${fit.rhoExponent}, not within ${C3_RHO_EXPONENT_TOL} of ${prediction.rhoExponent} ${where}`;
  }
  return null;
}

export const C3_SLOPE = 0.1;

/**
 * C3 growth on a fitted run, against a prediction of its exponents (the truth is c3Truth(K)): ρ
 * never decreases, and the fitted exponents of L and ρ in log t match the prediction
 * (rateExponentFailure).
 */
export function normGrowthFailure(records: TrainRecord[], fitted: number, prediction: RatePrediction = c3Truth(records[0].layerNorms.length)): string | null {
  const late = records.slice(fitted);
  for (let i = 1; i < late.length; i++) {
    if (late[i].rho < late[i - 1].rho * (1 - 1e-6)) return `ρ decreased from ${late[i - 1].rho} to ${late[i].rho} at step ${late[i].step}`;
  }
  return rateExponentFailure(records, fitted, prediction);
}

/** C4: relative dips of γ̃ allowed after L < 1 (GD discretization; docs/THEORY.md C4). */
export const C4_TOL = 1e-6;
export const smoothedMargin = (r: TrainRecord) => r.smoothedMargin;
/** ℓ⁻¹(L)/∏ρ_k, the per-layer smoothed margin. */
export const perLayerSmoothedMargin = (r: TrainRecord) => (r.smoothedMargin * r.norm ** r.layerNorms.length) / r.rho;
export const normalizedMargin = (r: TrainRecord) => r.normalizedMargin;

/** First step from record `from` on at which `margin` drops by more than `tol` relative, or null. */
export function marginDecrease(records: TrainRecord[], from: number, margin: (r: TrainRecord) => number, tol: number): string | null {
  for (let i = Math.max(from, 0) + 1; i < records.length; i++) {
    const a = margin(records[i - 1]);
    const b = margin(records[i]);
    if (b < a - tol * Math.abs(a)) return `dropped from ${a} to ${b} at step ${records[i].step} (relative ${(a - b) / Math.abs(a)}, allowed ${tol})`;
  }
  return null;
}

/** A decrease of γ̃ beyond C4_TOL between records of which the first is not yet fitted (L ≥ 1). */
export function marginDecreaseBeforeFit(records: TrainRecord[], fitted: number): string | null {
  const end = fitted < 0 ? records.length : fitted + 1;
  return marginDecrease(records.slice(0, end), 0, smoothedMargin, C4_TOL);
}

export interface CheckContext extends LossSpec {
  n: number;
  /** The longest sum of the float32 backward pass (backpropFanIn): C2's rounding bound. */
  fanIn: number;
}

/** The longest sum of a float32 backward pass over n examples: n × the widest layer (hidden width or input dimension). */
export const backpropFanIn = (n: number, width: number, d: number): number => n * Math.max(width, d);

/**
 * A run's `annotate` that stores on each record r.stepSquares, ‖W_k − W_k(previous record)‖² per
 * layer (0 at the first): with a record at every step, the ‖ΔW_k‖² of each step, which C2's exact
 * η² accounting (etaSquaredDriftFailure) sums.
 */
export function stepSquaresAnnotator(): (w: Weights, r: TrainRecord) => void {
  let previous: Weights | null = null;
  return (w, r) => {
    const before = previous;
    r.stepSquares = w.map((Wk, k) => (before ? Wk.reduce((s, row, i) => s + row.reduce((t, v, j) => t + (v - before[k][i][j]) ** 2, 0), 0) : 0));
    previous = w;
  };
}

/** The step squares stored by stepSquaresAnnotator (a record at every step). */
export const recordedStepSquares = (records: TrainRecord[]): number[][] => records.map((r) => r.stepSquares as number[]);

/**
 * Checks by name, for stored counterexamples. Each names the claim it belongs to; a negative
 * control's case violates the claim on purpose.
 */
export const CHECKS: Record<string, { claim: string; needsStepSquares?: boolean; run: (records: TrainRecord[], ctx: CheckContext) => string | null }> = {
  'C2/growth': { claim: 'C2', run: (r, c) => layerGrowthFailure(r, Math.max(fittedIndex(r, c.n, c), 0)) },
  'C2/balanced-growth': {
    claim: 'C2',
    needsStepSquares: true,
    run: (r, c) => {
      const f = Math.max(fittedIndex(r, c.n, c), 0);
      return layerGrowthFailure(r, f) ?? etaSquaredDriftFailure(r, f, recordedStepSquares(r), c.fanIn) ?? imbalanceShrinkFailure(r, f);
    },
  },
  'C3/growth': { claim: 'C3', run: (r, c) => normGrowthFailure(r, Math.max(fittedIndex(r, c.n, c), 0)) },
  'C3/end-slope': {
    claim: 'C3',
    run: (r) => {
      const s = relativeEndSlope(r);
      return s >= C3_SLOPE ? null : `ρ stopped growing: end slope ${s} × ρ/log t, below ${C3_SLOPE}`;
    },
  },
  'C4/smoothed-margin': { claim: 'C4', run: (r, c) => marginDecrease(r, fittedIndex(r, c.n, c), smoothedMargin, C4_TOL) },
  'C4/smoothed-margin-before-fit': { claim: 'C4', run: (r, c) => marginDecreaseBeforeFit(r, fittedIndex(r, c.n, c)) },
  'C4/normalized-margin': { claim: 'C4', run: (r, c) => { const f = fittedIndex(r, c.n, c); return f < 0 ? null : marginDecrease(r, f, normalizedMargin, C4_TOL); } },
};

// ---------------------------------------------------------------------------------------------
// C5, linear model: the direction and the margin against the SVM (a prediction, passed in)

/** What C5 predicts for a linear model: the SVM direction, its margin γ* and its dual multipliers. */
export interface SvmPrediction {
  direction: number[];
  gamma: number;
  alpha: number[];
}

const dotOf = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
/** ‖w − (w·u)u‖ for the unit vector u along `target`: the part of w off the predicted direction. */
export function offDirection(w: number[], target: number[]): number {
  const n = Math.hypot(...target);
  const along = dotOf(w, target) / n;
  return Math.sqrt(Math.max(0, dotOf(w, w) - along * along));
}

/**
 * Margin-gap constant (derived): with w(t) = ŵ log t + w̃ + o(1) and the support vectors' limit
 * offsets z_n·w̃ = −log(N α_n) (Soudry et al. 2018, Thm 3; N from the mean loss drops out here),
 *   (γ* − γ̄)/γ* = (max_S log α_n − Σ_S p_n log α_n)/(γ*‖w‖) + ½θ² + o(1/log t),  p_n = α_n/Σα,
 * θ the angle to ŵ. C_γ = max log α − E_p log α ≥ 0 (0 when all multipliers are equal).
 */
export function marginGapConstant(alpha: number[]): number {
  const a = alpha.filter((v) => v > 0);
  const total = a.reduce((s, v) => s + v, 0);
  return Math.max(...a.map(Math.log)) - a.reduce((s, v) => s + (v / total) * Math.log(v), 0);
}

/** Slack on the derived constants (measured worst ratio 1.22 in 200 runs, see c5-linear-direction). */
export const C5_MARGIN_SLACK = 1.5;
/** Angles below this are float32 resolution: distances off a predicted direction or line are allowed this × ‖w‖ on top. */
export const C5_ANGLE_FLOOR = 1e-5;
/**
 * float32's unit roundoff 2⁻²⁴: each step rounds w to float32 once (src/step.ts), moving it by at
 * most this × ‖w‖, so K steps move it by ≤ K × this × ‖w‖ (a bound, not a random walk: the
 * rounding of a slowly changing w repeats its sign; far runs to log t 200 moved the part of w off
 * the support vectors' span by up to 3.8 × C5_ANGLE_FLOOR·‖w‖ over ~2000 steps).
 */
export const FLOAT32_UNIT_ROUNDOFF = 2 ** -24;
/** float32 resolution of a normalized margin. */
export const C5_MARGIN_FLOOR = 1e-6;

/** A linear run's weights at one record (after `step` steps), with log t there and the log-t advance of the step that led to it. */
export interface LinearSnapshot {
  w: number[];
  step: number;
  logT: number;
  stepLogT: number;
}

/** A prediction's limit line ŵ log t + r* (ŵ: the direction scaled to margin 1, ‖ŵ‖ = 1/γ*) and an orthonormal basis Q of its support vectors' span. */
interface LimitLine {
  wHat: number[];
  rStar: number[];
  Q: number[][];
}

function limitLineOf(Z: number[][], p: SvmPrediction, reduction: Reduction): LimitLine {
  const scale = 1 / (p.gamma * Math.hypot(...p.direction));
  return {
    wHat: p.direction.map((v) => v * scale),
    rStar: limitOffset(Z, p.alpha, reduction),
    Q: orthonormalSpan(p.alpha.flatMap((a, n) => (a > 0 ? [Z[n]] : []))),
  };
}

/** e = w − ŵ log t − r* at snapshot x, split into its part in the span of Q and the part off it. */
function residualOf(line: LimitLine, x: LinearSnapshot): { inSpan: number[]; offSpan: number[] } {
  const e = x.w.map((v, i) => v - line.wHat[i] * x.logT - line.rStar[i]);
  const coefficients = line.Q.map((q) => dot(q, e));
  const inSpan = e.map((_, i) => line.Q.reduce((s, q, j) => s + coefficients[j] * q[i], 0));
  return { inSpan, offSpan: e.map((v, i) => v - inSpan[i]) };
}

/**
 * The residual e(t) = w(t) − ŵ log t − r* of a linear run against a prediction (ŵ: the predicted
 * direction scaled to margin 1, ‖ŵ‖ = 1/γ*; r*: src/svm.ts limitOffset from the multipliers),
 * split into its part in the support vectors' span and the part off it.
 */
export function limitResidual(Z: number[][], x: LinearSnapshot, p: SvmPrediction, reduction: Reduction = 'mean'): { inSpan: number[]; offSpan: number[] } {
  return residualOf(limitLineOf(Z, p, reduction), x);
}

/**
 * What the non-support points can still move w by after snapshot x, if their margins grow at the
 * predicted rate: point n's term in dr/d(log t) is e^{log t − z_n·w}/N · z_n (mean loss; without
 * the 1/N for the sum), and its exponent falls at the rate g_n = z_n·ŵ − 1 > 0 once w follows
 * ŵ log t, so the rest of the run adds at most Σ_n ‖z_n‖ e^{log t − z_n·w}/(N g_n). ~e^{−g·log t}: below float32 rounding by log t ≈ 20 with
 * the properties' margin gap g ≥ 1. An asymptotic estimate, not a bound, while e still moves:
 * tried on constant-step GD from log t ≈ 5 (mid-run) to 7.4, the part off the span moved 0.399
 * against a push of 0.381 on one of 100 sets — so the checks that use it start at log t ≥ 20. A string when the prediction puts a point of multiplier 0 at
 * or inside its margin (g_n ≤ 0): no such limit line exists.
 */
export function nonSupportPush(Z: number[][], x: LinearSnapshot, p: SvmPrediction, reduction: Reduction = 'mean'): number | string {
  const scale = 1 / (p.gamma * Math.hypot(...p.direction));
  const N = reduction === 'mean' ? Z.length : 1;
  let push = 0;
  for (let n = 0; n < Z.length; n++) {
    if (p.alpha[n] > 0) continue;
    const g = dotOf(Z[n], p.direction) * scale - 1;
    if (!(g > 0)) return `the prediction puts point ${n}, which has multiplier 0, at margin ${g + 1} ≤ 1 of ŵ`;
    push += (Math.hypot(...Z[n]) * Math.exp(x.logT - dotOf(Z[n], x.w))) / (N * g);
  }
  return push;
}

/** What limitLineFailure compares: the in-span residual at both snapshots, its allowance, and the off-span move with its floor. */
export interface LimitLineMeasure {
  inMid: number;
  inEnd: number;
  /** ‖ŵ‖ × the log-t advance of the step into each snapshot. */
  slack: number;
  /** float32 rounding of w over the steps in between, plus the non-support points' push left at `mid`. */
  floor: number;
  offMove: number;
}

/**
 * The quantities of limitLineFailure, or the reason no limit line exists (a point of multiplier 0
 * at or inside ŵ's margin). `reduction`: the loss the run descends (r* and the push depend on it).
 */
export function limitLineMeasure(Z: number[][], mid: LinearSnapshot, end: LinearSnapshot, p: SvmPrediction, reduction: Reduction = 'mean'): LimitLineMeasure | string {
  const push = nonSupportPush(Z, mid, p, reduction);
  if (typeof push === 'string') return push;
  const floor = (C5_ANGLE_FLOOR + FLOAT32_UNIT_ROUNDOFF * (end.step - mid.step)) * Math.hypot(...end.w) + push;
  const line = limitLineOf(Z, p, reduction);
  const a = residualOf(line, mid);
  const b = residualOf(line, end);
  return {
    inMid: Math.hypot(...a.inSpan),
    inEnd: Math.hypot(...b.inSpan),
    slack: (mid.stepLogT + end.stepLogT) / p.gamma,
    floor,
    offMove: Math.hypot(...b.offSpan.map((v, i) => v - a.offSpan[i])),
  };
}

/**
 * The direction part of linearDirectionFailure (the synthetic runs, mean loss) and of
 * linearAngleFailure (the real-data runs, sum loss: `reduction`): null when the residual off the
 * predicted limit line does not grow from `mid` to `end` (the derivation: linearDirectionFailure).
 */
export function limitLineFailure(Z: number[][], mid: LinearSnapshot, end: LinearSnapshot, p: SvmPrediction, reduction: Reduction = 'mean'): string | null {
  const m = limitLineMeasure(Z, mid, end, p, reduction);
  if (typeof m === 'string') return m;
  if (!(m.inEnd <= m.inMid + m.slack + m.floor)) return `the distance of w from the predicted limit line ŵ log t + r* grew from ${m.inMid} at log t ${mid.logT} to ${m.inEnd} at ${end.logT} (allowed ${m.slack} for the steps + ${m.floor} for rounding and the non-support points): w does not follow ŵ log t, so the angle does not fall like C/log t`;
  if (!(m.offMove <= m.floor)) return `the part of w − ŵ log t off the support vectors' span moved by ${m.offMove} from log t ${mid.logT} to ${end.logT} (allowed ${m.floor} for rounding and the non-support points): w drifts off the predicted direction`;
  return null;
}

/**
 * C5 on a linear run from w = 0 on the mean exp loss over the rows z_n = y_n x_n of Z, against a
 * prediction (the truth: the exact SVM). `mid` and `end` are two snapshots (the flow schedule and
 * the far runs: log t at `end` ≈ 2× at `mid`), `margin` the normalized margin min_n z_n·w/‖w‖ at
 * the end. Null when the run agrees with the prediction:
 *   direction  the residual e = w − ŵ log t − r* off the predicted limit line (limitResidual) does
 *              not grow. Derived: with w = ŵ log t + r and s = log t, the flow gives dr/ds =
 *              −∇Φ(r) + (non-support terms), Φ(r) = Σ_S e^{−z_n·r}/N + Σ_S α_n z_n·r, convex with
 *              its minimum at r* (src/svm.ts limitOffset). So within the support vectors' span
 *              ‖e‖ never increases but for the non-support points' push, and off it only that
 *              push moves w (nonSupportPush, ~e^{−gap·log t}). A step stamps w with the log t at
 *              its end; the flow's w is at a log t within that step, which moves ŵ log t by
 *              ≤ ‖ŵ‖·(the step's advance in log t):
 *                ‖P_S e(end)‖ ≤ ‖P_S e(mid)‖ + ‖ŵ‖(δs_mid + δs_end) + floor,
 *                ‖P_S⊥(e(end) − e(mid))‖ ≤ floor,
 *              floor = (C5_ANGLE_FLOOR + 2⁻²⁴·(steps from mid to end))·‖w‖ (float32 rounding of
 *              w at each step) + the push left at mid-run.
 *              r = r* + e stays bounded, so the angle is ≤ (‖r*‖ + ‖e(mid)‖ + slack)/‖w‖ = C/log t
 *              with C derived. A wrong ŵ (turned, or γ* off) makes e grow like ‖ŵ − ŵ'‖ log t.
 *              Slow relaxation is no failure: ‖e‖ shrinks on the scale 1/λ_min(Σ α_n z_n z_nᵀ) in
 *              log t, which can exceed 1000 (a set with multipliers 0.074/0.66/0.45: ‖P_⊥w‖ grew
 *              1.6–1.8× per doubling of log t up to 400, while ‖e‖ fell 16.1 → 12.5).
 *   margin     0 ≤ (γ* − γ̄)/γ* ≤ C5_MARGIN_SLACK·(C_γ/(γ*‖w‖) + ½θ²) + floor, C_γ derived from
 *              the multipliers (marginGapConstant): γ̄ ≤ γ* always, and the gap closes like 1/log t.
 */
export function linearDirectionFailure(Z: number[][], mid: LinearSnapshot, end: LinearSnapshot, margin: number, p: SvmPrediction): string | null {
  const direction = limitLineFailure(Z, mid, end, p);
  if (direction) return direction;
  const norm = Math.hypot(...end.w);
  const offEnd = offDirection(end.w, p.direction);
  const theta = Math.atan2(offEnd, dotOf(end.w, p.direction) / Math.hypot(...p.direction));
  const gap = (p.gamma - margin) / p.gamma;
  const bound = C5_MARGIN_SLACK * (marginGapConstant(p.alpha) / (p.gamma * norm) + 0.5 * theta * theta) + C5_MARGIN_FLOOR;
  if (!(gap >= -C5_MARGIN_FLOOR)) return `normalized margin ${margin} exceeds the predicted maximum margin γ* = ${p.gamma}`;
  if (!(gap <= bound)) return `relative margin gap (γ* − γ̄)/γ* = ${gap} above the bound C_γ/(γ*‖w‖) + ½θ² (× ${C5_MARGIN_SLACK}) = ${bound}`;
  return null;
}

// ---------------------------------------------------------------------------------------------
// C3 and C5 of a linear model run from w = 0 with loss-based steps far past fitting (the real-data
// runs, properties/real/linear.prop.ts): the slope of ‖w‖ in log t and the angle to the SVM,
// against a prediction (the truth: the exact SVM of the same data) passed in

/** R-C3: the late window's relative slope error must be ≤ this / log t at the end (r(t) bounded: O(1/log t)). */
export const LINEAR_SLOPE_CONSTANT = 2;
/** R-C5: the angle at the end must be ≤ this × the angle at the fit (it falls), and ≤ LINEAR_ANGLE_END. */
export const LINEAR_ANGLE_FALL = 0.6;
export const LINEAR_ANGLE_END = 0.05;

/**
 * Relative slope errors at or below this are float32 resolution, where "falls" is noise: w is a
 * float32 vector, so ‖w‖ carries a relative rounding of ~1e-7, and a fresh-seed flake audit drew a
 * small set whose errors were 1.2e-7 over the second quarter and 3.0e-7 over the last (seed
 * 1169637060). The wrong γ* of the controls (± 2%) gives 2e-2.
 */
export const LINEAR_SLOPE_FLOOR = 1e-5;

/** Relative error |slope·γ − 1| of the least-squares slope of ‖w‖ in log t over the records with log t in [lo, hi]. */
export function slopeError(logT: number[], norms: number[], lo: number, hi: number, gamma: number): number {
  const idx = logT.flatMap((t, i) => (t >= lo && t <= hi ? [i] : []));
  return Math.abs(lineFit(idx.map((i) => logT[i]), idx.map((i) => norms[i])).slope * gamma - 1);
}

/**
 * R-C3 on the records' log t and ‖w‖ against a predicted γ*: w(t) = ŵ log t + r(t) with ‖ŵ‖ =
 * 1/γ*, so the slope of ‖w‖ over a window of log t tends to 1/γ*: its relative error over the last
 * quarter of log t (T = log t at the end) is below that over the second quarter (unless both are
 * at float32 resolution, ≤ LINEAR_SLOPE_FLOOR), and ≤ LINEAR_SLOPE_CONSTANT/T.
 */
export function linearSlopeFailure(logT: number[], norms: number[], gammaStar: number): string | null {
  const T = logT.at(-1)!;
  const early = slopeError(logT, norms, T / 4, T / 2, gammaStar);
  const late = slopeError(logT, norms, (3 * T) / 4, T, gammaStar);
  if (!(late < early || late <= LINEAR_SLOPE_FLOOR)) return `R-C3: the slope of ‖w‖ in log t is not closing on the predicted 1/γ* = ${1 / gammaStar}: relative error ${early} over log t ${T / 4}…${T / 2}, ${late} over ${(3 * T) / 4}…${T}`;
  if (!(late <= LINEAR_SLOPE_CONSTANT / T)) return `R-C3: relative error of the slope of ‖w‖ in log t against the predicted 1/γ* = ${1 / gammaStar} is ${late} over log t ${(3 * T) / 4}…${T}, above ${LINEAR_SLOPE_CONSTANT}/log t = ${LINEAR_SLOPE_CONSTANT / T}`;
  return null;
}

/**
 * R-C5 on a real-data linear run (sum exp loss over the rows z_n = y_n x_n of Z, loss-based steps
 * with α = 1.9/max‖x‖², src/real/linear-job.ts) given as snapshots at its records, against a
 * prediction (the truth: the exact SVM with its multipliers):
 *   limit line  from `mid`, the first record with log t ≥ half the final log t, to the end, w does
 *            not move away from ŵ log t + r* (limitLineFailure with the sum loss: z_n·r* = −log α_n,
 *            and the non-support push without the 1/N), each snapshot's stepLogT the log-t advance
 *            of the step into it. The derivation of linearDirectionFailure holds for these
 *            discrete steps too, exactly: with r = w − ŵ log t and δ = η/t (η = α/L the step, so
 *            log t advances by log(1 + δ)), a step maps
 *              r ↦ r − δ∇Φ(r) + ŵ(δ − log(1 + δ)),   Φ(r) = Σ_S e^{−z_n·r} + Σ_S α_n z_n·r
 *            (+ the non-support terms): a gradient step on Φ plus a drift along ŵ. Its fixed point
 *            is r* + bŵ with b = −log(log(1 + δ)/δ) ≈ δ/2, and r − r* − bŵ = (I − δH̄)(r − r* − bŵ)
 *            before the step, H̄ the mean of ∇²Φ = Σ_S e^{−z_n·r} z_n z_nᵀ on the segment: its norm
 *            does not grow while δλ_max(H̄) ≤ 2. At r itself δλ_max(∇²Φ) ≤ α max‖x‖² = 1.9
 *            (tL ≥ Σ_S e^{−z_n·r}): the loss-based step is inside the bound, though near its edge.
 *            So ‖P_S e‖ grows by at most ‖ŵ‖(b_mid + b_end + the variation of b in between) ≈
 *            ‖ŵ‖(δs_mid + δs_end)/2 + ‖ŵ‖·variation, within the check's ‖ŵ‖(δs_mid + δs_end) as
 *            long as the variation stays below half of it (δ → α/Σ α_n, a constant, late on).
 *            Measured on 117 drawn cases (2–45 images, log t 150; fc.sample seeds 101, 202, 303,
 *            404 of the property's arbitrary): the variation of b ≤ 0.016 of δs_mid + δs_end; no
 *            step moved r away from r* + bŵ by more than 13 float32 roundings of w (2⁻²⁴‖w‖);
 *            the truth's in-span residual grew by at most 1.2e-4 of its allowance, its off-span
 *            part moved ≤ 0.48 of the floor. The SVM turned by
 *            ±0.05 rad towards the images' signed mean was rejected on all 117: by ≥ 1.26× the
 *            allowance, or (115 of the 234) by a point of multiplier 0 inside ŵ's margin;
 *   falls    the angle at the end ≤ LINEAR_ANGLE_FALL × the angle at record `fit` (the first with
 *            every margin positive);
 *   reaches  the angle at the end ≤ LINEAR_ANGLE_END (truth ≤ 0.040 on those runs). This alone
 *            cannot reject a 0.05 rad turn within the data's span: the end angle to it was 0.038–0.057.
 */
export function linearAngleFailure(Z: number[][], snapshots: LinearSnapshot[], fit: number, p: SvmPrediction): string | null {
  if (fit < 0) return 'R-C5: the run never fitted (a margin stayed ≤ 0)';
  const end = snapshots.at(-1)!;
  if (!(end.logT > 0)) return `R-C5: the run ended at log t ${end.logT} ≤ 0: no half-way record to compare with`;
  const mid = snapshots.find((x) => x.logT >= end.logT / 2)!;
  const line = limitLineFailure(Z, mid, end, p, 'sum');
  if (line) return `R-C5: from half the final log t (${mid.logT.toPrecision(3)}) to the end, ${line}`;
  const atFit = angle(snapshots[fit].w, p.direction);
  const atEnd = angle(end.w, p.direction);
  if (!(atEnd <= LINEAR_ANGLE_FALL * atFit)) return `R-C5: the angle to the predicted direction went from ${atFit} at the fit to ${atEnd} at the end, not below ${LINEAR_ANGLE_FALL}× of it`;
  if (!(atEnd <= LINEAR_ANGLE_END)) return `R-C5: the angle to the predicted direction is ${atEnd} rad at the end, above ${LINEAR_ANGLE_END}`;
  return null;
}

// ---------------------------------------------------------------------------------------------
// C5, deep linear: rank one and aligned layers, from the conserved imbalance

/** Eigenvalues of a small symmetric matrix (cyclic Jacobi), ascending. */
export function symmetricEigenvalues(A: number[][]): number[] {
  const a = A.map((row) => [...row]);
  const n = a.length;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += a[i][j] ** 2;
    if (off <= 1e-30 * a.reduce((s, row, i) => s + row[i] ** 2, 1e-300)) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (a[p][q] === 0) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) [a[k][p], a[k][q]] = [c * a[k][p] - s * a[k][q], s * a[k][p] + c * a[k][q]];
        for (let k = 0; k < n; k++) [a[p][k], a[q][k]] = [c * a[p][k] - s * a[q][k], s * a[p][k] + c * a[q][k]];
      }
    }
  }
  return a.map((row, i) => row[i]).sort((x, y) => x - y);
}

type Matrix = number[][];
const gramCols = (W: Matrix): Matrix => W[0].map((_, i) => W[0].map((_, j) => W.reduce((s, r) => s + r[i] * r[j], 0)));
const gramRows = (W: Matrix): Matrix => W.map((a) => W.map((b) => dotOf(a, b)));
const minus = (A: Matrix, B: Matrix): Matrix => A.map((r, i) => r.map((v, j) => v - B[i][j]));
const plus = (A: Matrix, B: Matrix): Matrix => A.map((r, i) => r.map((v, j) => v + B[i][j]));
export const nuclearNorm = (S: Matrix) => symmetricEigenvalues(S).reduce((s, v) => s + Math.abs(v), 0);
export const spectralNorm = (S: Matrix) => Math.max(...symmetricEigenvalues(S).map(Math.abs));

/** D_k = W_{k+1}ᵀW_{k+1} − W_kW_kᵀ (W_k stored [out][in]): conserved by gradient flow on deep linear nets. */
export function imbalances(W: Matrix[]): Matrix[] {
  return W.slice(0, -1).map((_, k) => minus(gramCols(W[k + 1]), gramRows(W[k])));
}

/**
 * The η² drift of the imbalances under GD: a step ΔW changes D_k by exactly
 * ΔW_{k+1}ᵀΔW_{k+1} − ΔW_kΔW_kᵀ (the first-order terms cancel: W_{k+1}ᵀG_{k+1} = G_kW_kᵀ).
 * Accumulates it from the weights before and after each step.
 */
export class ImbalanceDrift {
  readonly drift: Matrix[];
  private last: Matrix[];
  constructor(init: Matrix[]) {
    this.last = init;
    this.drift = imbalances(init).map((D) => D.map((r) => r.map(() => 0)));
  }
  step(W: Matrix[]): void {
    const dW = W.map((M, k) => minus(M, this.last[k]));
    this.drift.forEach((E, k) => (this.drift[k] = plus(E, minus(gramCols(dW[k + 1]), gramRows(dW[k])))));
    this.last = W;
  }
}

/** Stable rank ‖W‖_F²/‖W‖_2² and top singular vectors (power iteration on WᵀW). */
export function topSingular(W: Matrix): { stableRank: number; u: number[]; v: number[] } {
  let v = W[0].map((_, j) => 1 / Math.sqrt(W[0].length) + 1e-3 * j);
  for (let it = 0; it < 300; it++) {
    const Wv = W.map((row) => dotOf(row, v));
    const WtWv = v.map((_, j) => W.reduce((a, row, i) => a + row[j] * Wv[i], 0));
    const n = Math.hypot(...WtWv);
    if (n === 0) break;
    v = WtWv.map((x) => x / n);
  }
  const Wv = W.map((row) => dotOf(row, v));
  const s = Math.hypot(...Wv);
  const fro = W.reduce((a, row) => a + dotOf(row, row), 0);
  return { stableRank: fro / (s * s), u: Wv.map((x) => x / s), v };
}

/**
 * Rank one and alignment of a deep linear net at weights W, from the imbalance at init D(0) and
 * its accumulated η² drift E (derived, rigorous given D(T) = D(0) + E):
 *   the last layer is a row (rank one); W_kW_kᵀ = W_{k+1}ᵀW_{k+1} − D_k, so the spectrum of W_k
 *   beyond its top value, tail_k = Σ_{i≥2} σ_i², obeys tail_k ≤ tail_{k+1} + ‖D_k‖_*, hence
 *   tail_k ≤ C_k = Σ_{j≥k} (‖D_j(0)‖_* + ‖E_j‖_*) and
 *     stable rank − 1 = tail_k/σ_1² ≤ C_k/(ρ_k² − C_k)           (ρ_k = ‖W_k‖_F);
 *   the top left singular vector u_k of W_k and the top right one v_{k+1} of W_{k+1} are the top
 *   eigenvectors of W_kW_kᵀ and of W_kW_kᵀ + D_k: by Davis–Kahan (Yu, Wang & Samworth 2015)
 *     sin∠(u_k, v_{k+1}) ≤ 2‖D_k‖_2/(σ_1² − σ_2²) ≤ 2(‖D_k(0)‖_2 + ‖E_k‖_2)/(ρ_k² − 2C_k).
 * Both bounds shrink like C/ρ² as the layers grow; a fixed threshold would not.
 */
/** How finely float32 weights resolve a stable rank above 1. */
export const STABLE_RANK_RESOLUTION = 1e-6;

export function rankOneFailure(W: Matrix[], D0: Matrix[], E: Matrix[]): string | null {
  const K = W.length;
  const C = new Array<number>(K).fill(0);
  for (let k = K - 2; k >= 0; k--) C[k] = C[k + 1] + nuclearNorm(D0[k]) + nuclearNorm(E[k]);
  const tops = W.map(topSingular);
  for (let k = 0; k < K; k++) {
    const rho2 = W[k].reduce((a, row) => a + dotOf(row, row), 0);
    if (!(rho2 > C[k])) return `layer ${k}: ρ_k² = ${rho2} not above the imbalance constant ${C[k]}: no bound yet`;
    const bound = C[k] / (rho2 - C[k]);
    if (!(tops[k].stableRank - 1 <= bound + STABLE_RANK_RESOLUTION)) return `layer ${k}: stable rank ${tops[k].stableRank} above 1 + C/(ρ² − C) = 1 + ${bound} (C = ${C[k]}, ρ² = ${rho2})`;
    if (k + 1 < K) {
      const denom = rho2 - 2 * C[k];
      const sin = denom > 0 ? (2 * (spectralNorm(D0[k]) + spectralNorm(E[k]))) / denom : Infinity;
      const cos = Math.abs(dotOf(tops[k].u, tops[k + 1].v));
      const allowed = sin < 1 ? Math.sqrt(1 - sin * sin) - 1e-6 : 0;
      if (!(cos >= allowed)) return `layers ${k}, ${k + 1}: alignment |u_k·v_{k+1}| = ${cos} below √(1 − sin²) = ${allowed} (sin bound ${sin})`;
    }
  }
  return null;
}

/**
 * C5, deep linear end-to-end direction: a bound that is rigorous at every t and shrinks as the
 * margin grows. With β = W_K⋯W_1, min_n z_n·β/‖β‖ ≥ min_n q_n/ρ ≥ γ̃_ρ = −log L/ρ (‖β‖ ≤ ρ =
 * ∏‖W_k‖; exp loss, sum), and any unit u with min_n z_n·u ≥ γ lies within asin √(1 − (γ/γ*)²)
 * of the SVM direction (ŵ is the minimum-norm point of {w : z_n·w ≥ 1}). So
 *   angle(β, ŵ) ≤ Θ(t) = asin √(1 − (γ̃_ρ(t)/γ*)²)   at every record after L < 1,
 * and Θ at the end is at most Θ at the first record after L < 1, because γ̃_ρ grows (C4, Lyu & Li
 * 2020; compared over the run, not step by step: the flow schedule's large steps make γ̃_ρ dip by
 * up to 1.2e-3 relative between records, measured on a depth-3 net). Θ → 0 as γ̃_ρ → γ* (Ji &
 * Telgarsky 2019), but slowly: at these ρ it is ~0.1–0.4 rad, so this check cannot tell the SVM
 * direction from one 0.05 rad off (it does reject a γ* that is too small).
 * The general form is θ ≤ acos(γ̃_ρ/γ*) (some support vector has z_n·(u − (u·û)û) ≤ 0, so
 * γ ≤ γ* cos θ), which stays valid, and above π/2, when γ̃_ρ < 0: a flow step can overshoot after
 * the fit (flake audit seed 242481485: 8 points in 3-d, depth 3, lrScale 0.75, L jumped to e^{18}
 * at step 61), and the asin form then gave the bound 0.
 * `logLossSum` is log of the SUM loss at each record.
 */
export function deepDirectionFailure(records: { step: number; rho: number }[], fitted: number, angles: number[], logLossSum: number[], gammaStar: number): string | null {
  const from = Math.max(fitted, 0);
  const margin = (i: number) => -logLossSum[i] / records[i].rho;
  const last = records.length - 1;
  if (!(margin(last) >= margin(from))) return `per-layer smoothed margin fell from ${margin(from)} at L < 1 to ${margin(last)} at the end`;
  for (let i = from; i < records.length; i++) {
    const ratio = margin(i) / gammaStar;
    if (!(ratio <= 1 + 1e-6)) return `per-layer smoothed margin ${margin(i)} above γ* = ${gammaStar} at step ${records[i].step}`;
    // θ ≤ acos(γ̃_ρ/γ*), written as asin √(1 − ratio²) where that is accurate (ratio near 1); a
    // negative margin (a step that overshoots after the fit) bounds the angle only by acos, > π/2
    const bound = ratio >= 0 ? Math.asin(Math.sqrt(1 - Math.min(1, ratio) ** 2)) : Math.acos(Math.max(-1, ratio));
    if (!(angles[i] <= bound + 1e-5)) return `angle of W_K⋯W_1 to the SVM ${angles[i]} above the margin bound ${bound} at step ${records[i].step}`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Far past fitting with loss-based steps (properties/common.ts trainFarPastFit): the claims'
// finite-step statements, with the step's own second-order terms computed from the steps taken

/** float32 unit roundoff. */
const U32 = 2 ** -24;
const sumSq = (a: ArrayLike<number>) => dot(a, a);

/**
 * C2 at large ρ, against a prediction of the per-layer step multipliers m_k (the truth: all 1).
 * One step ΔW_k = −m_k c ∇_k log L changes ‖W_k‖²/m_k by −2c⟨W_k, ∇_k log L⟩ + ‖ΔW_k‖²/m_k, and the
 * first term is the same for every layer (Euler), so from the fit to the end
 *   (ρ_j²/m_j − ρ_{j+1}²/m_{j+1})(end) − (…)(fit) = Σ_steps (‖ΔW_j‖²/m_j − ‖ΔW_{j+1}‖²/m_{j+1})
 * exactly: the conserved quantity drifts only by the accumulated η² term, summed here from the
 * steps actually taken (`stepSquares[i][k]` = ‖ΔW_k‖² of the step into record i). Allowed: float32
 * rounding, per step 2u(ρ_j⁺² + ρ_{j+1}⁺²) for storing W⁺ plus 2u(1 + fanIn)(ρ_j‖ΔW_j‖ + ρ_{j+1}‖ΔW_{j+1}‖)
 * for the float32 gradient's Euler mismatch (as in C1), with a factor 4 of headroom.
 * Every ρ_k must also grow at every record after the fit (exact for any step once every margin is
 * positive: Δρ_k² = 2c Σ p_n q_n + ‖ΔW_k‖² > 0).
 */
export function etaSquaredDriftFailure(records: TrainRecord[], fitted: number, stepSquares: number[][], fanIn: number, multipliers?: number[]): string | null {
  const K = records[0].layerNorms.length;
  const m = multipliers ?? new Array<number>(K).fill(1);
  for (let i = fitted + 1; i < records.length; i++) {
    const k = records[i].layerNorms.findIndex((v, j) => !(v > records[i - 1].layerNorms[j]));
    if (k >= 0) return `ρ_${k} did not grow from ${records[i - 1].layerNorms[k]} at step ${records[i].step}`;
  }
  for (let j = 0; j + 1 < K; j++) {
    const D = (r: TrainRecord) => r.layerNorms[j] ** 2 / m[j] - r.layerNorms[j + 1] ** 2 / m[j + 1];
    let etaSquared = 0;
    let tol = 0;
    for (let i = fitted + 1; i < records.length; i++) {
      const [a, b] = [stepSquares[i][j], stepSquares[i][j + 1]];
      etaSquared += a / m[j] - b / m[j + 1];
      const [ra, rb] = [records[i].layerNorms[j], records[i].layerNorms[j + 1]];
      tol += 4 * 2 * U32 * (ra * ra + rb * rb + (1 + fanIn) * (records[i - 1].layerNorms[j] * Math.sqrt(a) + records[i - 1].layerNorms[j + 1] * Math.sqrt(b)));
    }
    const drift = D(records.at(-1)!) - D(records[fitted]);
    if (!(Math.abs(drift - etaSquared) <= tol)) {
      return `ρ_${j}²/m_${j} − ρ_${j + 1}²/m_${j + 1} drifted by ${drift} from the fit to step ${records.at(-1)!.step}, the accumulated η² term is ${etaSquared}: off by ${Math.abs(drift - etaSquared)}, allowed ${tol} (m = ${m.join(', ')})`;
    }
  }
  return null;
}

/**
 * C4's allowance for one step θ → θ⁺ = θ + Δθ, Δθ = −c∇log L (exp loss, u = −log L_sum > 0, i.e.
 * after the fit). Derived (docs/THEORY.md C4): with s = ⟨θ,Δθ⟩/‖θ‖², e = ‖Δθ‖²/‖θ‖² and the
 * second-order term of the loss along the step, curv = log L⁺ − log L + ‖Δθ‖²/c (0 for the flow),
 *   γ̃⁺/γ̃ = (u⁺/u)(1 + 2s + e)^{−K/2},   u⁺ = u + ‖Δθ‖²/c − curv ≥ u(1 + Ks) − curv,
 * the inequality being Lyu & Li's ‖∇log L‖² ≥ K u ⟨θ, −∇log L⟩/‖θ‖² (Cauchy–Schwarz and
 * Σ p_n q_n ≥ q_min ≥ u). Since (1 + x)^{K/2} ≤ 1 + (K/2)x + [K ≥ 3]·K(K−2)/8·x² for K ≤ 4, the
 * relative dip 1 − γ̃⁺/γ̃ is at most
 *   A = max(0, curv)/u + (K/2)e + [K ≥ 3]·K(K−2)/8·(2s + e)²,
 * the step's second-order terms (both vanish like c² as the step shrinks).
 */
export function smoothedMarginAllowance(before: { logLossSum: number; theta: ArrayLike<number> }, after: { logLossSum: number; theta: ArrayLike<number> }, c: number, K: number): number {
  const t = before.theta;
  const d = new Float64Array(t.length);
  let dot = 0;
  for (let i = 0; i < t.length; i++) {
    d[i] = after.theta[i] - t[i];
    dot += t[i] * d[i];
  }
  const th = sumSq(t);
  const dd = sumSq(d);
  const u = -before.logLossSum;
  const curv = after.logLossSum - before.logLossSum + dd / c;
  const s = dot / th;
  const e = dd / th;
  return Math.max(0, curv) / u + (K / 2) * e + (K >= 3 ? ((K * (K - 2)) / 8) * (2 * s + e) ** 2 : 0);
}

/**
 * C4 at large ρ: at every step after the fit, γ̃ dips (relatively) by at most the step's allowance
 * (smoothedMarginAllowance) plus C4_TOL for float32 rounding; steps that start from L ≥ 1 are not
 * claimed (a step far above the allowed one can throw the loss back above 1). `allowanceScale` is
 * the prediction (the truth: 1; tests/theory-mutants.test.ts hands it wrong ones). `thetas[i]` are the weights at record
 * i, flattened; records carry `coefficient` (c of the step into them) and logLoss of the SUM loss.
 */
export function marginDipFailure(records: TrainRecord[], fitted: number, thetas: ArrayLike<number>[], K: number, allowanceScale = 1): string | null {
  for (let i = Math.max(fitted, 0) + 1; i < records.length; i++) {
    const [a, b] = [records[i - 1], records[i]];
    // C4 speaks of steps taken from L < 1 (u > 0); a step too large may carry the loss back above 1
    if (!(a.logLoss < 0)) continue;
    const allowed = allowanceScale * smoothedMarginAllowance({ logLossSum: a.logLoss, theta: thetas[i - 1] }, { logLossSum: b.logLoss, theta: thetas[i] }, b.coefficient as number, K);
    const dip = (a.smoothedMargin - b.smoothedMargin) / a.smoothedMargin;
    if (!(dip <= allowed + C4_TOL)) return `γ̃ dipped by ${dip} (relative) at step ${b.step}, above the step's allowance ${allowed} + ${C4_TOL}`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// C5, ReLU nets: α = softmax(−q) concentrates on the end's minimum-margin points as ρ grows

/** The end's minimum-margin set S = {n : q_n ≤ (1 + ALPHA_BAND) q_min} (relative band). */
export const ALPHA_BAND = 0.1;
/** Below a baseline of ALPHA_CONCENTRATED at L < 1, 1 − m must shrink to ≤ ALPHA_GROWTH × its value there. */
export const ALPHA_GROWTH = 0.9;
export const ALPHA_CONCENTRATED = 0.9;
/** The α-mass on S at the end must be at least this. */
export const ALPHA_MAJORITY = 0.5;

export function minimumMarginSet(q: number[]): boolean[] {
  const qMin = Math.min(...q);
  return q.map((v) => v <= (1 + ALPHA_BAND) * qMin);
}

/**
 * The scale s at which α = softmax(−s·q̄) is taken, q̄ = q/‖θ‖^K the normalized margins. The
 * claim: s = ‖θ‖^K, so α = softmax(−q) and the temperature falls as ρ grows (lossScale). A wrong
 * theory may hold s fixed (N-C5 in properties/c5-relu-kkt.prop.ts).
 */
export type AlphaScale = (r: TrainRecord) => number;
export const lossScale: AlphaScale = (r) => r.norm ** r.layerNorms.length;

/** The margins a run's `annotate` stored on the record (r.q); a record without them is a caller's bug. */
function recordMargins(r: TrainRecord): number[] {
  if (!Array.isArray(r.q)) throw new Error(`record at step ${r.step} carries no margins r.q`);
  return r.q as number[];
}

/** Σ_{n∈S} α_n on record r, α = softmax(−s·q̄) at the scale s = scale(r). */
export function alphaMass(r: TrainRecord, S: boolean[], scale: AlphaScale = lossScale): number {
  // s/‖θ‖^K is exactly 1 for the truth, so then α = softmax(−q) on the recorded margins themselves
  const f = scale(r) / lossScale(r);
  return softmaxNeg(recordMargins(r).map((v) => f * v)).reduce((a, v, n) => a + (S[n] ? v : 0), 0);
}

/**
 * C5 (c) on the records from the first one with L < 1 to the end, each annotated with its margins
 * (r.q): with S the end's minimum-margin set and m = alphaMass, 1 − m(T) ≤ ALPHA_GROWTH·(1 − m(t_fit))
 * unless m(t_fit) ≥ ALPHA_CONCENTRATED, and m(T) ≥ ALPHA_MAJORITY. `scale` is the prediction (the
 * truth lossScale, α = softmax(−q)). properties/c5-relu-kkt.prop.ts explains the tolerances.
 */
export function alphaConcentrationFailure(fitted: TrainRecord[], scale: AlphaScale = lossScale): string | null {
  const end = fitted.at(-1)!;
  const S = minimumMarginSet(recordMargins(end));
  const mFit = alphaMass(fitted[0], S, scale);
  const mEnd = alphaMass(end, S, scale);
  if (mFit < ALPHA_CONCENTRATED && !(1 - mEnd <= ALPHA_GROWTH * (1 - mFit))) {
    return `α-mass on the end's minimum-margin points did not grow: ${mFit} at L < 1, ${mEnd} at the end (1 − m must shrink to ≤ ${ALPHA_GROWTH}×)`;
  }
  if (!(mEnd >= ALPHA_MAJORITY)) return `α-mass on the end's minimum-margin points is ${mEnd} at the end, below ${ALPHA_MAJORITY}`;
  return null;
}
