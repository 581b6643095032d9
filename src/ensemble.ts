import * as tf from '@tensorflow/tfjs';
import type { Dataset } from './data.js';
import { InputError, nonFiniteLoss, parameterError } from './errors.js';
import { objectiveOfOutputs } from './loss.js';
import { layerShapes, type Weights } from './model.js';
import { scheduleCoefficient } from './schedule.js';
import type { StepInfo, TrainOptions } from './train.js';

/**
 * Replicates trained together: R independent networks of one architecture, each on its own data
 * set (or all on one shared set) from its own init, stepped as one tfjs program. Every weight
 * tensor carries a leading replicate axis, W_k [R, out, in], so one step is a fixed handful of
 * kernels, one download of all R·N outputs, one upload of all R·N output weights δ and one
 * download of all gradients, whatever R is: the per-step overhead that dominates a small network's
 * Trainer step (dispatch, transfers; see bench/bench.ts) is paid once for R replicates.
 *
 * Per replicate this is the Trainer's step (src/train.ts) with the same float64 host side: the
 * loss and ∂ log L/∂f by objectiveOfOutputs, the coefficient c_r of the replicate's own schedule,
 * δ = −c_r ∂ log L/∂f with subnormals sent as 0, W ← W − c_r g rounded once to float32, and the
 * replicate's own flow time in log space. Only the float32 products differ in accumulation order
 * (batched products vs XNNPACK's), so trajectories agree to float32 rounding (bit for bit in the
 * tested cases, but that is not promised).
 *
 * Layout: activations are kept point-last, A_k [R, width, N] (A_0 = Xᵀ), so the forward pass is
 * Z_k = W_k A_{k−1} with no transposes, and the backward pass is
 *   D_K = δ [R, 1, N],  G_k = D_k A_{k−1}ᵀ,  D_{k−1} = (W_kᵀ D_k) ⊙ relu'(A_{k−1}).
 * The wasm backend runs batched products (batch > 1) by a naive loop, not XNNPACK (measured: a
 * [64,32,10]·[64,10,100] product takes 4× as long as 64 separate 2-D products). So with shared
 * data the two data-side products are stacked into plain 2-D ones, which XNNPACK runs with the
 * data as its cached right operand: Z_1 = [R·h, d]·Xᵀ and G_1 = [R·h, N]·X. With R data sets those
 * stay batched naive loops on wasm, and training together is SLOWER than separate Trainers there
 * (measured ×0.4 at R = 16 and 64, N = 200; ×2 faster with shared data: bench/bench.ts, section 4).
 * For K = 2 the backward pass is the Trainer's (backward2), which also keeps the rounding equal.
 *
 * Restrictions (InputError otherwise): full batch only (no batchSize < N, no SGD seed), no layerLr,
 * no weightDecay, no loss-based schedule; one set of options for all replicates (same loss,
 * reduction, schedule, lr).
 */
export class EnsembleTrainer {
  readonly R: number;
  readonly n: number;
  /** W_k [R, out, in]; private: the host keeps the values it uploaded (no downloads). */
  private readonly layers: tf.Variable<tf.Rank.R3>[];
  stepCount = 0;
  /** log Σ η_t of every replicate. */
  readonly logFlowTime: Float64Array;
  /** log L of every replicate before the last step, for divergence reports. */
  private readonly lastLogLoss: Float64Array;
  /** X [N, d] and Xᵀ [d, N] when shared, else X [R, N, d] and Xᵀ [R, d, N]. */
  private readonly X: tf.Tensor;
  private readonly XT: tf.Tensor;
  private readonly shared: boolean;
  /** Labels of replicate r at y[r] (all the same array when shared). */
  private readonly y: Float64Array[];
  private readonly shapes: [number, number][];
  private readonly K: number;
  private readonly relu: boolean;
  /** The weights as last uploaded, per layer [R·out·in] row-major: the host applies the update. */
  private values: Float32Array[];

