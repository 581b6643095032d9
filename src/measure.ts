import type { Dataset } from './data.js';
import { logLogistic, type LossSpec } from './loss.js';
import type { ModelKind, Weights } from './model.js';

/**
 * Metrics in float64 from downloaded weights. The training core runs in float32; measuring in
 * float64 keeps the measurement error far below the effects the properties look for.
 */

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function sumSquares(W: number[][]): number {
  let s = 0;
  for (const row of W) for (const v of row) s += v * v;
  return s;
}

/** log Σ e^{a_i} without overflow. */
export function logSumExp(a: number[]): number {
  // a loop, not Math.max(...a): spreading throws past ~10⁵ arguments
  let m = -Infinity;
  for (const v of a) m = Math.max(m, v);
  if (!Number.isFinite(m)) return m;
  let s = 0;
  for (const v of a) s += Math.exp(v - m);
  return m + Math.log(s);
}

/**
 * The weights α = softmax(−q) of the margins (the normalized gradient weights of the exp loss),
 * shifted by q_min so that they stay finite at any scale.
 */
export function softmaxNeg(q: ArrayLike<number>): Float64Array {
  let m = Infinity;
  for (let i = 0; i < q.length; i++) m = Math.min(m, q[i]);
  const p = new Float64Array(q.length);
  let s = 0;
  for (let i = 0; i < q.length; i++) s += p[i] = Math.exp(-(q[i] - m));
  for (let i = 0; i < q.length; i++) p[i] /= s;
  return p;
}

/** Every layer's output for one input, in float64 (hidden layers after the ReLU); the last is [f(W; x)]. */
export function layerOutputs(weights: Weights, x: number[], kind: ModelKind): number[][] {
  const out: number[][] = [];
  let h = x;
  weights.forEach((W, k) => {
    h = W.map((row) => dot(row, h));
    if (kind === 'relu' && k < weights.length - 1) h = h.map((v) => Math.max(0, v));
    out.push(h);
  });
  return out;
}

/** f(W; x_n) for every point, in float64. */
export function outputs(weights: Weights, X: number[][], kind: ModelKind): number[] {
  return X.map((x) => layerOutputs(weights, x, kind)[weights.length - 1][0]);
}

export function margins(weights: Weights, data: Dataset, kind: ModelKind): number[] {
  return outputs(weights, data.X, kind).map((f, n) => data.y[n] * f);
}

/** Natural log of the training objective as configured (sum or mean). */
export function logLoss(q: number[], spec: LossSpec): number {
  const n = q.length;
  const shift = spec.reduction === 'mean' ? Math.log(n) : 0;
  if (spec.loss === 'squared') return Math.log(q.reduce((s, v) => s + (1 - v) ** 2, 0)) - shift;
  return logSumExp(spec.loss === 'exp' ? q.map((v) => -v) : q.map(logLogistic)) - shift;
}

/**
 * ℓ^{-1}(L_sum): the margin a single point would need to carry the whole sum loss. Exp: −log L;
 * logistic: −log(e^L − 1). For the squared control, which has no such inverse, the exp form of the
 * same margins is used (a soft minimum of q).
 */
export function inverseLossOfSum(q: number[], loss: LossSpec['loss']): number {
  if (loss !== 'logistic') return -logSumExp(q.map((v) => -v));
  const logL = logLoss(q, { loss, reduction: 'sum' });
  const L = Math.exp(logL);
  if (logL < -30) return -logL - L / 2; // expm1(L)/L = 1 + L/2 + …
  if (L > 30) return -L - Math.log1p(-Math.exp(-L)); // e^L − 1 = e^L (1 − e^{−L}), no overflow
  return -Math.log(Math.expm1(L));
}

export interface Metrics {
  logLoss: number;
  norm: number;
  rho: number;
  layerNorms: number[];
  minMargin: number;
  normalizedMargin: number;
  smoothedMargin: number;
}

/** The record fields of THEORY.md: norms, ρ, losses and margins (normalized by ‖θ‖^K). */
export function measure(weights: Weights, data: Dataset, kind: ModelKind, spec: LossSpec): Metrics {
  return metricsOf(margins(weights, data, kind), weights.map(sumSquares), spec);
}

/**
 * The record fields from the margins q_n and each layer's ‖W_k‖²_F, in float64; loops only, so
 * that it serves thousands of images (src/nn/records.ts) as well as measure().
 */
export function metricsOf(q: number[], layerSquares: number[], spec: LossSpec): Metrics {
  const K = layerSquares.length;
  const norms = layerSquares.map(Math.sqrt);
  const norm = Math.sqrt(layerSquares.reduce((s, v) => s + v, 0));
  let minMargin = Infinity;
  for (const v of q) minMargin = Math.min(minMargin, v);
  // The zero network (step 0 of a zero init) has no direction: its margins are reported as 0.
  const scale = norm === 0 ? Infinity : norm ** K;
  return {
    logLoss: logLoss(q, spec),
    norm,
    rho: norms.reduce((p, v) => p * v, 1),
    layerNorms: norms,
    minMargin,
    normalizedMargin: minMargin / scale,
    smoothedMargin: inverseLossOfSum(q, spec.loss) / scale,
  };
}

/** Angle between two vectors with atan2, accurate for tiny angles (acos bottoms out near 1.5e-8). */
export function angle(a: number[], b: number[]): number {
  const nb = Math.hypot(...b);
  const u = b.map((v) => v / nb);
  const along = dot(a, u);
  const perp = Math.hypot(...a.map((v, i) => v - along * u[i]));
  return Math.atan2(perp, along);
}

/**
 * `direction` turned by `eps` rad in the plane it spans with `toward`, by default the first
 * coordinate axis (the second, if it lies within acos 0.9 of the first): a wrong prediction for the
 * negative controls of the direction checks. Needs 2 or more dimensions. On real images the first
 * pixel is 0 in every image, so the default turns into a direction no run can reach, and any run
 * ends ≥ |eps| from it; there the controls turn towards a vector in the data's span.
 */
export function rotated(direction: number[], eps: number, toward?: number[]): number[] {
  const n = Math.hypot(...direction);
  const u = direction.map((v) => v / n);
  const axis = Math.abs(u[0]) < 0.9 ? 0 : 1;
  // `toward` (or a coordinate axis) minus its part along u: a unit vector p ⟂ u after division by its norm
  const t = toward ?? u.map((_, i) => (i === axis ? 1 : 0));
  const along = dot(t, u);
  const p = t.map((v, i) => v - along * u[i]);
  const pn = Math.hypot(...p);
  if (!(pn > 1e-12 * Math.hypot(...t))) throw new RangeError('rotated: the plane vector is parallel to the direction');
  return u.map((v, i) => n * (Math.cos(eps) * v + (Math.sin(eps) * p[i]) / pn));
}

/** The end-to-end linear predictor W_K ⋯ W_1 of a linear or deep linear model, as a vector [d]. */
export function endToEnd(weights: Weights): number[] {
  let v = weights[weights.length - 1][0];
  for (let k = weights.length - 2; k >= 0; k--) {
    const W = weights[k];
    v = W[0].map((_, j) => W.reduce((s, row, i) => s + v[i] * row[j], 0));
  }
  return v;
}
