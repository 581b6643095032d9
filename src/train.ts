import * as tf from '@tensorflow/tfjs';
import type { Dataset } from './data.js';
import { InputError, nonFiniteLoss, parameterError } from './errors.js';
import { objectiveOfOutputs, type LossSpec } from './loss.js';
import { measure } from './measure.js';
import { asRows, type ModelSpec, type Weights } from './model.js';
import { DenseChain, disposeActivations, keepActivations, type DenseActivations } from './nn/dense-chain.js';
import { buildNetwork, type Network } from './nn/network.js';
import { sampleWithoutReplacement, stream, type Rng } from './rng.js';
import { recordRun, type RecordedRun, type TrainRecord } from './run.js';
import { makeSchedule, type Schedule, type StepSchedule } from './schedule.js';
import { keptStep, logAddExp, outputDelta, outputsOutOfRange, tryUntilKept, updated, type StepInfo } from './step.js';

/**
 * Steppers. Every step computes g = ∇ log L (exp, logistic) or g = ∇L (squared) and moves
 * W ← W − c·g, where the host picks the scalar c in float64:
 * The schedules (constant, flow, loss-based) and why they follow the gradient-flow path are in
 * src/schedule.ts. Flow time t = Σ η_t is accumulated in log space, since η_t grows like 1/L. A
 * schedule that undoes steps (loss-based on anything but the linear model) is asked after every
 * step whether the loss went up; if so the step is undone — the host copy of the weights is
 * assigned back — and retried from the same weights and the same gradient with a smaller
 * coefficient, until one is kept. So step() always returns a kept step; `undone` counts the others,
 * and only kept steps advance stepCount and flow time.
 *
 * How a step runs (a handful of kernels instead of a taped graph). The network is a src/nn Network
 * of Dense layers built from the model spec (modelNetwork); src/nn/dense-chain.ts runs its forward
 * and backward passes (K ≥ 3 by the layers, K ≤ 2 by a fast path), the small scalar work on the host:
 *   1. forward on the active backend: the outputs f_n (one matMul per layer, ReLU fused into it);
 *   2. one download of the B outputs; the host evaluates the loss of the margins y_n f_n in float64
 *      (`objectiveOfOutputs`: log L and ∂ log L/∂f_n = y_n softmax(log ℓ(q))_n (log ℓ)'(q_n)),
 *      checks that it is finite and picks c;
 *   3. one upload of δ_n = −c ∂ log L/∂f_n: c is folded in, so no scalar tensor is made per step;
 *   4. backward: the products of the chain rule, U_k = Σ_n δ_n ∂f_n/∂W_k = −c·g_k, as host arrays
 *      (for K = 2 the last products are formed on the host in float64, see DenseChain);
 *   5. the host forms W_k + m_k U_k − ηλ W_k in float64 (m_k: layerLr, λ: weightDecay), rounds it
 *      to float32 once and assigns it to the variable.
 * The host parts (δ, the update, flow time, the undo loop) are src/step.ts's, shared with the other
 * trainers; minibatch SGD and weight decay are this file's.
 */
export { SCHEDULES, scheduleCoefficient, type Schedule, type StepSchedule } from './schedule.js';
export type { StepInfo } from './step.js';

export interface TrainOptions extends LossSpec {
  model: ModelSpec;
  schedule: Schedule;
  /** η of the constant schedule, η₀ of the flow schedule, α₀ of the loss-based one (src/schedule.ts). */
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

export class Trainer {
  readonly layers: tf.Variable<tf.Rank.R2>[];
  readonly n: number;
  stepCount = 0;
  logFlowTime = -Infinity;
  /** log L before the last step that had a finite loss, for divergence reports. */
  lastFiniteLogLoss = NaN;
  /** Steps undone so far (loss-based schedule; see src/schedule.ts). */
  undone = 0;
  readonly schedule: StepSchedule;
  /**
   * The forward pass at the current weights when the last step already computed it (to judge the
   * step), kept for the next step's gradient; with the data ids of the weights it belongs to.
   */
  private nextForward: { act: DenseActivations; dataIds: object[] } | null = null;
  /** The data [N, d] and its transpose [d, N]: the right operands of the data-side products. */
  private readonly X: tf.Tensor2D;
  private readonly XT: tf.Tensor2D;
  /** Labels stay on the host, where the loss is evaluated. */
  private readonly y: Float64Array;
  private readonly batchRng: Rng | null;
  /** The network's dense fast path, which runs the forward and backward passes. */
  private readonly chain: DenseChain;
  /**
   * The weights as the host last uploaded them, with the data id each variable got then: the host
   * applies the update, and skips downloading weights it wrote itself unless a variable was
   * assigned from outside since (its data id changed).
   */
  private readonly hostCopy: { dataId: object; values: Float32Array }[] = [];

