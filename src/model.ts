import { InputError, parameterError } from './errors.js';
import type { Rng } from './rng.js';

/**
 * Positively homogeneous networks without biases. `depth` is the number of weight layers K, which
 * is also the degree of homogeneity: f(cW_1, …, cW_K; x) = c^K f(W; x).
 *   linear       f = w·x                       (K = 1)
 *   deep-linear  f = W_K ⋯ W_2 W_1 x
 *   relu         f = W_K relu(W_{K−1} ⋯ relu(W_1 x))
 */
export type ModelKind = 'linear' | 'deep-linear' | 'relu';
export interface ModelSpec {
  kind: ModelKind;
  depth: number;
  width: number;
}

/** Host-side weights: layer k is a matrix [out][in], input layer first, last layer one row. */
export type Weights = number[][][];

export const MODEL_KINDS: readonly ModelKind[] = ['linear', 'deep-linear', 'relu'];

/**
 * Bounds on depth and width far beyond any claim's networks: past them a typo (a width of 1e9)
 * would exhaust memory or hang rather than fail.
 */
export const MAX_DEPTH = 64;
export const MAX_WIDTH = 100_000;

/** Fills in and checks depth and width; `linear` is always one layer [1][d]. */
export function modelSpec(kind: ModelKind, depth = 2, width = 16): ModelSpec {
  if (kind === 'linear') return { kind, depth: 1, width: 1 };
  if (!Number.isInteger(depth) || depth < 2 || depth > MAX_DEPTH) throw parameterError('depth', `must be an integer in 2..${MAX_DEPTH} for ${kind}, got ${depth}`);
  if (!Number.isInteger(width) || width < 1 || width > MAX_WIDTH) throw parameterError('width', `must be an integer in 1..${MAX_WIDTH}, got ${width}`);
  return { kind, depth, width };
}

/** [out, in] of every layer for inputs of dimension d. */
export function layerShapes(spec: ModelSpec, d: number): [number, number][] {
  if (spec.kind === 'linear') return [[1, d]];
  const shapes: [number, number][] = [];
  for (let k = 0; k < spec.depth; k++) {
    const fanIn = k === 0 ? d : spec.width;
    const fanOut = k === spec.depth - 1 ? 1 : spec.width;
    shapes.push([fanOut, fanIn]);
  }
  return shapes;
}

export type InitKind = 'zero' | 'gaussian';

/**
 * Gaussian entries N(0, scale²/fan_in), so `scale` sets each layer's typical gain; zero init only
 * for the linear model, where it is the setting of Soudry et al. (for K ≥ 2 zero is a saddle with
 * zero gradient and training would never move).
 */
export function initWeights(spec: ModelSpec, d: number, init: InitKind, scale: number, rng: Rng): Weights {
  if (init === 'zero') {
    if (spec.kind !== 'linear') throw parameterError('init', `zero is only for the linear model: ${spec.kind} would stay at the zero saddle`);
    return [[new Array(d).fill(0)]];
  }
  if (!(scale > 0) || !Number.isFinite(scale)) throw parameterError('scale', `must be a positive number, got ${scale}`);
  return layerShapes(spec, d).map(([out, inp]) =>
    Array.from({ length: out }, () => Array.from({ length: inp }, () => (scale * rng.gaussian()) / Math.sqrt(inp))),
  );
}

/** Checks given weights against the architecture and data dimension; names the first mismatch. */
export function checkWeights(weights: unknown, spec: ModelSpec, d: number, source: string): Weights {
  const shapes = layerShapes(spec, d);
  if (!Array.isArray(weights)) throw new InputError(`${source}: "weights" must be an array of layer matrices`);
  if (weights.length !== shapes.length) {
    throw new InputError(`${source}: ${weights.length} layers given, ${spec.kind} with depth ${spec.depth} has ${shapes.length}`);
  }
  shapes.forEach(([out, inp], k) => {
    const W = weights[k];
    if (!Array.isArray(W) || W.length !== out) throw new InputError(`${source}: layer ${k} must have ${out} rows [out][in], has ${Array.isArray(W) ? W.length : 'none'}`);
    W.forEach((row: unknown, i: number) => {
      if (!Array.isArray(row) || row.length !== inp) {
        throw new InputError(`${source}: layer ${k} row ${i} must have ${inp} entries (input dimension ${k === 0 ? `of the data, ${d}` : inp}), has ${Array.isArray(row) ? row.length : 'none'}`);
      }
      row.forEach((v: unknown, j: number) => {
        // Number.isFinite is false for every non-number too (no coercion): '1', null, true, NaN, ±∞
        if (!Number.isFinite(v)) throw new InputError(`${source}: layer ${k} entry [${i}][${j}] is not a finite number`);
      });
    });
  });
  return weights as Weights;
}

/** A layer stored flat (row-major, as tensors and the host copies hold it) as rows, each value × scale. */
export function asRows(values: ArrayLike<number>, rows: number, cols: number, scale = 1): number[][] {
  return Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => values[i * cols + j] * scale));
}
