import * as tf from '@tensorflow/tfjs';
import type { Dataset } from './data.js';
import { DivergenceError, InputError } from './errors.js';
import { fittedThreshold, objective, type LossSpec } from './loss.js';
import { measure, type Metrics } from './measure.js';
import { forward, type ModelSpec, type Weights } from './model.js';
import { stream, type Rng } from './rng.js';

/**
 * Steppers. Every step computes g = ∇ log L (exp, logistic) or g = ∇L (squared) on the active tfjs
 * backend and moves W ← W − c·g, where the host picks the scalar c in float64:
 *   constant  c = η·L            plain gradient descent with step η (∇L = L·∇log L)
 *   flow      c = η₀/max(1, log 1/L)^{2−2/K} once every margin is positive, c = η₀·min(1, L)
 *             before: the step η_t = c/L follows the gradient-flow path with a time change, so ρ
 *             grows linearly in steps instead of like log t (THEORY.md, Numerics).
 * Flow time t = Σ η_t is accumulated in log space, since η_t grows like 1/L.
 */
export type Schedule = 'constant' | 'flow';
export const SCHEDULES: readonly Schedule[] = ['constant', 'flow'];

export interface TrainOptions extends LossSpec {
  model: ModelSpec;
  schedule: Schedule;
  /** η of the constant schedule, η₀ of the flow schedule. */
  lr: number;
  /** Minibatch SGD with this batch size (sampled without replacement each step); full batch if absent. */
  batchSize?: number;
  /** Seed of the `batches` stream for SGD. */
  seed?: number;
  /** Negative control: per-layer multipliers of the step, which break the balance identities. */
  layerLr?: number[];
  /** Negative control: weight decay λ, adding λW to every layer's gradient. */
  weightDecay?: number;
}

export interface StepInfo {
  /** log of the objective on the step's batch, before the step (float32 precision). */
  logLoss: number;
  /** The step η_t on L itself, so that flow time advances by it. */
  stepSize: number;
}

function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  const m = Math.max(a, b);
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

export class Trainer {
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
      const q = tf.mul(y, forward(Ws as tf.Tensor2D[], X, this.opts.model.kind)) as tf.Tensor1D;
      const obj = objective(q, this.opts);
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
      return { logLoss: logL, stepSize };
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

export interface TrainRecord extends Metrics {
  step: number;
  /** Σ η_t; may exceed float64 (see logFlowTime). */
  flowTime: number;
  logFlowTime: number;
  [extra: string]: unknown;
}

export interface RunOptions {
  steps: number;
  /** Steps after which to record (0 = the initial weights); the last step is always recorded. */
  record?: Iterable<number>;
  /** Adds fields to a record (e.g. the angle to the SVM). */
  annotate?: (weights: Weights, record: TrainRecord) => void;
}

/** Trains from `init` for `steps` steps and returns the records and the final weights. */
export function train(data: Dataset, init: Weights, opts: TrainOptions, run: RunOptions): { records: TrainRecord[]; weights: Weights } {
  if (!Number.isInteger(run.steps) || run.steps < 1) throw new InputError(`--steps must be a positive integer, got ${run.steps}`);
  const wanted = new Set(run.record ?? []);
  wanted.add(run.steps);
  const trainer = new Trainer(data, init, opts);
  const records: TrainRecord[] = [];
  const snapshot = (): TrainRecord => {
    const weights = trainer.weights();
    const rec: TrainRecord = {
      step: trainer.stepCount,
      flowTime: Math.exp(trainer.logFlowTime),
      logFlowTime: trainer.logFlowTime,
      ...measure(weights, data, opts.model.kind, opts),
    };
    if (!weights.every((W) => W.every((r) => r.every(Number.isFinite)))) {
      throw new DivergenceError(`training produced non-finite weights by step ${rec.step}`);
    }
    run.annotate?.(weights, rec);
    return rec;
  };
  try {
    if (wanted.has(0)) records.push(snapshot());
    while (trainer.stepCount < run.steps) {
      trainer.step();
      if (wanted.has(trainer.stepCount)) records.push(snapshot());
    }
    return { records, weights: trainer.weights() };
  } catch (e) {
    if (e instanceof DivergenceError) {
      const last = records.at(-1);
      const tail = last
        ? `; last finite record: step ${last.step}, logLoss ${last.logLoss}, norm ${last.norm}, minMargin ${last.minMargin}`
        : '; no finite record before it (record earlier steps with --record to see them)';
      throw new DivergenceError(e.message + tail);
    }
    throw e;
  } finally {
    trainer.dispose();
  }
}
