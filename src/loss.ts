import * as tf from '@tensorflow/tfjs';

/**
 * Training objectives as functions of the margins q_n = y_n f(x_n). Exponential-type losses are
 * computed in log space: float32 e^{−q} is 0 past q ≈ 104, which would stop training silently,
 * while log L = LSE(log ℓ(q_n)) and its gradient stay finite at any scale.
 * Two forms of the same objective: `objective`, on tfjs tensors and differentiable by tfjs, and
 * `objectiveOfOutputs`, in float64 on the host with its derivative written out, which the Trainer
 * uses (one download of the outputs instead of a taped log-sum-exp).
 */
export type LossKind = 'exp' | 'logistic' | 'squared';
export type Reduction = 'sum' | 'mean';
export const LOSS_KINDS: readonly LossKind[] = ['exp', 'logistic', 'squared'];

export interface LossSpec {
  loss: LossKind;
  reduction: Reduction;
}

/** Past this margin float32 log(softplus(−q)) loses accuracy; switch to −q + log1p-series. */
const LOGISTIC_SWITCH = 15;

/**
 * log ℓ(q) per point for the logistic loss ℓ(q) = log(1 + e^{−q}), finite for every q, with its
 * derivative ℓ'(q)/ℓ(q) given in closed form: tfjs cannot differentiate through the branch
 * condition, and the closed form is also what keeps the gradient accurate in the tail.
 */
const logLogistic = tf.customGrad(((q: tf.Tensor, save: tf.GradSaveFunc) => {
  // Each branch sees its input clamped to its own side, so neither makes ∞ or NaN.
  const small = tf.minimum(q, LOGISTIC_SWITCH);
  const large = tf.maximum(q, LOGISTIC_SWITCH);
  const inTail = tf.greaterEqual(q, LOGISTIC_SWITCH);
  save([small, large, inTail]);
  // Tail: log log1p(u) = log u + log(log1p(u)/u) ≈ −q − u/2 for u = e^{−q} ≤ 3e-7.
  const value = tf.where(inTail, tf.sub(tf.neg(large), tf.mul(0.5, tf.exp(tf.neg(large)))), tf.log(tf.softplus(tf.neg(small))));
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sm, lg, tail] = saved;
      const head = tf.neg(tf.div(tf.sigmoid(tf.neg(sm)), tf.softplus(tf.neg(sm))));
      const tailGrad = tf.sub(tf.mul(0.5, tf.exp(tf.neg(lg))), 1);
      return tf.mul(dy, tf.where(tail, tailGrad, head));
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (q: tf.Tensor1D) => tf.Tensor1D;

/**
 * The objective L of margins q with its kind of value: for exp and logistic `log L` (isLog),
 * for the squared control L itself (it reaches 0 at interpolation, where log L is −∞).
 * The mean reduction divides L by the number of margins given.
 */
export function objective(q: tf.Tensor1D, spec: LossSpec): { value: tf.Scalar; isLog: boolean } {
  const n = q.shape[0];
  if (spec.loss === 'squared') {
    const L = tf.sum(tf.square(tf.sub(1, q)));
    return { value: (spec.reduction === 'mean' ? tf.div(L, n) : L) as tf.Scalar, isLog: false };
  }
  const perPoint = spec.loss === 'exp' ? tf.neg(q) : logLogistic(q);
  const logL = tf.logSumExp(perPoint);
  return { value: (spec.reduction === 'mean' ? tf.sub(logL, Math.log(n)) : logL) as tf.Scalar, isLog: true };
}

/** The value of the sum loss below which every margin is positive (ℓ(0) for one point). */
export function fittedThreshold(loss: LossKind): number {
  return loss === 'logistic' ? Math.LN2 : 1;
}

/** Past this margin ℓ(q) = log1p(e^{−q}) is below 1e-13 and its series in u = e^{−q} is exact in float64. */
const LOGISTIC_TAIL = 30;

/**
 * The objective of the network outputs f_n on the host, in float64, and its derivative: what the
 * training step needs from the loss. The margins are q_n = y_n f_n; `logScale` multiplies L by
 * e^{logScale} (a minibatch estimate of the full sum). For exp and logistic the value is log L and
 * the derivative ∂ log L/∂f_n = y_n softmax(log ℓ(q))_n (log ℓ)'(q_n), finite at any scale; for the
 * squared control the value is L itself and the derivative ∂L/∂f_n.
 *
 * In float64 from the float32 outputs, its only error is the rounding of f (the tfjs `objective`
 * above rounds every intermediate to float32 as well), and it is O(N) scalar work: cheaper on the
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
    // ℓ(q) = softplus(−q) = max(−q, 0) + log1p(u), σ(−q) = (q > 0 ? u : 1)/(1 + u), u = e^{−|q|}
    const q = y[i] * f[i];
    const u = Math.exp(-Math.abs(q));
    let logL: number;
    let dLog: number; // (log ℓ)'(q) = −σ(−q)/ℓ(q)
    if (q < LOGISTIC_TAIL) {
      const l = Math.max(-q, 0) + Math.log1p(u);
      logL = Math.log(l);
      dLog = -(q > 0 ? u : 1) / (1 + u) / l;
    } else {
      // ℓ = u(1 − u/2 + …) with u ≤ 1e-13: log ℓ = −q + log1p(−u/2), σ(−q)/ℓ = 1/((1 + u)(1 − u/2))
      logL = -q + Math.log1p(-u / 2);
      dLog = -1 / ((1 + u) * (1 - u / 2));
    }
    m = Math.max(m, (per[i] = logL));
    grad[i] = dLog * y[i];
  }
  let s = 0;
  for (let i = 0; i < n; i++) s += per[i] = Math.exp(per[i] - m);
  for (let i = 0; i < n; i++) grad[i] *= per[i] / s;
  return { value: m + Math.log(s) - shift + logScale, isLog: true, grad };
}

