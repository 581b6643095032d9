/**
 * FOR COMPARISON ONLY — not used by the project. A frozen copy of the training step as it was before
 * issue 6 (src/train.ts, src/loss.ts `objective` and src/model.ts `forward` at that time): ∇ log L by
 * tf.valueAndGrads, which records a tape of every kernel, the log-space loss taped through
 * tf.logSumExp, `X·Wᵀ` with transposeB, a scalar tensor made from c every step. bench/bench.ts runs
 * it side by side with the current Trainer to measure the before/after in one process. Do not fix or
 * speed up anything here: it is the baseline.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../src/data.js';
import { DivergenceError, InputError } from '../src/errors.js';
import { fittedThreshold, type LossSpec } from '../src/loss.js';
import type { ModelKind, Weights } from '../src/model.js';
import { stream, type Rng } from '../src/rng.js';
import type { StepInfo, TrainOptions } from '../src/train.js';

/** The old src/model.ts forward: h ← h·Wᵀ (transposeB), relu between layers. */
function legacyForward(layers: tf.Tensor2D[], X: tf.Tensor2D, kind: ModelKind): tf.Tensor1D {
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
function legacyObjective(q: tf.Tensor1D, spec: LossSpec): { value: tf.Scalar; isLog: boolean } {
  const n = q.shape[0];
  if (spec.loss === 'squared') {
    const L = tf.sum(tf.square(tf.sub(1, q)));
    return { value: (spec.reduction === 'mean' ? tf.div(L, n) : L) as tf.Scalar, isLog: false };
  }
  const perPoint = spec.loss === 'exp' ? tf.neg(q) : logLogistic(q);
  const logL = tf.logSumExp(perPoint);
  return { value: (spec.reduction === 'mean' ? tf.sub(logL, Math.log(n)) : logL) as tf.Scalar, isLog: true };
}

function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  const m = Math.max(a, b);
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

export class LegacyTrainer {
  readonly layers: tf.Variable<tf.Rank.R2>[];
  readonly n: number;
  stepCount = 0;
  logFlowTime = -Infinity;
  /** log L before the last step that had a finite loss, for divergence reports. */
  lastFiniteLogLoss = NaN;
  private readonly X: tf.Tensor2D;
  private readonly y: tf.Tensor1D;
  private readonly batchRng: Rng | null;
  private readonly K: number;

  constructor(data: Dataset, init: Weights, readonly opts: TrainOptions) {
    if (!(opts.lr > 0) || !Number.isFinite(opts.lr)) throw new InputError(`the step (--lr) must be a positive number, got ${opts.lr}`);
    this.n = data.X.length;
    const b = opts.batchSize;
    if (b !== undefined && (!Number.isInteger(b) || b < 1 || b > this.n)) throw new InputError(`batch size must be an integer in 1..${this.n}, got ${b}`);
    if (opts.schedule === 'flow' && opts.loss === 'squared') throw new InputError('the flow schedule needs an exponential-type loss (exp or logistic), not squared');
    if (opts.schedule === 'flow' && b !== undefined && b < this.n) throw new InputError('the flow schedule needs full-batch steps (it divides by the full loss)');
    if (opts.layerLr && opts.layerLr.length !== init.length) throw new InputError(`layerLr needs ${init.length} multipliers, got ${opts.layerLr.length}`);
    this.K = init.length;
    this.batchRng = b !== undefined && b < this.n ? stream(opts.seed ?? 1, 'batches') : null;
    // Tensors made inside tidy are freed when the variables have copied them.
    [this.X, this.y, this.layers] = tf.tidy(() => {
      const X = tf.keep(tf.tensor2d(data.X));
      const y = tf.keep(tf.tensor1d(data.y));
      return [X, y, init.map((W) => tf.variable(tf.tensor2d(W)))];
    });
  }

  /** log L and ∇(log L or L) of the objective on the given rows, as in `objective`. */
  private lossAndGrad(X: tf.Tensor2D, y: tf.Tensor1D, logScale: number) {
    let isLog = true;
    const f = (...Ws: tf.Tensor[]) => {
      const q = tf.mul(y, legacyForward(Ws as tf.Tensor2D[], X, this.opts.model.kind)) as tf.Tensor1D;
      const obj = legacyObjective(q, this.opts);
      isLog = obj.isLog;
      return isLog ? tf.add(obj.value, logScale) : tf.mul(obj.value, Math.exp(logScale));
    };
    const { value, grads } = tf.valueAndGrads(f)(this.layers);
    return { value: value as tf.Scalar, grads, isLog };
  }

  /** One step of the configured trainer. Throws DivergenceError if the loss is not finite. */
  step(): StepInfo {
    const opts = this.opts;
    return tf.tidy(() => {
      let X = this.X;
      let y = this.y;
      let logScale = 0; // the minibatch sum loss estimates the full sum: scale by N/B
      if (this.batchRng) {
        const idx = tf.tensor1d(sampleWithoutReplacement(this.batchRng, this.n, opts.batchSize!), 'int32');
        X = tf.gather(this.X, idx);
        y = tf.gather(this.y, idx);
        if (opts.reduction === 'sum') logScale = Math.log(this.n / opts.batchSize!);
      }
      const { value, grads, isLog } = this.lossAndGrad(X, y, logScale);
      const v = value.dataSync()[0];
      const logL = isLog ? v : Math.log(v);
      if (!Number.isFinite(v)) {
        throw new DivergenceError(
          `training produced a non-finite loss (${v}) at step ${this.stepCount + 1}` +
            (this.stepCount > 0 ? ` (log L was ${this.lastFiniteLogLoss} before step ${this.stepCount})` : ''),
        );
      }
      this.lastFiniteLogLoss = logL;
      const c = this.coefficient(logL, isLog);
      const stepSize = isLog ? c / Math.exp(logL) : c;
      this.layers.forEach((W, k) => {
        let delta = tf.mul(grads[k], c * (opts.layerLr?.[k] ?? 1));
        if (opts.weightDecay) delta = tf.add(delta, tf.mul(W, opts.lr * opts.weightDecay));
        W.assign(tf.sub(W, delta) as tf.Tensor2D);
      });
      this.stepCount++;
      this.logFlowTime = logAddExp(this.logFlowTime, Math.log(stepSize));
      return { logLoss: logL, stepSize, undone: 0, coefficient: c };
    });
  }

  private coefficient(logL: number, isLog: boolean): number {
    const { lr, schedule, reduction, loss } = this.opts;
    if (!isLog) return lr;
    if (schedule === 'flow') {
      const logSum = logL + (reduction === 'mean' ? Math.log(this.n) : 0);
      // Fitted: η_t = η₀/(L (log 1/L)^{2−2/K}); the log is floored at 1 so that a sum loss just
      // below 1 (log 1/L → 0) does not make the step explode.
      if (logSum < Math.log(fittedThreshold(loss))) return lr / Math.max(1, -logL) ** (2 - 2 / this.K);
      // Not fitted: plain GD while L ≤ 1, loss-normalized steps η₀/L while L > 1, which keeps the
      // first steps from a badly misfit init (L = e^{100}, say) finite. Both are positive time
      // changes of the same flow.
      return lr * Math.min(1, Math.exp(logL));
    }
    return lr * Math.exp(logL);
  }

  /** ∇L of the full objective at the current weights, in float64 from float32. */
  gradient(): { logLoss: number; grads: Weights } {
    return tf.tidy(() => {
      const { value, grads, isLog } = this.lossAndGrad(this.X, this.y, 0);
      const v = value.dataSync()[0];
      const scale = isLog ? Math.exp(v) : 1;
      return { logLoss: isLog ? v : Math.log(v), grads: grads.map((g) => (g.arraySync() as number[][]).map((r) => r.map((x) => x * scale))) };
    });
  }

  weights(): Weights {
    return this.layers.map((W) => W.arraySync());
  }

  dispose(): void {
    tf.dispose([this.X, this.y, ...this.layers]);
  }
}

function sampleWithoutReplacement(rng: Rng, n: number, k: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, k);
}

