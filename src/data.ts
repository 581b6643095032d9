import { readFileSync } from 'node:fs';
import { InputError } from './errors.js';
import { dot } from './measure.js';
import { sampleWithoutReplacement, type Rng } from './rng.js';

/** A binary classification set: rows of X are points, y_n ∈ {−1, +1}. */
export interface Dataset {
  X: number[][];
  y: number[];
}

const MAX_ATTEMPTS_PER_POINT = 10_000;

/** A uniformly random unit vector in R^d (a Gaussian draw, normalized). */
export function unitVector(rng: Rng, d: number): number[] {
  for (;;) {
    const v = Array.from({ length: d }, () => rng.gaussian());
    const n = Math.hypot(...v);
    if (n > 1e-12) return v.map((x) => x / n);
  }
}

/**
 * Draws points x ~ N(0, I_d) and keeps those the teacher scores with |score| ≥ gap, labelled by the
 * sign of the score. The gap makes the margin of the set at least `gap` (for a unit-norm teacher),
 * so training fits it in a bounded time.
 */
function sampleWithMargin(rng: Rng, n: number, d: number, gap: number, score: (x: number[]) => number): Dataset {
  const draw = () => Array.from({ length: d }, () => rng.gaussian());
  const tooStrict = () => new InputError(`margin filter too strict: gap ${gap} keeps almost no points in ${d} dimensions`);
  return keepByMargin(n, gap, draw, score, MAX_ATTEMPTS_PER_POINT * n, tooStrict);
}

/**
 * The first n points of `draw` whose |score| is at least `gap`, labelled by the sign of the score;
 * throws tooStrict() rather than make draw number maxAttempts + 1.
 */
export function keepByMargin(n: number, gap: number, draw: () => number[], score: (x: number[]) => number, maxAttempts: number, tooStrict: () => Error): Dataset {
  const X: number[][] = [];
  const y: number[] = [];
  for (let attempts = 0; X.length < n; attempts++) {
    if (attempts >= maxAttempts) throw tooStrict();
    const x = draw();
    const s = score(x);
    if (Math.abs(s) < gap) continue;
    X.push(x);
    y.push(s > 0 ? 1 : -1);
  }
  return { X, y };
}

/** Linearly separable through the origin: labels from a random unit teacher direction. */
export function linearTeacherData(rng: Rng, n: number, d: number, gap: number): Dataset & { teacher: number[] } {
  const teacher = unitVector(rng, d);
  return { ...sampleWithMargin(rng, n, d, gap, (x) => dot(teacher, x)), teacher };
}

/** A one-hidden-layer ReLU teacher f(x) = Σ_i a_i relu(u_i·x), unit rows u_i, ‖a‖ = 1. */
export interface Teacher {
  U: number[][];
  a: number[];
}

/**
 * A ReLU teacher of the given width with output weights of alternating sign (all positive would
 * label every point +1), scaled so that ‖a‖ = 1.
 */
export function reluTeacher(rng: Rng, d: number, width: number): Teacher {
  const U = Array.from({ length: width }, () => unitVector(rng, d));
  const raw = U.map((_, i) => (i % 2 === 0 ? 1 : -1) * (0.5 + rng.uniform()));
  const an = Math.hypot(...raw);
  return { U, a: raw.map((v) => v / an) };
}

export function teacherScore(t: Teacher, x: number[]): number {
  return t.U.reduce((s, u, i) => s + t.a[i] * Math.max(0, dot(u, x)), 0);
}

/** Labels from a random ReLU teacher of the given width, with the margin filter. */
export function reluTeacherData(rng: Rng, n: number, d: number, width: number, gap: number): Dataset {
  const teacher = reluTeacher(rng, d, width);
  return sampleWithMargin(rng, n, d, gap, (x) => teacherScore(teacher, x));
}

/**
 * Label noise: `count` distinct points x_n are added again with the opposite label. No function
 * gives one input both signs, so no network fits the set. With count ≥ d points that span R^d (so
 * almost surely for Gaussian points) it is non-separable in the strong sense that matters for
 * linear and deep linear models: every direction w ≠ 0 has a point with negative margin, so the
 * loss grows in every direction and ρ stays bounded. (A ReLU net can still grow with f = 0 on
 * the noisy points.)
 */
export function withLabelNoise(data: Dataset, rng: Rng, count: number): Dataset {
  const n = data.X.length;
  if (!Number.isInteger(count) || count < 0) throw new InputError(`label noise needs a whole number of points, got ${count}`);
  if (count > n) throw new InputError(`label noise on ${count} points needs at least that many, have ${n}`);
  const noisy = sampleWithoutReplacement(rng, n, count);
  return { X: [...data.X, ...noisy.map((i) => [...data.X[i]])], y: [...data.y, ...noisy.map((i) => -data.y[i])] };
}

/** Checks that `value` is a well-formed data set and returns it typed; names the first problem. */
export function parseDataset(value: unknown, source: string): Dataset {
  if (typeof value !== 'object' || value === null) throw new InputError(`${source}: expected a JSON object with "X" and "y"`);
  const { X, y } = value as { X?: unknown; y?: unknown };
  if (!Array.isArray(X)) throw new InputError(`${source}: "X" must be an array of rows`);
  if (!Array.isArray(y)) throw new InputError(`${source}: "y" must be an array of labels`);
  if (X.length === 0) throw new InputError(`${source}: "X" is empty`);
  if (X.length !== y.length) throw new InputError(`${source}: "X" has ${X.length} rows but "y" has ${y.length} labels`);
  let d = -1;
  X.forEach((row, n) => {
    if (!Array.isArray(row)) throw new InputError(`${source}: X[${n}] is not an array`);
    if (d < 0) d = row.length;
    if (row.length === 0) throw new InputError(`${source}: X[${n}] is empty`);
    if (row.length !== d) throw new InputError(`${source}: ragged rows: X[0] has ${d} values but X[${n}] has ${row.length}`);
    row.forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new InputError(`${source}: X[${n}][${i}] is not a finite number (${String(v)})`);
    });
  });
  y.forEach((v, n) => {
    if (v !== 1 && v !== -1) throw new InputError(`${source}: y[${n}] is ${JSON.stringify(v)}; labels must be -1 or +1`);
  });
  return { X: X as number[][], y: y as number[] };
}

/** Legal but degenerate sets: training still runs, the user is told. */
export function datasetWarnings(data: Dataset): string[] {
  const warnings: string[] = [];
  if (data.y.every((v) => v === data.y[0])) warnings.push(`every label is ${data.y[0]}: one class only`);
  const seen = new Set<string>();
  let dup = 0;
  for (const row of data.X) {
    const key = JSON.stringify(row);
    if (seen.has(key)) dup++;
    seen.add(key);
  }
  if (dup > 0) warnings.push(`${dup} duplicate point(s)`);
  return warnings;
}

/** Reads JSON from a file, turning every way of failing into one InputError line. */
export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read ${what} file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`${what} file ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

export function loadDataset(path: string): Dataset {
  return parseDataset(readJsonFile(path, 'data'), path);
}