  constructor(data: Dataset, init: Weights, readonly opts: TrainOptions) {
    if (!(opts.lr > 0) || !Number.isFinite(opts.lr)) throw parameterError('lr', `must be a positive number, got ${opts.lr}`);
    this.n = data.X.length;
    const b = opts.batchSize;
    if (b !== undefined && (!Number.isInteger(b) || b < 1 || b > this.n)) throw parameterError('batchSize', `must be an integer in 1..${this.n}, got ${b}`);
    this.schedule = makeSchedule(opts, {
      K: init.length, n: this.n, linear: opts.model.kind === 'linear', minibatch: b !== undefined && b < this.n,
      // a loop, not Math.max(...rows): spreading throws past ~10⁵ arguments
      maxRowNormSq: data.X.reduce((m, x) => Math.max(m, x.reduce((s, v) => s + v * v, 0)), 0),
    });
    if (opts.layerLr && opts.layerLr.length !== init.length) throw new InputError(`layerLr needs ${init.length} multipliers, got ${opts.layerLr.length}`);
    this.chain = new DenseChain(modelNetwork(opts.model, init, data.X[0]?.length ?? 0));
    this.batchRng = b !== undefined && b < this.n ? stream(opts.seed ?? 1, 'batches') : null;
    this.y = Float64Array.from(data.y);
    // Tensors made inside tidy are freed when the variables have copied them.
    [this.X, this.XT, this.layers] = tf.tidy(() => {
      const X = tf.keep(tf.tensor2d(data.X));
      const XT = tf.keep(tf.transpose(X));
      return [X, XT, init.map((W) => tf.variable(tf.tensor2d(W)))];
    });
  }

  /** Forward pass on rows X [B, d] (XT its transpose): the outputs and what backward needs. */
  private forward(X: tf.Tensor2D, XT: tf.Tensor2D): DenseActivations {
    return this.chain.forward(X, XT, this.layers);
  }

  /** G_k = Σ_n delta_n ∂f_n/∂W_k as host arrays, from `forward` on the same rows X. */
  private backward(act: DenseActivations, X: tf.Tensor2D, delta: Float32Array, values: Float32Array[]): ArrayLike<number>[] {
    return this.chain.backward(act, X, delta, this.layers, values);
  }

  /** The current weights on the host, row-major per layer (see hostCopy). */
  private values(): Float32Array[] {
    return this.layers.map((W, k) => {
      const copy = this.hostCopy[k];
      return copy && copy.dataId === W.dataId ? copy.values : (W.dataSync() as Float32Array);
    });
  }

  /**
   * One kept step of the configured trainer (after any undone ones, see the header). Throws
   * DivergenceError if the loss at the current weights is not finite, or if the loss-based schedule
   * undoes MAX_UNDONE_IN_A_ROW steps in a row (the weights are then the last kept ones).
   */
  step(): StepInfo {
    const opts = this.opts;
    let info: StepInfo | undefined;
    tf.tidy(() => {
      let X = this.X;
      let XT = this.XT;
      let y: ArrayLike<number> = this.y;
      let logScale = 0; // the minibatch sum loss estimates the full sum: scale by N/B
      if (this.batchRng) {
        const rows = sampleWithoutReplacement(this.batchRng, this.n, opts.batchSize!);
        const idx = tf.tensor1d(rows, 'int32');
        X = tf.gather(this.X, idx);
        XT = tf.gather(this.XT, idx, 1);
        y = rows.map((i) => this.y[i]);
        if (opts.reduction === 'sum') logScale = Math.log(this.n / opts.batchSize!);
      }
      const cached = this.takeNextForward();
      const act = cached ?? this.forward(X, XT);
      try {
        info = this.stepFrom(act, X, y, logScale);
      } finally {
        if (cached) disposeActivations(cached);
      }
    });
    return info!;
  }

  /** The step from the forward pass `act` at the current weights (see step()). */
  private stepFrom(act: DenseActivations, X: tf.Tensor2D, y: ArrayLike<number>, logScale: number): StepInfo {
    const opts = this.opts;
    const f = act.f.dataSync();
    const { value: v, isLog, grad } = objectiveOfOutputs(f, y, opts, logScale);
    const logL = isLog ? v : Math.log(v);
    if (!Number.isFinite(v)) {
      throw nonFiniteLoss({ loss: v, step: this.stepCount + 1, logLossBefore: this.lastFiniteLogLoss });
    }
    // (Other schedules overflow into a non-finite loss, which stops them above.)
    const outOfRange = this.schedule.undoes ? outputsOutOfRange(f, this.stepCount) : null;
    if (outOfRange) throw outOfRange;
    this.lastFiniteLogLoss = logL;
    const undoes = this.schedule.undoes;
    const c = this.schedule.coefficient(logL);
    // A schedule that may undo steps gets the direction −g itself from the backward pass and c is
    // applied on the host in float64: a retry with a smaller c needs no new gradient, and the kept
    // step is bit-identical to a first step taken with its c. Otherwise c is folded into δ.
    const delta = outputDelta(grad, undoes ? 1 : c);
    const values = this.values();
    const G = this.backward(act, X, delta, values); // = −folded·g
    const decay = opts.weightDecay ? opts.lr * opts.weightDecay : 0;
    // W ← W − (c·m·g + ηλW) from the step's start, in float64 with one rounding to float32
    const assign = (valuesOf: (k: number) => Float32Array) =>
      this.layers.forEach((W, k) => {
        const next = valuesOf(k);
        W.assign(tf.tensor2d(next, W.shape));
        this.hostCopy[k] = { dataId: W.dataId, values: next };
      });
    const tryStep = (c: number) => {
      assign((k) => updated(values[k], G[k], (opts.layerLr?.[k] ?? 1) * (undoes ? c : 1), decay));
      return !undoes || this.judge(logL);
    };
    const undo = () => {
      this.undone++;
      assign((k) => values[k]);
    };
    const { c: kept, undone } = tryUntilKept(this.schedule, logL, c, this.stepCount, tryStep, undo);
    const { info, logStep } = keptStep(kept, logL, isLog, undone);
    this.stepCount++;
    this.logFlowTime = logAddExp(this.logFlowTime, logStep);
    return info;
  }