  constructor(data: Dataset | Dataset[], inits: Weights[], readonly opts: TrainOptions) {
    const R = inits.length;
    if (!Number.isInteger(R) || R < 1) throw new InputError('an ensemble needs at least one replicate (one init)');
    if (!(opts.lr > 0) || !Number.isFinite(opts.lr)) throw parameterError('lr', `must be a positive number, got ${opts.lr}`);
    this.shared = !Array.isArray(data);
    const sets = Array.isArray(data) ? data : [data];
    if (!this.shared && sets.length !== R) throw new InputError(`${R} inits need ${R} data sets (or one shared), got ${sets.length}`);
    const N = sets[0].X.length;
    const d = sets[0].X[0]?.length ?? 0;
    if (N < 1 || d < 1) throw new InputError('the data set is empty');
    sets.forEach((s, r) => {
      if (s.X.length !== N || s.y.length !== N || s.X.some((x) => x.length !== d)) throw new InputError(`data set ${r} is not [${N}, ${d}] with ${N} labels like data set 0`);
    });
    if (opts.batchSize !== undefined && opts.batchSize !== N) throw new InputError('EnsembleTrainer runs full-batch steps only (no batchSize)');
    if (opts.layerLr) throw new InputError('EnsembleTrainer does not take layerLr');
    if (opts.weightDecay) throw new InputError('EnsembleTrainer does not take weightDecay');
    if (opts.schedule === 'flow' && opts.loss === 'squared') throw new InputError('the flow schedule needs an exponential-type loss (exp or logistic), not squared');
    // Undoing one replicate's step while keeping the others' would split the one program per step
    // into per-replicate retries; train such replicates with separate Trainers.
    if (opts.schedule === 'loss-based') throw new InputError('EnsembleTrainer does not take the loss-based schedule (it undoes steps per replicate); use one Trainer per replicate');
    this.shapes = layerShapes(opts.model, d);
    inits.forEach((w, r) => {
      const ok = w.length === this.shapes.length && w.every((W, k) => W.length === this.shapes[k][0] && W.every((row) => row.length === this.shapes[k][1]));
      if (!ok) throw new InputError(`init ${r} does not have the layer shapes ${JSON.stringify(this.shapes)} of ${opts.model.kind} on d = ${d}`);
    });
    this.R = R;
    this.n = N;
    this.K = this.shapes.length;
    this.relu = opts.model.kind === 'relu';
    this.logFlowTime = new Float64Array(R).fill(-Infinity);
    this.lastLogLoss = new Float64Array(R).fill(NaN);
    const ys = sets.map((s) => Float64Array.from(s.y));
    this.y = this.shared ? new Array(R).fill(ys[0]) : ys;
    this.values = this.shapes.map(([o, i], k) => {
      const v = new Float32Array(R * o * i);
      inits.forEach((w, r) => w[k].forEach((row, a) => v.set(row, (r * o + a) * i)));
      return v;
    });
    [this.X, this.XT, this.layers] = tf.tidy(() => {
      const X = this.shared ? tf.tensor2d(sets[0].X) : tf.tensor3d(sets.map((s) => s.X));
      const XT = this.shared ? tf.transpose(X) : tf.transpose(X, [0, 2, 1]);
      const layers = this.shapes.map(([o, i], k) => tf.variable(tf.tensor3d(this.values[k], [R, o, i])));
      return [tf.keep(X), tf.keep(XT), layers];
    });
  }

  /** Layer 1's product with the data: stacked into one 2-D product when the data are shared. */
  private firstLayer(W1: tf.Tensor3D): tf.Tensor3D {
    if (!this.shared) return tf.matMul(W1, this.XT as tf.Tensor3D);
    const [R, h, d] = W1.shape;
    return tf.reshape(tf.matMul(tf.reshape(W1, [R * h, d]), this.XT as tf.Tensor2D), [R, h, this.n]);
  }

  /** G_1 = D_1 X for D_1 [R, h, N] (stacked likewise). */
  private firstGradient(D: tf.Tensor3D): tf.Tensor3D {
    if (!this.shared) return tf.matMul(D, this.X as tf.Tensor3D);
    const [R, h] = D.shape;
    return tf.reshape(tf.matMul(tf.reshape(D, [R * h, this.n]), this.X as tf.Tensor2D), [R, h, -1]);
  }

