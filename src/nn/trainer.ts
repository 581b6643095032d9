import { InputError, nonFiniteLoss, parameterError } from '../errors.js';
import { objectiveOfOutputs, type LossSpec } from '../loss.js';
import { makeSchedule, scheduleCoefficient, type Schedule, type StepSchedule } from '../schedule.js';
import { keptStep, logAddExp, outputDelta, outputsOutOfRange, tryUntilKept, updated, type StepInfo } from '../step.js';
import { sizeOf, type Shape } from './layer.js';
import type { Network } from './network.js';
import { LocalShard, WorkerShard, type Shard } from './shard.js';

/**
 * Training of a Network (src/nn) with the project's step pipeline:
 *   1. forward on the backend, one download of the outputs f;
 *   2. the host evaluates log L and ∂ log L/∂f in float64 (objectiveOfOutputs) and picks the
 *      step's coefficient c (scheduleCoefficient, or a schedule given in the options);
 *   3. one upload of δ = −c ∂ log L/∂f (entries below the smallest normal float32 sent as 0:
 *      subnormal operands slow float32 arithmetic ~20×, see src/step.ts);
 *   4. backward on the backend, one download per layer of U_k = Σ_n δ_n ∂f_n/∂W_k = −c g_k;
 *   5. W_k + m_k U_k in float64, rounded to float32 once.
 * The host copy of the parameters is the truth; the backend gets a fresh upload after each step.
 * So undoing a step (a schedule that rejects a step which raised the loss) is putting the previous
 * host arrays back, and the step is split in two — evaluate() (1–2), descend(c) (3–5) — so that a
 * schedule can look at log L before choosing c or rejecting the last step.
 * Loss-based steps (src/schedule.ts: α adapted, a step that raised the loss undone and retried
 * smaller) run as src/train.ts's Trainer runs them: the backward pass gives the direction −g once
 * (δ = −∂ log L/∂f, c not folded in), each try W + c·U is formed on the host in float64, its loss
 * evaluated, and a refused try puts the previous host arrays back. The forward pass of a kept try is
 * the next step's evaluation. Only kept steps count in stepCount and flow time; `undone` counts the
 * others.
 * The backend work of 1 and 4 is done by shards (src/nn/shard.ts), parts of the batch on their own
 * backend instances that compute at once; f is their outputs in order and U_k the sum of theirs.
 */
export interface NetTrainOptions extends LossSpec {
  schedule: Schedule;
  /** η of the constant schedule, η₀ of the flow schedule. */
  lr: number;
  /** Negative control: per-layer multipliers of the step, which break the balance identities. */
  layerLr?: number[];
  /** Replaces the schedule: the coefficient c of W ← W − c·g from log L (or L when !isLog). */
  coefficient?: (logL: number, isLog: boolean) => number;
}

/** Images (or vectors) as rows: X holds N examples of `shape` each, row-major; y_n ∈ {−1, +1}. */
export interface ArraySet {
  X: Float32Array;
  shape: Shape;
  y: ArrayLike<number>;
}

export interface Evaluation {
  /** log L (isLog) or L (squared) at the current parameters. */
  value: number;
  isLog: boolean;
  /** ∂value/∂f_n. */
  grad: Float64Array;
  /** The outputs f_n. */
  f: Float32Array;
}


export class NetTrainer {
  /** The parameters, one flat array per weight layer (row-major in its weightShape). */
  params: Float32Array[];
  readonly n: number;
  stepCount = 0;
  logFlowTime = -Infinity;
  /** log L before the last step that had a finite loss, for divergence reports. */
  lastFiniteLogLoss = NaN;
  /** U_k of the last step: what it added to each layer (before rounding), for exact step checks. */
  lastUpdate: Float64Array[] | null = null;
  /** Steps undone so far (loss-based schedule); they are not counted in stepCount or flow time. */
  undone = 0;
  /** The configured schedule (opts.coefficient, when given, replaces it and never undoes). */
  readonly schedule: StepSchedule;
  private readonly y: Float64Array;
  /** Parts of the batch, each on its own backend instance; their outputs in order make f. */
  private readonly shards: Shard[];
  private pending: Evaluation | null = null;
  private previous: { params: Float32Array[]; stepCount: number; logFlowTime: number } | null = null;

