import * as tf from '@tensorflow/tfjs';
import type { Dataset } from './data.js';
import { InputError, nonFiniteLoss, parameterError } from './errors.js';
import { objectiveOfOutputs, type LossSpec } from './loss.js';
import { sumSquares } from './measure.js';
import { asRows, forward, type ModelSpec, type Weights } from './model.js';
import type { Schedule } from './schedule.js';
import { updated } from './step.js';

/**
 * Gradient descent on a weight-normalized homogeneous network (docs/THEORY.md C6):
 *   W_k = g_k v_k/‖v_k‖_F   (one scalar g_k per layer),
 * with a constant step η on the parameters (g, v): g ← g − η ∂L/∂g, v ← v − η ∇_v L.
 *
 * The loss is src/loss.ts `objectiveOfOutputs` of the outputs f(W; x_n) (src/model.ts `forward`):
 * log L and ∂log L/∂f_n in float64 on the host, the Trainer's own loss code, wrapped as one tfjs op
 * with its gradient (tf.customGrad), so a step is one taped forward pass and one backward pass.
 * (Taping the tfjs `objective` instead computes the same log L but takes ~2× the kernels and the
 * time of a step: its log-sum-exp and gradient outweigh a small network.) The gradients in (g, v) are
 * tfjs autodiff through the
 * normalization: nothing here writes the chain rule
 *   ∂L/∂g_k = ⟨∇_{W_k}L, v_k/‖v_k‖⟩,  ∇_{v_k}L = (g_k/‖v_k‖)(I − V_kV_kᵀ)∇_{W_k}L,
 * so the properties that assert it test the stepper. For exp and logistic losses the objective is
 * log L; the step multiplies ∇log L by L = e^{log L} on the host, so ∇L is formed in float64.
 *
 * Each step downloads the parameters and the gradients once, forms the update in float64 and
 * rounds it to float32 once (v⁺ = fl(v − η∇_v L)), which keeps the one-step identity
 * ‖v⁺‖² = ‖v‖² + η²‖∇_v L‖² (∇_v L ⊥ v) exact up to that rounding and the float32 projection.
 * Every step runs in tf.tidy: the only tensors that live across steps are the variables and data.
 */
export interface WeightNormOptions extends LossSpec {
  model: ModelSpec;
  /** The constant step η on (g, v). */
  lr: number;
  /**
   * Only 'constant' (the default): C6 compares one-step identities at a fixed η, and the flow and
   * loss-based schedules (src/schedule.ts) are written for the Trainer's parameters W, not (g, v).
   */
  schedule?: Schedule;
  /** Negative control: weight decay λ on v (adds λv to ∇_v L in the step). */
  vWeightDecay?: number;
  /** Negative control: step v along ∇_W L instead of ∇_v L (the projection left out). */
  unprojected?: boolean;
}

/** Weight-normalized parameters: g_k and v_k for every layer. */
export interface WeightNormParams {
  g: number[];
  v: Weights;
}

/** The gradient at the current parameters, in float64 from the float32 autodiff. */
export interface WeightNormGradient {
  /** log of the objective before the step (for the squared control, log of L as well). */
  logLoss: number;
  /** ∂L/∂g_k. */
  gradG: number[];
  /** ∇_{v_k} L, layout of v_k. */
  gradV: Weights;
  /** ‖∇_{v_k} L‖_F². */
  gradVNormSq: number[];
}

export interface WeightNormStep extends WeightNormGradient {
  /** The step η. */
  lr: number;
}

/** g_k = ‖W_k‖_F, v_k = W_k: the weight-normalized parameters of given weights (same network). */
export function weightNormOf(weights: Weights): WeightNormParams {
  return { g: weights.map((W) => Math.sqrt(sumSquares(W))), v: weights.map((W) => W.map((row) => [...row])) };
}

/** W_k = g_k v_k/‖v_k‖_F in float64. */
export function weightsOf(p: WeightNormParams): Weights {
  return p.v.map((V, k) => {
    const s = p.g[k] / Math.sqrt(sumSquares(V));
    return V.map((row) => row.map((x) => s * x));
  });
}

export class WeightNormTrainer {
  readonly gs: tf.Variable<tf.Rank.R0>[];
  readonly vs: tf.Variable<tf.Rank.R2>[];
  stepCount = 0;
  /** log L before the last step, for divergence reports. */
  private lastLogLoss = NaN;
  private readonly X: tf.Tensor2D;
  /** Labels stay on the host, where the loss is evaluated. */
  private readonly y: Float64Array;

  constructor(data: Dataset, init: WeightNormParams, readonly opts: WeightNormOptions) {
    if (!(opts.lr > 0) || !Number.isFinite(opts.lr)) throw parameterError('lr', `must be a positive number, got ${opts.lr}`);
    if (opts.schedule !== undefined && opts.schedule !== 'constant') throw new InputError(`WeightNormTrainer takes constant steps only, not the ${opts.schedule} schedule`);
    if (init.g.length !== init.v.length) throw new InputError(`${init.g.length} scales g for ${init.v.length} layers`);
    if (init.v.some((V) => !(sumSquares(V) > 0))) throw new InputError('every v_k must be nonzero (W_k = g_k v_k/‖v_k‖)');
    this.y = Float64Array.from(data.y);
    [this.X, this.gs, this.vs] = tf.tidy(() => [
      tf.keep(tf.tensor2d(data.X)),
      init.g.map((g) => tf.variable(tf.scalar(g))),
      init.v.map((V) => tf.variable(tf.tensor2d(V))),
    ]);
  }