  /**
   * Evaluates the full objective at the weights just assigned and asks the schedule to keep the
   * step; a kept step's forward pass is kept for the next step, which needs it anyway.
   */
  private judge(logLBefore: number): boolean {
    const act = this.forward(this.X, this.XT);
    const after = objectiveOfOutputs(act.f.dataSync(), this.y, this.opts).value;
    const kept = this.schedule.accept(logLBefore, after);
    if (kept) {
      keepActivations(act);
      this.nextForward = { act, dataIds: this.layers.map((W) => W.dataId) };
    } else {
      disposeActivations(act);
    }
    return kept;
  }

  /** The forward pass judge() kept, if the weights are still the ones it was computed at. */
  private takeNextForward(): DenseActivations | null {
    const next = this.nextForward;
    this.nextForward = null;
    if (!next) return null;
    if (next.dataIds.every((id, k) => this.layers[k].dataId === id)) return next.act;
    disposeActivations(next.act);
    return null;
  }

  /**
   * ∇L of the full objective at the current weights, in float64 from float32; with `of: 'logLoss'`
   * ∇ log L itself for exp-type losses (finite where ∇L = L·∇ log L underflows).
   */
  gradient(of: 'loss' | 'logLoss' = 'loss'): { logLoss: number; grads: Weights } {
    return tf.tidy(() => {
      const act = this.forward(this.X, this.XT);
      const { value: v, isLog, grad } = objectiveOfOutputs(act.f.dataSync(), this.y, this.opts);
      const G = this.backward(act, this.X, Float32Array.from(grad), this.values());
      const scale = isLog && of === 'loss' ? Math.exp(v) : 1;
      const grads = this.layers.map((W, k) => asRows(G[k], ...W.shape, scale));
      return { logLoss: isLog ? v : Math.log(v), grads };
    });
  }

  weights(): Weights {
    const values = this.values();
    return this.layers.map((W, k) => asRows(values[k], ...W.shape));
  }

  dispose(): void {
    if (this.nextForward) disposeActivations(this.nextForward.act);
    this.nextForward = null;
    tf.dispose([this.X, this.XT, ...this.layers]);
  }
}

/**
 * The model as a src/nn Network of Dense layers on inputs of dimension d, with the layer widths of
 * `init` (ReLU after every hidden layer for relu, none for linear and deep-linear) and one linear
 * output; throws InputError if `init` is not such a chain.
 */
export function modelNetwork(model: ModelSpec, init: Weights, d: number): Network {
  const widths = init.slice(0, -1).map((W) => W.length);
  const net = buildNetwork({ kind: 'mlp', inShape: [d], widths, relu: model.kind === 'relu', matVecGradient: true });
  const shapes = net.weightShapes;
  if (init.some((W, k) => W.length !== shapes[k][0] || W.some((r) => r.length !== shapes[k][1]))) {
    throw new InputError(`the initial weights are not a chain of layers [${shapes.map((s) => s.join('×')).join(', ')}] on inputs of dimension ${d}`);
  }
  return net;
}

export type { TrainRecord } from './run.js';
export { MAX_STEPS } from './run.js';

export interface RunOptions extends RecordedRun {
  /** Adds fields to a record (e.g. the angle to the SVM). */
  annotate?: (weights: Weights, record: TrainRecord) => void;
}

/** Trains from `init` for `steps` steps and returns the records and the final weights. */
export function train(data: Dataset, init: Weights, opts: TrainOptions, run: RunOptions): { records: TrainRecord[]; weights: Weights } {
  const trainer = new Trainer(data, init, opts);
  try {
    let weights: Weights = [];
    const measureNow = () => {
      weights = trainer.weights();
      return weights.every((W) => W.every((r) => r.every(Number.isFinite))) ? measure(weights, data, opts.model.kind, opts) : null;
    };
    const records = recordRun(trainer, run, measureNow, run.annotate && ((rec) => run.annotate!(weights, rec)));
    return { records, weights: trainer.weights() };
  } finally {
    trainer.dispose();
  }
}
