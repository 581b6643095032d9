import * as tf from '@tensorflow/tfjs';
import type { LossSpec } from '../src/loss.js';
import type { ModelKind } from '../src/model.js';

/**
 * The training objective on tfjs tensors, differentiable by the tfjs tape: the float32 reference
 * that the tests hold src/loss.ts's float64 objectiveOfOutputs and the trainers' hand-written
 * backward passes against (an independent way to the same log L and gradient).
 */

/**
 * f(W; X) of a dense model (layers [out][in]) for a batch X [N, d] → [N], by plain tfjs ops that
 * the tape differentiates: the trainers run src/nn layers with hand-written backward passes, and
 * this is the independent float32 path the tests compare them with.
 */
export function tapedForward(layers: tf.Tensor2D[], X: tf.Tensor2D, kind: ModelKind): tf.Tensor1D {
  let h: tf.Tensor2D = X;
  layers.forEach((W, k) => {
    h = tf.matMul(h, W, false, true);
    if (kind === 'relu' && k < layers.length - 1) h = tf.relu(h);
  });
  return tf.reshape(h, [-1]) as tf.Tensor1D;
}

/** Past this margin float32 log(softplus(−q)) loses accuracy; switch to −q + log1p-series. */
const LOGISTIC_SWITCH = 15;

/**
 * log ℓ(q) per point for the logistic loss ℓ(q) = log(1 + e^{−q}), finite for every q, with its
 * derivative ℓ'(q)/ℓ(q) given in closed form: tfjs cannot differentiate through the branch
 * condition, and the closed form is also what keeps the gradient accurate in the tail.
 */
const logLogistic32 = tf.customGrad(((q: tf.Tensor, save: tf.GradSaveFunc) => {
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
  const perPoint = spec.loss === 'exp' ? tf.neg(q) : logLogistic32(q);
  const logL = tf.logSumExp(perPoint);
  return { value: (spec.reduction === 'mean' ? tf.sub(logL, Math.log(n)) : logL) as tf.Scalar, isLog: true };
}