  /**
   * The objective (log L, or L for squared) of layer weights given as tensors, as one op: the
   * host evaluates it from the downloaded outputs, and its gradient is ∂value/∂f_n uploaded.
   * `out` receives the float64 value.
   */
  private objectiveOf(Ws: tf.Tensor2D[], out: { value: number; isLog: boolean }): tf.Scalar {
    const loss = tf.customGrad(((f: tf.Tensor) => {
      const o = objectiveOfOutputs(f.dataSync(), this.y, this.opts);
      out.value = o.value;
      out.isLog = o.isLog;
      return { value: tf.scalar(o.value), gradFunc: (dy: tf.Tensor) => tf.mul(dy, tf.tensor1d(Float32Array.from(o.grad))) };
    }) as unknown as Parameters<typeof tf.customGrad>[0]) as (f: tf.Tensor1D) => tf.Scalar;
    return loss(forward(Ws, this.X, this.opts.model.kind));
  }

  /** W_k = g_k v_k/‖v_k‖ as tensors, differentiable in g and v. */
  private layers(gs: tf.Tensor[], vs: tf.Tensor[]): tf.Tensor2D[] {
    return vs.map((v, k) => tf.mul(v, tf.div(gs[k], tf.sqrt(tf.sum(tf.square(v))))) as tf.Tensor2D);
  }

  /** Gradient at the current parameters, plus the host copies the step needs. Call inside tidy. */
  private evaluate(): WeightNormGradient & { g: number[]; v: Float32Array[]; gradW?: Float32Array[]; scale: number } {
    const K = this.vs.length;
    const o = { value: NaN, isLog: true };
    const f = (...p: tf.Tensor[]) => this.objectiveOf(this.layers(p.slice(0, K), p.slice(K)), o);
    const { grads } = tf.valueAndGrads(f)([...this.gs, ...this.vs]);
    if (!Number.isFinite(o.value)) throw nonFiniteLoss({ loss: o.value, step: this.stepCount + 1, logLossBefore: this.lastLogLoss });
    const logLoss = o.isLog ? o.value : Math.log(o.value);
    const scale = o.isLog ? Math.exp(o.value) : 1; // ∇L = L·∇log L
    const gradG = grads.slice(0, K).map((t) => t.dataSync()[0] * scale);
    const gradV = grads.slice(K).map((t, k) => asRows(t.dataSync(), ...this.vs[k].shape, scale));
    let gradW: Float32Array[] | undefined;
    if (this.opts.unprojected) {
      const Ws = this.layers(this.gs, this.vs);
      gradW = tf.grads((...w: tf.Tensor[]) => this.objectiveOf(w as tf.Tensor2D[], { value: NaN, isLog: true }))(Ws).map((t) => t.dataSync() as Float32Array);
    }
    return {
      logLoss, gradG, gradV, gradVNormSq: gradV.map(sumSquares), scale, gradW,
      g: this.gs.map((t) => t.dataSync()[0]),
      v: this.vs.map((t) => t.dataSync() as Float32Array),
    };
  }

  /** ∂L/∂g_k and ∇_{v_k}L at the current parameters (no step). */
  gradient(): WeightNormGradient {
    return tf.tidy(() => {
      const { logLoss, gradG, gradV, gradVNormSq } = this.evaluate();
      return { logLoss, gradG, gradV, gradVNormSq };
    });
  }

  /** One GD step on (g, v) with the constant step η; returns the gradient it used. */
  step(): WeightNormStep {
    const { lr, vWeightDecay = 0 } = this.opts;
    return tf.tidy(() => {
      const e = this.evaluate();
      this.gs.forEach((g, k) => g.assign(tf.scalar(Math.fround(e.g[k] - lr * e.gradG[k]))));
      this.vs.forEach((V, k) => {
        const v = e.v[k];
        const dir = e.gradW ? Float64Array.from(e.gradW[k], (x) => x * e.scale) : Float64Array.from(e.gradV[k].flat());
        // the control's decay joins the direction, so that v − η(∇_v L + λv) is rounded once
        if (vWeightDecay) for (let i = 0; i < v.length; i++) dir[i] += vWeightDecay * v[i];
        V.assign(tf.tensor2d(updated(v, dir, -lr), V.shape));
      });
      this.stepCount++;
      this.lastLogLoss = e.logLoss;
      return { logLoss: e.logLoss, gradG: e.gradG, gradV: e.gradV, gradVNormSq: e.gradVNormSq, lr };
    });
  }

  /** g_k (float32 values as float64). */
  g(): number[] {
    return this.gs.map((t) => t.dataSync()[0]);
  }

  /** v_k (float32 values as float64). */
  v(): Weights {
    return this.vs.map((t) => t.arraySync());
  }

  params(): WeightNormParams {
    return { g: this.g(), v: this.v() };
  }

  /** The network's weights W_k = g_k v_k/‖v_k‖, in float64 from the float32 g and v. */
  weights(): Weights {
    return weightsOf(this.params());
  }

  dispose(): void {
    tf.dispose([this.X, ...this.gs, ...this.vs]);
  }
}
