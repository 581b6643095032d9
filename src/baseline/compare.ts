import { formatNumber as fmt } from '../report/format.js';
import { runBaseline, type BaselineOptions, type Figures } from './run.js';

/**
 * The baseline file (baseline/figures.json): every key figure of the fixed-seed runs with the
 * tolerance it is checked to, and where that tolerance comes from. A figure moved when
 * |now − baseline| > tolerance.
 */
export interface BaselineFile {
  schemaVersion: 1;
  backend: string;
  tfjs: string;
  /** How the tolerances were set, in words. */
  method: string;
  figures: Record<string, { value: number; tolerance: number; source: 'measured spread' | 'float32 rounding' | 'absolute floor'; spread: number }>;
}

/** float32 unit roundoff. */
const U32 = 2 ** -24;
export const PERTURBATION = 2 * U32;
export const PERTURBATION_SEEDS = [1, 2, 3];
export const SPREAD_FACTOR = 10;
export const ROUNDING_FACTOR = 16;
export const ABSOLUTE_FLOOR = 1e-12;

export const METHOD = `tolerance = max(${SPREAD_FACTOR} × measured spread, ${ROUNDING_FACTOR} u·|value| with u = 2^-24 (float32 rounding), ${ABSOLUTE_FLOOR}); the spread is the largest change of the figure when every data coordinate is moved by a relative ±2^-23 (one float32 ulp), over ${PERTURBATION_SEEDS.length} sign patterns`;

/** Runs the baseline as built and under float32-sized perturbations, and sets each figure's tolerance. */
export function measureBaseline(backend: string, tfjs: string, o: BaselineOptions = {}): BaselineFile {
  const nominal = runBaseline(o);
  const perturbed = PERTURBATION_SEEDS.map((s) => runBaseline({ ...o, perturbation: PERTURBATION, perturbationSeed: s }));
  const figures: BaselineFile['figures'] = {};
  for (const [name, value] of Object.entries(nominal)) {
    const spread = Math.max(...perturbed.map((p) => Math.abs(p[name] - value)));
    const terms = { 'measured spread': SPREAD_FACTOR * spread, 'float32 rounding': ROUNDING_FACTOR * U32 * Math.abs(value), 'absolute floor': ABSOLUTE_FLOOR } as const;
    const [source, tolerance] = (Object.entries(terms) as [keyof typeof terms, number][]).reduce((a, b) => (b[1] > a[1] ? b : a));
    figures[name] = { value, tolerance: Number(tolerance.toPrecision(3)), source, spread };
  }
  return { schemaVersion: 1, backend, tfjs, method: METHOD, figures };
}

export interface Comparison {
  name: string;
  baseline: number | null;
  now: number | null;
  tolerance: number | null;
  moved: boolean;
}

export function compareBaseline(base: BaselineFile, now: Figures): Comparison[] {
  const names = [...new Set([...Object.keys(base.figures), ...Object.keys(now)])];
  return names.map((name) => {
    const b = base.figures[name];
    const v = now[name];
    if (!b || v === undefined) return { name, baseline: b?.value ?? null, now: v ?? null, tolerance: b?.tolerance ?? null, moved: true };
    return { name, baseline: b.value, now: v, tolerance: b.tolerance, moved: !(Math.abs(v - b.value) <= b.tolerance) };
  });
}

export function comparisonLine(c: Comparison): string {
  if (c.baseline === null) return `NEW    ${c.name}: ${fmt(c.now)} (not in the baseline)`;
  if (c.now === null) return `GONE   ${c.name}: baseline ${fmt(c.baseline)}, not computed now`;
  const d = c.now - c.baseline;
  return `${c.moved ? 'MOVED' : 'ok   '}  ${c.name}: ${c.baseline.toPrecision(8)} → ${c.now.toPrecision(8)} (Δ ${d.toExponential(2)}, tolerance ${c.tolerance!.toExponential(2)})`;
}
