/**
 * A float64 reference for the tests, independent of tfjs: forward pass and hand-written backprop
 * with the conventions of src/model.ts (layer k is [out][in], input layer first,
 * f = W_K relu(⋯ relu(W_1 x))), and the objectives of src/loss.ts as plain functions of the margins.
 * Not a test file.
 */
import { inject } from 'vitest';
import type { Dataset } from '../src/data.js';
import type { LossSpec } from '../src/loss.js';
import type { ModelKind, Weights } from '../src/model.js';
import { weightsOf, type WeightNormParams } from '../src/weightnorm.js';

const relu = (v: number) => (v > 0 ? v : 0);

/** f(W; x) and ∂f/∂W_k for every layer, by backprop (relu'(0) = 0, as in tfjs). */
export function outputGrad64(weights: Weights, x: number[], kind: ModelKind): { f: number; grads: Weights } {
  const K = weights.length;
  const inputs: number[][] = []; // input of layer k
  const pre: number[][] = []; // pre-activation of layer k
  let h = x;
  weights.forEach((W, k) => {
    inputs.push(h);
    const z = W.map((row) => row.reduce((s, w, j) => s + w * h[j], 0));
    pre.push(z);
    h = kind === 'relu' && k < K - 1 ? z.map(relu) : z;
  });
  const grads: Weights = new Array(K);
  let delta = [1]; // ∂f/∂(pre-activation of layer k)
  for (let k = K - 1; k >= 0; k--) {
    const W = weights[k];
    grads[k] = delta.map((dk) => inputs[k].map((hj) => dk * hj));
    if (k === 0) break;
    const back = W[0].map((_, j) => W.reduce((s, row, i) => s + row[j] * delta[i], 0));
    delta = kind === 'relu' ? back.map((v, j) => (pre[k - 1][j] > 0 ? v : 0)) : back;
  }
  return { f: h[0], grads };
}

/** log ℓ(q) and d log ℓ/dq for one margin, accurate for every q in float64. */
function logLossPoint(q: number, loss: 'exp' | 'logistic'): { v: number; dv: number } {
  if (loss === 'exp') return { v: -q, dv: -1 };
  // ℓ = softplus(−q); log ℓ = log(softplus(−q)); dℓ/dq = −σ(−q).
  const sp = q > 0 ? Math.log1p(Math.exp(-q)) : -q + Math.log1p(Math.exp(q));
  const logSp = q > 30 ? -q + Math.log1p(-Math.exp(-q) / 2) : Math.log(sp);
  const logSigma = -(q > 0 ? q + Math.log1p(Math.exp(-q)) : Math.log1p(Math.exp(q))); // log σ(−q)
  return { v: logSp, dv: -Math.exp(logSigma - logSp) };
}

/**
 * The objective of src/loss.ts at the given weights: L (sum or mean), log L, ∇L and the
 * loss-normalized gradient ∇log L (finite at any scale), all in float64.
 */
export function lossGrad64(
  weights: Weights,
  data: Dataset,
  kind: ModelKind,
  spec: LossSpec,
): { L: number; logL: number; grads: Weights; gradsLog: Weights; q: number[]; dLogL: number[] } {
  const N = data.X.length;
  const pts = data.X.map((x) => outputGrad64(weights, x, kind));
  const q = pts.map((p, n) => data.y[n] * p.f);
  let logL: number;
  let dLogL: number[]; // ∂ log L / ∂q_n (also for the mean: log(L/N) has the same gradient)
  if (spec.loss === 'squared') {
    const Lsum = q.reduce((s, v) => s + (1 - v) ** 2, 0);
    logL = Math.log(Lsum);
    dLogL = q.map((v) => (-2 * (1 - v)) / Lsum);
  } else {
    const per = q.map((v) => logLossPoint(v, spec.loss as 'exp' | 'logistic'));
    const m = Math.max(...per.map((p) => p.v));
    logL = m + Math.log(per.reduce((s, p) => s + Math.exp(p.v - m), 0));
    dLogL = per.map((p) => Math.exp(p.v - logL) * p.dv);
  }
  if (spec.reduction === 'mean') logL -= Math.log(N); // ∇log L is unchanged by the 1/N
  const L = Math.exp(logL);
  const gradsLog: Weights = weights.map((W) => W.map((row) => row.map(() => 0)));
  pts.forEach((p, n) => {
    const c = dLogL[n] * data.y[n];
    p.grads.forEach((G, k) => G.forEach((row, i) => row.forEach((g, j) => (gradsLog[k][i][j] += c * g))));
  });
  const grads = gradsLog.map((G) => G.map((row) => row.map((g) => g * L)));
  return { L, logL, grads, gradsLog, q, dLogL };
}

/** ∇L by central differences in float64, step h per entry scaled to the entry's size. */
export function finiteDiffGrad64(weights: Weights, data: Dataset, kind: ModelKind, spec: LossSpec, h = 1e-6): Weights {
  const W = weights.map((M) => M.map((row) => [...row]));
  const L = () => lossGrad64(W, data, kind, spec).L;
  return W.map((M) =>
    M.map((row) =>
      row.map((_, j) => {
        const w0 = row[j];
        const step = h * Math.max(1, Math.abs(w0));
        row[j] = w0 + step;
        const up = L();
        row[j] = w0 - step;
        const down = L();
        row[j] = w0;
        return (up - down) / (2 * step);
      }),
    ),
  );
}

