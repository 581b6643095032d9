import { fittedThreshold, type LossSpec } from './loss.js';
import type { TrainRecord } from './train.js';

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

/** C2 balance: ρ_k² − ρ_j² changes by ≤ 5% of the growth of ρ_k² and ρ_j²; the imbalance at least halves. */
export const C2_DRIFT = 0.05;
/** The imbalance must shrink to this fraction of its value at fitting (a depth-3 ReLU run with a 2× tilt reached ~0.6× in 600 steps). */
export const C2_SHRINK = 0.75;
export function balanceFailure(records: TrainRecord[], fitted: number): string | null {
  const a = squares(records[fitted]);
  const b = squares(records.at(-1)!);
  const grew = b.map((v, k) => v - a[k]);
  for (let j = 0; j + 1 < a.length; j++) {
    const drift = Math.abs(b[j] - b[j + 1] - (a[j] - a[j + 1]));
    if (drift > C2_DRIFT * Math.min(grew[j], grew[j + 1])) {
      return `ρ_${j}² − ρ_${j + 1}² drifted by ${drift} while the squared norms grew by ${grew[j]} and ${grew[j + 1]} (allowed ${C2_DRIFT} of the smaller)`;
    }
  }
  const before = logImbalance(records[fitted]);
  const after = logImbalance(records.at(-1)!);
  if (after > C2_SHRINK * before + 1e-3) return `imbalance max |log ρ_k/ρ_j| went from ${before} only to ${after}, not below ${C2_SHRINK}× of it`;
  return null;
}

/** Slope of ρ against log t from the record half-way in log t to the end, relative to ρ/log t at the end. */
export function relativeEndSlope(records: TrainRecord[]): number {
  const last = records.at(-1)!;
  const from = [...records].reverse().find((r) => r.logFlowTime <= last.logFlowTime / 2 || r.logFlowTime <= 0) ?? records[0];
  const slope = (last.rho - from.rho) / (last.logFlowTime - from.logFlowTime);
  return slope / (last.rho / last.logFlowTime);
}

export const C3_RATE = 0.25;
export const C3_SLOPE = 0.1;
export const C3_BAND = 2;

/** C3 growth on a fitted run: ρ never decreases, −log L grows like log t + (2−2/K) log log t, ρ like log t. */
export function normGrowthFailure(records: TrainRecord[], fitted: number): string | null {
  const K = records[0].layerNorms.length;
  // log log t needs log t > 1; the rate is asymptotic, so it is judged from there on.
  const late = records.slice(fitted).filter((r) => r.logFlowTime > 1);
  if (late.length < 4) return `only ${late.length} records with L < 1 and log t > 1`;
  for (let i = 1; i < late.length; i++) {
    if (late[i].rho < late[i - 1].rho * (1 - 1e-6)) return `ρ decreased from ${late[i - 1].rho} to ${late[i].rho} at step ${late[i].step}`;
  }
  const half = late.filter((x) => x.logFlowTime >= late.at(-1)!.logFlowTime / 2);
  if (half.length < 3) return `only ${half.length} records in the late half of the run`;
  const clock = (x: TrainRecord) => x.logFlowTime + (2 - 2 / K) * Math.log(x.logFlowTime);
  const rate = (half[0].logLoss - half.at(-1)!.logLoss) / (clock(half.at(-1)!) - clock(half[0]));
  if (Math.abs(rate - 1) > C3_RATE) return `−log L grew at ${rate} × (log t + (2−2/K) log log t), not within ${C3_RATE} of 1`;
  const s = relativeEndSlope(late);
  if (s < C3_SLOPE || s > 1 / C3_SLOPE) return `ρ does not grow like log t: end slope ${s} × ρ/log t, outside [${C3_SLOPE}, ${1 / C3_SLOPE}]`;
  const ratios = half.map((r) => r.rho / r.logFlowTime);
  const band = Math.max(...ratios) / Math.min(...ratios);
  if (band > C3_BAND) return `ρ/log t varies by a factor ${band} over the late half, more than ${C3_BAND}`;
  return null;
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
}

/**
 * Checks by name, for stored counterexamples. Each names the claim it belongs to; a negative
 * control's case violates the claim on purpose.
 */
export const CHECKS: Record<string, { claim: string; run: (records: TrainRecord[], ctx: CheckContext) => string | null }> = {
  'C2/growth': { claim: 'C2', run: (r, c) => layerGrowthFailure(r, Math.max(fittedIndex(r, c.n, c), 0)) },
  'C2/balanced-growth': {
    claim: 'C2',
    run: (r, c) => {
      const f = Math.max(fittedIndex(r, c.n, c), 0);
      return layerGrowthFailure(r, f) ?? balanceFailure(r, f);
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
