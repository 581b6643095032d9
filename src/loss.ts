/**
 * Training objectives as functions of the margins q_n = y_n f(x_n), in float64 on the host with
 * their derivative written out (every trainer downloads the outputs once instead of taping a
 * log-sum-exp). Exponential-type losses are computed in log space: e^{−q} underflows past q ≈ 745
 * (float32: 104), which would stop training silently, while log L = LSE(log ℓ(q_n)) and its
 * gradient stay finite at any scale.
 */
export type LossKind = 'exp' | 'logistic' | 'squared';
export type Reduction = 'sum' | 'mean';
export const LOSS_KINDS: readonly LossKind[] = ['exp', 'logistic', 'squared'];

export interface LossSpec {
  loss: LossKind;
  reduction: Reduction;
}

/** The value of the sum loss below which every margin is positive (ℓ(0) for one point). */
export function fittedThreshold(loss: LossKind): number {
  return loss === 'logistic' ? Math.LN2 : 1;
}

/** Past this margin ℓ(q) = log1p(e^{−q}) is below 1e-13 and its series in u = e^{−q} is exact in float64. */
const LOGISTIC_TAIL = 30;

/** The logistic loss ℓ(q) = log(1 + e^{−q}) = softplus(−q), accurate for every q. */
export function logistic(q: number): number {
  return q > 0 ? Math.log1p(Math.exp(-q)) : -q + Math.log1p(Math.exp(q));
}

/**
 * log ℓ(q) of the logistic loss, finite for every q: past LOGISTIC_TAIL, where e^{−q} underflows
 * long before log ℓ(q) ≈ −q leaves the float64 range, ℓ = u(1 − u/2 + …) with u = e^{−q} ≤ 1e-13,
 * so log ℓ = −q + log1p(−u/2).
 */
export function logLogistic(q: number): number {
  return q < LOGISTIC_TAIL ? Math.log(logistic(q)) : -q + Math.log1p(-Math.exp(-q) / 2);
}

/**
 * The objective of the network outputs f_n on the host, in float64, and its derivative: what the
 * training step needs from the loss. The margins are q_n = y_n f_n; `logScale` multiplies L by
 * e^{logScale} (a minibatch estimate of the full sum). For exp and logistic the value is log L and
 * the derivative ∂ log L/∂f_n = y_n softmax(log ℓ(q))_n (log ℓ)'(q_n), finite at any scale; for the
 * squared control the value is L itself and the derivative ∂L/∂f_n.
 *
 * In float64 from the float32 outputs, its only error is the rounding of f (a tfjs objective would
 * round every intermediate to float32 as well), and it is O(N) scalar work: cheaper on the
 * host than the half-dozen kernels of a log-sum-exp and its gradient on the backend.
 */
export interface OutputObjective {
  /** log L (isLog) or L (squared). */
  value: number;
  isLog: boolean;
  /** ∂value/∂f_n for every point. */
  grad: Float64Array;
}

export function objectiveOfOutputs(f: ArrayLike<number>, y: ArrayLike<number>, spec: LossSpec, logScale = 0): OutputObjective {
  const n = f.length;
  const grad = new Float64Array(n);
  const shift = spec.reduction === 'mean' ? Math.log(n) : 0;
  if (spec.loss === 'squared') {
    const scale = Math.exp(logScale - shift);
    let L = 0;
    for (let i = 0; i < n; i++) {
      const r = 1 - y[i] * f[i];
      L += r * r;
      grad[i] = -2 * r * y[i] * scale;
    }
    return { value: L * scale, isLog: false, grad };
  }
  // per[i] = log ℓ(q_i), then softmax weights e^{per[i] − log L}; NaN and ±∞ propagate to log L.
  const per = new Float64Array(n);
  let m = -Infinity;
  if (spec.loss === 'exp') {
    for (let i = 0; i < n; i++) m = Math.max(m, (per[i] = -y[i] * f[i]));
    let s = 0;
    for (let i = 0; i < n; i++) s += per[i] = Math.exp(per[i] - m);
    // (log ℓ)' = −1: ∂ log L/∂f_n = −y_n softmax(−q)_n
    for (let i = 0; i < n; i++) grad[i] = (-per[i] / s) * y[i];
    return { value: m + Math.log(s) - shift + logScale, isLog: true, grad };
  }
  for (let i = 0; i < n; i++) {
    const q = y[i] * f[i];
    const u = Math.exp(-Math.abs(q));
    // (log ℓ)'(q) = −σ(−q)/ℓ(q), σ(−q) = (q > 0 ? u : 1)/(1 + u); in the tail ℓ = u(1 − u/2 + …),
    // so σ(−q)/ℓ = 1/((1 + u)(1 − u/2))
    const dLog = q < LOGISTIC_TAIL ? -(q > 0 ? u : 1) / (1 + u) / logistic(q) : -1 / ((1 + u) * (1 - u / 2));
    m = Math.max(m, (per[i] = logLogistic(q)));
    grad[i] = dLog * y[i];
  }
  let s = 0;
  for (let i = 0; i < n; i++) s += per[i] = Math.exp(per[i] - m);
  for (let i = 0; i < n; i++) grad[i] *= per[i] / s;
  return { value: m + Math.log(s) - shift + logScale, isLog: true, grad };
}