  /**
   * `helper`: a worker shard holding the last helper.n examples of the data (see start()); the
   * rest stay on this thread.
   */
  constructor(readonly net: Network, data: ArraySet, init: Float32Array[], readonly opts: NetTrainOptions, helper?: WorkerShard) {
    if (!(opts.lr > 0) || !Number.isFinite(opts.lr)) throw parameterError('lr', `must be a positive number, got ${opts.lr}`);
    const shapes = net.weightShapes;
    if (init.length !== shapes.length) throw new InputError(`the network has ${shapes.length} weight layers, ${init.length} given`);
    init.forEach((W, k) => {
      if (W.length !== sizeOf(shapes[k])) throw new InputError(`layer ${k} needs ${sizeOf(shapes[k])} weights [${shapes[k].join(', ')}], got ${W.length}`);
    });
    if (opts.layerLr && opts.layerLr.length !== init.length) throw new InputError(`layerLr needs ${init.length} multipliers, got ${opts.layerLr.length}`);
    const d = sizeOf(data.shape);
    if (sizeOf(net.inShape) !== d || data.shape.length !== net.inShape.length || data.shape.some((v, i) => v !== net.inShape[i])) {
      throw new InputError(`the data have examples of shape [${data.shape.join(', ')}], the network takes [${net.inShape.join(', ')}]`);
    }
    this.n = data.y.length;
    if (data.X.length !== this.n * d) throw new InputError(`${data.X.length} values are not ${this.n} examples of ${d}`);
    this.y = Float64Array.from(data.y);
    let maxRowNormSq = 0;
    for (let n = 0; n < this.n; n++) {
      let s = 0;
      for (let i = n * d; i < (n + 1) * d; i++) s += data.X[i] * data.X[i];
      maxRowNormSq = Math.max(maxRowNormSq, s);
    }
    // one dense layer is the linear model, whose loss-based α is fixed below its descent bound
    const linear = net.layers.length === 1;
    this.schedule = makeSchedule(opts, { K: net.degree, n: this.n, linear, maxRowNormSq, minibatch: false });
    this.params = init.map((W) => Float32Array.from(W));
    const local = (this.n - (helper?.n ?? 0)) * d;
    this.shards = [new LocalShard(net, data.X.subarray(0, local), data.shape)];
    if (helper) this.shards.push(helper);
  }

  /**
   * A trainer on two threads: the second half of the batch runs on a second wasm instance in a
   * worker thread (wasm is single-threaded in Node) and the per-layer sums of both halves are
   * added on the host in float64. Same steps as one thread up to float32 rounding (the sums are
   * split in two).
   */
  static async start(net: Network, data: ArraySet, init: Float32Array[], opts: NetTrainOptions, threads: 1 | 2 = 2): Promise<NetTrainer> {
    if (threads === 1) return new NetTrainer(net, data, init, opts);
    if (threads !== 2) throw new InputError(`threads must be 1 or 2, got ${threads}`);
    if (!net.spec) throw new InputError('a second thread needs a network built from a spec (buildNetwork)');
    const n = data.y.length;
    if (n < 2) throw new InputError('a second thread needs at least 2 examples');
    const d = sizeOf(data.shape);
    const helper = await WorkerShard.start(net, net.spec, data.X.slice(Math.ceil(n / 2) * d), data.shape);
    try {
      return new NetTrainer(net, data, init, opts, helper);
    } catch (e) {
      helper.dispose();
      throw e;
    }
  }

  get degree(): number {
    return this.net.degree;
  }

  /** f at the current parameters, the shards computing at once; their activations are kept. */
  private forward(): Float32Array {
    for (const s of this.shards) s.startForward(this.params);
    const parts = this.shards.map((s) => s.finishForward());
    if (parts.length === 1) return parts[0];
    const f = new Float32Array(this.n);
    f.set(parts[0]);
    f.set(parts[1], parts[0].length);
    return f;
  }

  /** U_k = Σ_n delta_n ∂f_n/∂W_k, the shards' sums added in float64; frees the activations. */
  private backward(delta: Float32Array): Float64Array[] {
    let at = 0;
    for (const s of this.shards) {
      s.startBackward(delta.subarray(at, at + s.n));
      at += s.n;
    }
    const parts = this.shards.map((s) => s.finishBackward());
    this.pending = null;
    return parts[0].map((g, k) => {
      const sum = Float64Array.from(g);
      for (let j = 1; j < parts.length; j++) for (let i = 0; i < sum.length; i++) sum[i] += parts[j][k][i];
      return sum;
    });
  }

  /**
   * Forward pass and loss at the current parameters. The activations stay on the backend for
   * descend(); discard() frees them instead. Throws DivergenceError if the loss is not finite.
   */
  evaluate(): Evaluation {
    const { value } = this.evaluateAny();
    if (!Number.isFinite(value)) {
      this.discard();
      throw nonFiniteLoss({ loss: value, step: this.stepCount + 1, logLossBefore: this.lastFiniteLogLoss });
    }
    return this.pending!;
  }

  /** evaluate() without the finiteness check (a loss-based try may leave the finite numbers). */
  private evaluateAny(): Evaluation {
    this.discard();
    const f = this.forward();
    const { value, isLog, grad } = objectiveOfOutputs(f, this.y, this.opts);
    this.pending = { value, isLog, grad, f };
    return this.pending;
  }