  /** One step of every replicate. Throws DivergenceError (before any update) if a loss is not finite. */
  step(): StepInfo[] {
    const { R, n: N, K } = this;
    const info: StepInfo[] = [];
    tf.tidy(() => {
      // forward: A_k = relu(W_k A_{k−1}), f = A_K [R, 1, N]
      const A: tf.Tensor3D[] = [];
      let Z = this.firstLayer(this.layers[0]);
      for (let k = 1; k < K; k++) {
        A.push(this.relu ? tf.relu(Z) : Z);
        Z = tf.matMul(this.layers[k], A[k - 1]);
      }
      const f = Z.dataSync();
      // host: each replicate's loss, coefficient and δ, as the Trainer does it
      const delta = new Float32Array(R * N);
      let bad: { loss: number; replicate: number } | undefined;
      const logC = new Float64Array(R);
      for (let r = 0; r < R; r++) {
        const { value: v, isLog, grad } = objectiveOfOutputs(f.subarray(r * N, (r + 1) * N), this.y[r], this.opts);
        const logL = isLog ? v : Math.log(v);
        if (!Number.isFinite(v)) bad ??= { loss: v, replicate: r };
        const c = scheduleCoefficient(this.opts, this.K, this.n, logL, isLog);
        for (let i = 0; i < N; i++) {
          const dv = -c * grad[i];
          delta[r * N + i] = Math.abs(dv) < 2 ** -126 ? 0 : dv; // subnormals as 0, see train.ts
        }
        logC[r] = isLog ? Math.log(c) - logL : Math.log(c);
        info.push({ logLoss: logL, stepSize: isLog ? Math.exp(logC[r]) : c, undone: 0, coefficient: c });
      }
      if (bad) throw nonFiniteLoss({ ...bad, step: this.stepCount + 1, logLossBefore: this.lastLogLoss[bad.replicate] });
      info.forEach((s, r) => (this.lastLogLoss[r] = s.logLoss));
      const delta3 = tf.tensor3d(delta, [R, 1, N]);
      const G = K === 2 ? this.backward2(A[0], delta3) : this.backward(A, delta3);
      // W ← W − c·g in float64, rounded once to float32
      this.values = this.layers.map((W, k) => {
        const u = G[k];
        const w = this.values[k];
        const next = new Float32Array(w.length);
        for (let i = 0; i < w.length; i++) next[i] = w[i] + u[i];
        W.assign(tf.tensor3d(next, W.shape));
        return next;
      });
      this.stepCount++;
      for (let r = 0; r < R; r++) this.logFlowTime[r] = logAddExp(this.logFlowTime[r], logC[r]);
    });
    return info;
  }

  /**
   * Backward pass for any depth: G_k = D_k A_{k−1}ᵀ (= −c·g), D_{k−1} = (W_kᵀ D_k) ⊙ relu'(A_{k−1}),
   * from D_K = δ [R, 1, N]; downloaded, [R·out·in] per layer.
   */
  private backward(A: tf.Tensor3D[], delta: tf.Tensor3D): ArrayLike<number>[] {
    const K = this.K;
    let D = delta;
    const G: tf.Tensor3D[] = new Array(K);
    for (let k = K - 1; k >= 1; k--) {
      G[k] = tf.matMul(D, A[k - 1], false, true);
      const W = this.layers[k];
      // the last layer is a row (out = 1): W_Kᵀ D_K is an outer product, a broadcast multiply
      // (as a batched product it takes the naive loop: 3 ms at R = 64, N = 200 on wasm)
      D = W.shape[1] === 1 ? tf.mul(tf.reshape(W, [this.R, -1, 1]), D) : tf.matMul(W, D, true, false);
      if (this.relu) D = tf.mul(D, tf.step(A[k - 1]));
    }
    G[0] = this.firstGradient(D);
    return G.map((g) => g.dataSync());
  }

  /**
   * K = 2 as the Trainer does it: only Q = (relu'(A₁) ⊙ δ)·X [R, h, d] ([R, 1, d] deep linear) on
   * the backend, then G₁ = W₂ᵀ ⊙ Q and G₂ᵢ = Σ_j Q_ij W₁_ij on the host in float64. Saves the two
   * batched products with A₁ (naive loops on wasm) and rounds like the Trainer.
   */
  private backward2(A1: tf.Tensor3D, delta: tf.Tensor3D): ArrayLike<number>[] {
    const masked = this.relu ? (tf.mul(tf.step(A1), delta) as tf.Tensor3D) : delta;
    const Q = this.firstGradient(masked).dataSync();
    const [h, d] = this.shapes[0];
    const [W1, W2] = this.values;
    const G1 = new Float64Array(this.R * h * d);
    const G2 = new Float64Array(this.R * h);
    const qRow = this.relu ? d : 0; // deep linear: one row of Q for every unit
    for (let r = 0; r < this.R; r++) {
      const q0 = r * (this.relu ? h : 1) * d;
      for (let i = 0; i < h; i++) {
        let s = 0;
        for (let j = 0; j < d; j++) {
          const q = Q[q0 + i * qRow + j];
          const at = (r * h + i) * d + j;
          G1[at] = W2[r * h + i] * q;
          s += q * W1[at];
        }
        G2[r * h + i] = s;
      }
    }
    return [G1, G2];
  }



  /** The weights of replicate r, as Trainer.weights() gives them. */
  weights(r: number): Weights {
    if (!Number.isInteger(r) || r < 0 || r >= this.R) throw new InputError(`replicate must be an integer in 0..${this.R - 1}, got ${r}`);
    return this.shapes.map(([o, i], k) =>
      Array.from({ length: o }, (_, a) => Array.from(this.values[k].subarray((r * o + a) * i, (r * o + a + 1) * i))),
    );
  }

  weightsAll(): Weights[] {
    return Array.from({ length: this.R }, (_, r) => this.weights(r));
  }

  dispose(): void {
    tf.dispose([this.X, this.XT, ...this.layers]);
  }
}

function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  const m = Math.max(a, b);
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}
