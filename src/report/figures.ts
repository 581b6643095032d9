import { C3_LOSS_EXPONENT_TOL, C3_RHO_EXPONENT_TOL, c3Truth, rateExponents } from '../checks.js';
import type { TrainRecord } from '../train.js';
import { fitLine } from './fit.js';
import type { Figure, GapSet, Trajectory } from './data.js';

/**
 * The band drawn and quoted around the predicted late loss slope 1. It is a reading aid, not the
 * claim's test: C3 asserts the fitted exponents (src/checks.ts, C3_LOSS_EXPONENT_TOL and
 * C3_RHO_EXPONENT_TOL).
 */
export const C3_RATE = 0.25;

/**
 * Key figures read off a claim's representative run, each beside what theory predicts for it.
 * A property may report its own figures (reportFigure in properties/store.ts); these are the ones
 * the report can compute from the data every claim leaves (a trajectory, or mean gaps).
 */

const finite = (r: TrainRecord) => Number.isFinite(r.logFlowTime) && Number.isFinite(r.rho);
export const degree = (records: TrainRecord[]) => records[0]?.layerNorms.length ?? 1;

/** Records once the data are fitted (log L < 0, the loss below 1) and log t > 1 (log log t defined). */
export function lateRecords(records: TrainRecord[]): TrainRecord[] {
  const fitted = records.findIndex((r) => r.logLoss < 0);
  return fitted < 0 ? [] : records.slice(fitted).filter((r) => finite(r) && r.logFlowTime > 1);
}

/** The late half in log t: where the asymptotic rates are judged. */
export function lateHalf(records: TrainRecord[]): TrainRecord[] {
  const late = lateRecords(records);
  const end = late.at(-1)?.logFlowTime ?? 0;
  return late.filter((r) => r.logFlowTime >= end / 2);
}

/** The clock of C3's loss rate: −log L should grow like log t + (2 − 2/K) log log t. */
export const lossClock = (r: TrainRecord, K: number) => r.logFlowTime + (2 - 2 / K) * Math.log(r.logFlowTime);

/** Slope of −log L against the clock over the late half, from its end points (as the C3 check measures it). */
export function lossRate(records: TrainRecord[]): number | null {
  const half = lateHalf(records);
  const K = degree(records);
  if (half.length < 3) return null;
  const a = half[0];
  const b = half.at(-1)!;
  return (a.logLoss - b.logLoss) / (lossClock(b, K) - lossClock(a, K));
}

/** Least-squares slope of ρ against log t over the late half. */
export function rhoSlope(records: TrainRecord[]): { a: number; b: number } | null {
  return fitLine(lateHalf(records).map((r) => ({ x: r.logFlowTime, y: r.rho })));
}

/** Angle to the SVM against 1/log t over the late half in log t (where O(1/log t) is claimed): a line through them. */
export function angleFit(records: TrainRecord[]): { a: number; b: number } | null {
  const angled = records.filter((r) => typeof r.angleToSvm === 'number' && r.logFlowTime > 1);
  const end = angled.at(-1)?.logFlowTime ?? 0;
  return fitLine(angled.filter((r) => r.logFlowTime >= end / 2).map((r) => ({ x: 1 / r.logFlowTime, y: r.angleToSvm as number })));
}

export function trajectoryFigures(t: Trajectory): Figure[] {
  const out: Figure[] = [];
  const records = t.records.filter((r) => Number.isFinite(r.rho));
  const last = records.at(-1);
  if (!last) return out;
  out.push({ name: 'steps of the representative run', value: last.step, unit: 'steps' });
  const rate = lossRate(records);
  if (rate !== null) out.push({ name: 'late slope of −log L in log t + (2 − 2/K) log log t', value: rate, predicted: `1 (the band ± ${C3_RATE} is drawn, not asserted)` });
  if (t.id.startsWith('C3')) out.push(...exponentFigures(records));
  const slope = rhoSlope(records);
  const gammaStar = t.figures.gammaStar;
  if (slope) out.push({ name: 'late slope of ρ in log t', value: slope.b, predicted: degree(records) === 1 && gammaStar ? `→ 1/γ* = ${(1 / gammaStar).toPrecision(3)}` : '> 0 (ρ = Θ(log t))' });
  if (typeof last.angleToSvm === 'number') out.push({ name: 'final angle to the SVM', value: last.angleToSvm as number, predicted: '→ 0 like 1/log t', unit: 'rad' });
  if (gammaStar) out.push({ name: 'final normalized margin γ̄', value: last.normalizedMargin, predicted: `→ γ* = ${gammaStar.toPrecision(3)}` });
  if (last.layerNorms.length > 1) {
    out.push({ name: 'final ρ_max/ρ_min', value: Math.max(...last.layerNorms) / Math.min(...last.layerNorms), predicted: '→ 1' });
  }
  const late = lateRecords(records);
  if (late.length > 1) {
    const dips = late.slice(1).map((r, i) => (r.smoothedMargin - late[i].smoothedMargin) / Math.abs(late[i].smoothedMargin));
    out.push({ name: 'smallest relative step change of γ̃ after L < 1', value: Math.min(...dips), predicted: '≥ −1e-6' });
  }
  out.push({ name: 'largest ρ of the run', value: Math.max(...records.map((r) => r.rho)) }, { name: 'final log t', value: last.logFlowTime, unit: 'log flow time' });
  return out;
}

/** C3's fitted exponents, quoted against the tolerances the claim asserts (src/checks.ts). */
function exponentFigures(records: TrainRecord[]): Figure[] {
  const fit = rateExponents(records, records.findIndex((r) => r.logLoss < 0));
  if (!fit) return [];
  const truth = c3Truth(degree(records));
  return [
    { name: 'fitted coefficient of log log t in −log L − log t', value: fit.lossExponent, predicted: `2 − 2/K = ${truth.lossExponent.toPrecision(3)} ± ${C3_LOSS_EXPONENT_TOL} (asserted)` },
    { name: 'fitted exponent of log t in ρ', value: fit.rhoExponent, predicted: `1 ± ${C3_RHO_EXPONENT_TOL} (asserted)` },
  ];
}

export function gapFigures(g: GapSet): Figure[] {
  return g.points.map((p) => ({ name: `mean ${p.which} at N = ${p.n}`, value: p.gap, ...(p.bound ? { predicted: `≤ ${p.bound.toPrecision(3)} (Rademacher + Hoeffding)` } : {}) }));
}