/**
 * ∂L/∂g and ∇_v L of weight normalization, W_k = g_k v_k/‖v_k‖, by float64 central differences of
 * L(W(g, v)) in every g_k and every entry of v (step h per entry scaled to the entry's size):
 * no chain rule, only the loss `L` of the weights.
 */
export function finiteDiffWn64(p: WeightNormParams, L: (W: Weights) => number, h = 1e-6): { gradG: number[]; gradV: Weights } {
  const q: WeightNormParams = { g: [...p.g], v: p.v.map((V) => V.map((row) => [...row])) };
  const central = (get: () => number, set: (x: number) => void) => {
    const x0 = get();
    const step = h * Math.max(1, Math.abs(x0));
    set(x0 + step);
    const up = L(weightsOf(q));
    set(x0 - step);
    const down = L(weightsOf(q));
    set(x0);
    return (up - down) / (2 * step);
  };
  return {
    gradG: q.g.map((_, k) => central(() => q.g[k], (x) => (q.g[k] = x))),
    gradV: q.v.map((V) => V.map((row) => row.map((_, j) => central(() => row[j], (x) => (row[j] = x))))),
  };
}

// Small helpers on weight lists, used by several tests.
export const flat = (W: Weights): number[] => W.flat(2);
export const norm2 = (v: number[]): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
export const dist2 = (a: number[], b: number[]): number => norm2(a.map((v, i) => v - b[i]));
export const fround = (W: Weights): Weights => W.map((M) => M.map((row) => row.map(Math.fround)));
export const roundData = (d: Dataset): Dataset => ({ X: d.X.map((r) => r.map(Math.fround)), y: d.y });

/** |W_K| ⋯ |W_1| |x|: bounds every partial sum of f, so rounding errors are bounded by u·(this). */
export function absOutput(weights: Weights, x: number[]): number {
  let h = x.map(Math.abs);
  for (const W of weights) h = W.map((row) => row.reduce((s, w, j) => s + Math.abs(w) * h[j], 0));
  return h[0];
}

/**
 * ‖Σ_n |∂L/∂q_n| ∂f̄_n/∂W‖ with f̄ the network of |W| on |x|: every partial sum formed while
 * computing ∇L is bounded by this, so float rounding errors of ∇L are at most m·u times it
 * (Higham, m = the number of accumulations, a few tens here).
 */
export function gradScale64(weights: Weights, data: Dataset, spec: LossSpec, kind: ModelKind): number {
  const { L, dLogL } = lossGrad64(weights, data, kind, spec);
  const absW = weights.map((M) => M.map((row) => row.map(Math.abs)));
  const acc = flat(absW).map(() => 0);
  data.X.forEach((x, n) => {
    flat(outputGrad64(absW, x.map(Math.abs), 'linear').grads).forEach((g, i) => (acc[i] += Math.abs(L * dLogL[n]) * g));
  });
  return norm2(acc);
}

/**
 * The smallest |pre-activation| of a hidden ReLU over all points, ignoring units whose whole input
 * is zero (their pre-activation stays exactly 0 under any small change of the weights).
 * Finite differences are only valid when the step cannot cross a kink.
 */
export function kinkDistance(weights: Weights, X: number[][]): number {
  let min = Infinity;
  for (const x of X) {
    let h = x;
    for (const W of weights.slice(0, -1)) {
      const z = W.map((row) => row.reduce((s, w, j) => s + w * h[j], 0));
      if (h.some((v) => v !== 0)) for (const v of z) min = Math.min(min, Math.abs(v));
      h = z.map(relu);
    }
  }
  return min;
}

/** A property's number of runs, unless the profile overrides every count (THEORY3_RUNS). */
export const runs = (n: number): number => inject('theory3').runsOverride ?? n;

/** The spacing of float64 numbers at x (x not 0). */
export const ulp = (x: number): number => 2 ** (Math.floor(Math.log2(Math.abs(x))) - 52);
/** The float64 neighbours of 30, where the logistic tail formulas switch (spacing 2^-48 in [16, 32)). */
export const ABOVE_30 = 30 + 2 ** -48;
export const BELOW_30 = 30 - 2 ** -48;
export const LOGISTIC_SUM: LossSpec = { loss: 'logistic', reduction: 'sum' };

/**
 * log ℓ(q) of the logistic loss for q ≫ 0, and its derivative, as series in u = e^{−q} whose dropped
 * terms are O(u³) < 1e-25 past q = 30: log log1p(u) = −q − u/2 + 5u²/24 + …, and
 * (log ℓ)'(q) = −(u/(1 + u))/(u − u²/2 + …) = −1 + u/2 − 5u²/12 + … .
 */
export function logLogisticTail(q: number): number {
  const u = Math.exp(-q);
  return -q - u / 2 + (5 / 24) * u * u;
}
export function logLogisticTailSlope(q: number): number {
  const u = Math.exp(-q);
  return -1 + u / 2 - (5 / 12) * u * u;
}