  /**
   * The evaluation at the current parameters: the pending one if there is one (after a kept
   * loss-based step, its judging forward pass), else a fresh evaluate().
   */
  current(): Evaluation {
    return this.pending ?? this.evaluate();
  }

  /** Frees the activations of an evaluate() that will not be followed by descend(). */
  discard(): void {
    this.pending = null;
    for (const s of this.shards) s.discard();
  }

  /** The schedule's coefficient c for the evaluated loss. */
  coefficient(e: Evaluation): number {
    if (this.opts.coefficient) return this.opts.coefficient(e.value, e.isLog);
    return scheduleCoefficient(this.opts, this.degree, this.n, e.isLog ? e.value : Math.log(e.value), e.isLog);
  }

  /** Steps W ← W − c·g from the last evaluate() (g = ∇ log L, or ∇L for squared). */
  descend(c: number): StepInfo {
    const p = this.pending;
    if (!p) throw new Error('descend() needs an evaluate() first');
    const logL = p.isLog ? p.value : Math.log(p.value);
    const U = this.backward(outputDelta(p.grad, c));
    this.opts.layerLr?.forEach((m, k) => U[k].forEach((v, i) => (U[k][i] = m * v)));
    this.previous = { params: this.params, stepCount: this.stepCount, logFlowTime: this.logFlowTime };
    this.params = this.params.map((w, k) => updated(w, U[k]));
    this.lastUpdate = U;
    return this.advance(c, logL, p.isLog, 0);
  }

  /**
   * One kept step of the configured schedule (after any undone ones). Loss-based: throws
   * DivergenceError after MAX_UNDONE_IN_A_ROW undone tries in a row (the parameters are then the
   * last kept ones), or when the outputs come within 2^8 of the float32 range.
   */
  step(): StepInfo {
    if (!this.opts.coefficient && this.schedule.undoes) return this.stepWithUndo();
    return this.descend(this.coefficient(this.current()));
  }

  private stepWithUndo(): StepInfo {
    // the forward pass of the last kept try is at the current parameters: it is this step's evaluation
    const e = this.current();
    const logL = e.isLog ? e.value : Math.log(e.value);
    const outOfRange = outputsOutOfRange(e.f, this.stepCount);
    if (outOfRange) {
      this.discard();
      throw outOfRange;
    }
    const G = this.backward(outputDelta(e.grad, 1)); // = −g
    const before = this.params;
    const tryStep = (c: number) => {
      const U = G.map((g, k) => {
        const m = (this.opts.layerLr?.[k] ?? 1) * c;
        return g.map((v) => m * v);
      });
      this.params = before.map((w, k) => updated(w, U[k]));
      const after = this.evaluateAny();
      if (!this.schedule.accept(logL, after.isLog ? after.value : Math.log(after.value))) return false;
      this.lastUpdate = U;
      return true;
    };
    const undo = () => {
      this.discard();
      this.params = before;
      this.undone++;
    };
    const { c, undone } = tryUntilKept(this.schedule, logL, this.schedule.coefficient(logL), this.stepCount, tryStep, undo);
    this.previous = { params: before, stepCount: this.stepCount, logFlowTime: this.logFlowTime };
    return this.advance(c, logL, e.isLog, undone);
  }

  /** Counts a kept step with coefficient c from log L and adds its flow time. */
  private advance(c: number, logL: number, isLog: boolean, undone: number): StepInfo {
    const { info, logStep } = keptStep(c, logL, isLog, undone);
    this.lastFiniteLogLoss = logL;
    this.stepCount++;
    this.logFlowTime = logAddExp(this.logFlowTime, logStep);
    return info;
  }

  /** Puts back the parameters, step count and flow time from before the last step (one level). */
  undo(): void {
    if (!this.previous) throw new Error('no step to undo');
    this.discard();
    ({ params: this.params, stepCount: this.stepCount, logFlowTime: this.logFlowTime } = this.previous);
    this.previous = null;
    this.lastUpdate = null;
  }

  /** f_n at the current parameters (float32 outputs of the backend). */
  outputs(): Float32Array {
    this.discard();
    const f = this.forward();
    this.discard();
    return f;
  }

  /** ∇ of the objective (L itself, not log L) at the current parameters, in float64 from float32. */
  gradient(): { logLoss: number; grads: Float64Array[] } {
    const e = this.evaluate();
    const G = this.backward(Float32Array.from(e.grad));
    const scale = e.isLog ? Math.exp(e.value) : 1;
    return { logLoss: e.isLog ? e.value : Math.log(e.value), grads: G.map((g) => g.map((v) => v * scale)) };
  }

  dispose(): void {
    this.pending = null;
    for (const s of this.shards) s.dispose();
  }
}
