import * as tf from '@tensorflow/tfjs';
import type { Dataset } from './data.js';
import { InputError, nonFiniteLoss, parameterError } from './errors.js';
import { objectiveOfOutputs, type LossSpec } from './loss.js';
import { measure } from './measure.js';
import { asRows, type ModelSpec, type Weights } from './model.js';
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
 * How a step runs (a handful of kernels instead of a taped graph). The networks are chains
 * of matrix products, so the forward and backward passes are written out here rather than recorded
 * on a tfjs gradient tape (tf.valueAndGrads), and the small scalar work goes to the host:
 *   1. forward on the active backend: the outputs f_n (one matMul per layer, ReLU fused into it);
 *   2. one download of the B outputs; the host evaluates the loss of the margins y_n f_n in float64
 *      (`objectiveOfOutputs`: log L and ∂ log L/∂f_n = y_n softmax(log ℓ(q))_n (log ℓ)'(q_n)),
 *      checks that it is finite and picks c;
 *   3. one upload of δ_n = −c ∂ log L/∂f_n: c is folded in, so no scalar tensor is made per step;
 *   4. backward on the backend: the products of the chain rule, U_k = Σ_n δ_n ∂f_n/∂W_k = −c·g_k,
 *      downloaded (the weights are small next to the data);
 *   5. the host forms W_k + m_k U_k − ηλ W_k in float64 (m_k: layerLr, λ: weightDecay), rounds it
 *      to float32 once and assigns it to the variable.
 * The host parts (δ, the update, flow time, the undo loop) are src/step.ts's, shared with the other
 * trainers; the forward and backward passes are this file's.
 * For the 2-layer net the backward pass is one product on the backend, Q = (relu'(Z) ⊙ δᵀ)·X
 * [h, d]; U₁ = W₂ᵀ ⊙ Q and U₂ᵢ = Σ_j Q_ij W₁_ij are h·d multiply-adds on the host.
 * The layouts serve the wasm backend (see materializeTransposes): XNNPACK runs plain products
 * only, so the data are kept as X [N, d] and Xᵀ [d, N], the right operands of the data-side
 * products, and the 2-layer net's hidden layer is computed transposed, Hᵀ = relu(W₁Xᵀ) [h, N], so
 * that Q needs no transpose either; matrix–vector products (f = W₂H, B·h multiply-adds) take the
 * naive loop, which beats packing a fresh operand for XNNPACK.
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

/** The activations of one forward pass that the backward pass needs. */
interface Activations {
  /** f_n, N values (shape [1,N] or [N,1]). */
  f: tf.Tensor2D;
  /** K = 2: the hidden layer, transposed: Hᵀ [h, B]. */
  firstT?: tf.Tensor2D;
  /** K ≥ 3: hidden layers 1..K−1 as [B, h]. */
  hidden: tf.Tensor2D[];
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
  private nextForward: { act: Activations; dataIds: object[] } | null = null;
  /** The data [N, d] and its transpose [d, N]: the right operands of the data-side products. */
  private readonly X: tf.Tensor2D;
  private readonly XT: tf.Tensor2D;
  /** Labels stay on the host, where the loss is evaluated. */
  private readonly y: Float64Array;
  private readonly batchRng: Rng | null;
  private readonly K: number;
  private readonly relu: boolean;
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
    this.K = init.length;
    this.relu = opts.model.kind === 'relu';
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
  private forward(X: tf.Tensor2D, XT: tf.Tensor2D): Activations {
    const W = this.layers;
    const K = this.K;
    if (K === 1) return { f: tf.matMul(W[0], XT), hidden: [] }; // [1, B]
    if (K === 2) {
      const firstT = fusedMatMul(W[0], XT, this.relu); // Hᵀ = relu(W₁Xᵀ) [h, B]
      // f = Hᵀᵀ W₂ᵀ: a matrix–vector product, by the naive loop (packing Hᵀ would cost more)
      return { f: tf.matMul(firstT, W[1], true, true), firstT, hidden: [] }; // [B, 1]
    }
    // K ≥ 3: hidden layers as [B, h]
    const hidden = [fusedMatMul(X, W[0], this.relu, true)];
    for (let k = 1; k < K - 1; k++) hidden.push(fusedMatMul(hidden[k - 1], W[k], this.relu, true));
    // f = H W_Kᵀ by the naive loop: W_K is the right operand of XNNPACK in the backward pass, as
    // [1, h], and its cache of packed operands is keyed by data, not shape (see materializeTransposes)
    return { f: tf.matMul(hidden[K - 2], W[K - 1], false, true), hidden }; // [B, 1]
  }

  /**
   * Backward pass: G_k = Σ_n delta_n ∂f_n/∂W_k for every layer, from the activations of `forward`
   * on the same rows, as host arrays in the row-major layout of W_k; `values` are the current
   * weights on the host (see values()).
   */
  private backward(act: Activations, X: tf.Tensor2D, delta: Float32Array, values: Float32Array[]): ArrayLike<number>[] {
    const W = this.layers;
    const K = this.K;
    const B = delta.length;
    if (K === 1) return [tf.matMul(tf.tensor2d(delta, [1, B]), X).dataSync()];
    const mask = (h: tf.Tensor2D) => tf.step(h); // relu'(z) = 1[z > 0] = 1[relu(z) > 0]
    if (K === 2) {
      // δ₁ᵀ = W₂ᵀ ⊙ mask ⊙ δᵀ [h, B], so G₁ = δ₁ᵀX = W₂ᵀ ⊙ Q with Q = (mask ⊙ δᵀ)X [h, d] (X stays
      // the right operand), and G₂ = Σ_n δ_n h_n = Σ_n δ_n mask_n ⊙ W₁x_n, i.e. G₂ᵢ = Σ_j Q_ij W₁_ij.
      // Only Q is computed on the backend; the rest is h·d multiply-adds, done on the host in
      // float64 (and G₂ᵢ·W₂ᵢ = ⟨row i of W₁, row i of G₁⟩, the Euler identity per neuron, holds up
      // to one rounding). δ is a vector [B] for the mask: a trailing-axis broadcast, which the cpu
      // backend runs without index arithmetic.
      const masked = this.relu ? tf.mul(mask(act.firstT!), tf.tensor1d(delta)) : tf.tensor2d(delta, [1, B]);
      const Q = tf.matMul(masked as tf.Tensor2D, X).dataSync(); // [h, d] ([1, d] for deep linear)
      const [h, d] = W[0].shape;
      const [W1, W2] = values;
      const G1 = new Float64Array(h * d);
      const G2 = new Float64Array(h);
      const qRow = Q.length === d ? 0 : d; // deep linear: one row of Q for every unit
      for (let i = 0; i < h; i++) {
        let s = 0;
        for (let j = 0; j < d; j++) {
          const q = Q[i * qRow + j];
          G1[i * d + j] = W2[i] * q;
          s += q * W1[i * d + j];
        }
        G2[i] = s;
      }
      return [G1, G2];
    }
    const col = tf.tensor2d(delta, [B, 1]);
    const G: tf.Tensor[] = new Array(K);
    const last = act.hidden[K - 2];
    G[K - 1] = tf.matMul(col, last, true, false); // a matrix–vector product: the naive loop is fine
    let D: tf.Tensor2D = tf.matMul(col, W[K - 1]); // ∂f/∂(pre-activation of the last hidden layer) ⊙ δ [B, h]
    if (this.relu) D = tf.mul(D, mask(last)) as tf.Tensor2D;
    for (let k = K - 2; k >= 1; k--) {
      const input = act.hidden[k - 1];
      G[k] = matMulT(D, input, true, false); // Dᵀ H_{k−1}
      D = tf.matMul(D, W[k]);
      if (this.relu) D = tf.mul(D, mask(input)) as tf.Tensor2D;
    }
    G[0] = matMulT(D, X, true, false);
    return G.map((g) => g.dataSync());
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
  private stepFrom(act: Activations, X: tf.Tensor2D, y: ArrayLike<number>, logScale: number): StepInfo {
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
      tf.keep(act.f);
      if (act.firstT) tf.keep(act.firstT);
      act.hidden.forEach((h) => tf.keep(h));
      this.nextForward = { act, dataIds: this.layers.map((W) => W.dataId) };
    } else {
      disposeActivations(act);
    }
    return kept;
  }

  /** The forward pass judge() kept, if the weights are still the ones it was computed at. */
  private takeNextForward(): Activations | null {
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

function disposeActivations(act: Activations): void {
  tf.dispose([act.f, ...(act.firstT ? [act.firstT] : []), ...act.hidden]);
}

/**
 * The wasm backend multiplies transposed operands by a naive loop (XNNPACK only takes plain
 * products), so there a transposed operand is materialized first, which is cheaper for all but
 * matrix–vector products; the cpu backend multiplies with strides at no extra cost but transposes
 * slowly, so there the flags are passed on.
 * A trap on wasm: XNNPACK packs the right operand once and caches it under the tensor's data id,
 * whatever its shape, so one tensor's data (a reshape shares it) must never be the right operand
 * of two products in different shapes: the second would silently use the first one's packing.
 */
const materializeTransposes = () => tf.getBackend() === 'wasm';

/** Aᵀ as a tensor of its own; a row or a column is only reshaped. */
function transposed(A: tf.Tensor2D): tf.Tensor2D {
  const [m, n] = A.shape;
  return m === 1 || n === 1 ? tf.reshape(A, [n, m]) : tf.transpose(A);
}

/** op(A)·op(B) with op = transpose where asked (see materializeTransposes). */
function matMulT(A: tf.Tensor2D, B: tf.Tensor2D, tA: boolean, tB: boolean): tf.Tensor2D {
  if (!materializeTransposes()) return tf.matMul(A, B, tA, tB);
  return tf.matMul(tA ? transposed(A) : A, tB ? transposed(B) : B);
}

/**
 * relu(A·op(B)) (or A·op(B)) with the activation fused into the product. The kernel is called
 * directly: tf.fused.matMul wraps it in a customGrad scope that costs as much as a small product.
 */
function fusedMatMul(A: tf.Tensor2D, B: tf.Tensor2D, relu: boolean, tB = false): tf.Tensor2D {
  if (tB && materializeTransposes()) return fusedMatMul(A, transposed(B), relu);
  const [m, k] = A.shape;
  const n = tB ? B.shape[0] : B.shape[1];
  const out = tf.engine().runKernel(tf._FusedMatMul, { a: tf.reshape(A, [1, m, k]), b: tf.reshape(B, [1, ...B.shape]) }, {
    transposeA: false, transposeB: tB, activation: relu ? 'relu' : 'linear', leakyreluAlpha: 0,
  }) as tf.Tensor3D;
  return tf.reshape(out, [m, n]);
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
