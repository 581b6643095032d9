import type { Dataset } from './data.js';
import { InputError, nonFiniteLoss, parameterError } from './errors.js';
import { objectiveOfOutputs, type LossSpec } from './loss.js';
import { dot, sumSquares } from './measure.js';
import { asRows, type ModelSpec, type Weights } from './model.js';
import { sizeOf, type Shape } from './nn/layer.js';
import { buildNetwork, type NetSpec, type Network } from './nn/network.js';
import { LocalShard } from './nn/shard.js';
import type { Schedule } from './schedule.js';
import { outputDelta, updated } from './step.js';
import { modelNetwork } from './train.js';

/**
 * Gradient descent on a weight-normalized homogeneous network (docs/THEORY.md C6):
 *   W_k = g_k v_k/‖v_k‖_F   (one scalar g_k per layer),
 * with a constant step η on the parameters (g, v): g ← g − η ∂L/∂g, v ← v − η ∇_v L.
 *
 * The network is a src/nn Network, the one layer abstraction every trainer uses: the dense models
 * of src/model.ts (built as src/train.ts builds them) or any Network spec, a CNN included. A step:
 *   1. W_k = g_k v_k/‖v_k‖ in float64 on the host, rounded to float32 for the backend;
 *   2. the network's forward pass (src/nn/shard.ts LocalShard, as src/nn/trainer.ts runs it), one
 *      download of f; log L and ∂ log L/∂f_n in float64 (src/loss.ts objectiveOfOutputs);
 *   3. the network's backward pass with δ = ∂ log L/∂f (src/step.ts outputDelta): G_k = ∇_{W_k} log L
 *      (∇_{W_k} L for the squared control), one download per layer;
 *   4. the chain rule through the normalization, in float64 on the host, with V_k = v_k/‖v_k‖ and
 *      L = e^{log L} (1 for squared, whose objective is L itself):
 *        ∂L/∂g_k = L·⟨G_k, V_k⟩,   ∇_{v_k}L = L·(g_k/‖v_k‖)(G_k − ⟨G_k, V_k⟩V_k);
 *   5. g⁺ = fl32(g − η ∂L/∂g), v⁺ = fl32(v − η∇_v L): formed in float64 and rounded to float32 once
 *      (src/step.ts updated).
 * The host copies of g and v are the truth; the backend only sees W. Because ∇_v L is projected in
 * float64, ⟨v, ∇_v L⟩ is 0 up to float64 rounding, so the one-step identity ‖v⁺‖² = ‖v‖² + η²‖∇_v L‖²
 * holds up to the one float32 rounding of v⁺ (the bound is derived in
 * properties/c6-sgd-weightnorm.prop.ts). That the step's (g, v) gradient is the gradient of the loss
 * is checked against float64 references written apart from this file (tests/weightnorm.test.ts:
 * central differences in (g, v); the C6 property: the Euler form Σ_n ∂L/∂q_n q_n from float64 margins).
 *
 * Layers as matrices. v_k and ∇_{v_k}L are Weights (rows of numbers) for every architecture: layer k
 * is its flat row-major array in the network's weightShape_k, read as [shape_k[0]] rows of
 * size_k/shape_k[0] (a dense layer's [out][in]; a conv kernel [kh, kw, cin, cout] as kh rows).
 */
export interface WeightNormOptions extends LossSpec {
  /** A dense model of src/model.ts, or a src/nn network spec (e.g. a CNN on flat NHWC image rows). */
  model: ModelSpec | NetSpec;
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

/** The gradient at the current parameters, in float64 from the float32 backward pass. */
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

/** The gradient of step 4 (see the header), with the flat arrays the step uses. */
interface Evaluation extends WeightNormGradient {
  /** ∇_{W_k} L, flat (the unprojected control's direction). */
  gradW: Float64Array[];
  /** ∇_{v_k} L, flat. */
  gradVFlat: Float64Array[];
}

export class WeightNormTrainer {
  readonly net: Network;
  stepCount = 0;
  /** log L before the last step, for divergence reports. */
  private lastLogLoss = NaN;
  /** The host copies, the truth: g_k as float32 numbers, v_k flat (row-major in the layer's shape). */
  private gs: number[];
  private vs: Float32Array[];
  /** Labels stay on the host, where the loss is evaluated. */
  private readonly y: Float64Array;
  /** The data on the backend and the network's passes over it. */
  private readonly shard: LocalShard;

  constructor(data: Dataset, init: WeightNormParams, readonly opts: WeightNormOptions) {
    if (!(opts.lr > 0) || !Number.isFinite(opts.lr)) throw parameterError('lr', `must be a positive number, got ${opts.lr}`);
    if (opts.schedule !== undefined && opts.schedule !== 'constant') throw new InputError(`WeightNormTrainer takes constant steps only, not the ${opts.schedule} schedule`);
    if (init.g.length !== init.v.length) throw new InputError(`${init.g.length} scales g for ${init.v.length} layers`);
    if (init.v.some((V) => !(sumSquares(V) > 0))) throw new InputError('every v_k must be nonzero (W_k = g_k v_k/‖v_k‖)');
    const d = data.X[0]?.length ?? 0;
    this.net = isNetSpec(opts.model) ? buildNetwork(opts.model) : modelNetwork(opts.model, init.v, d);
    const inSize = sizeOf(this.net.inShape);
    if (data.X.some((x) => x.length !== inSize)) throw new InputError(`every example must have ${inSize} values (the network takes [${this.net.inShape.join(', ')}])`);
    const shapes = this.net.weightShapes;
    if (init.v.length !== shapes.length) throw new InputError(`the network has ${shapes.length} weight layers, ${init.v.length} given`);
    init.v.forEach((V, k) => {
      const [rows, cols] = matrixView(shapes[k]);
      if (V.length !== rows || V.some((r) => r.length !== cols)) throw new InputError(`v_${k} must be ${rows} rows of ${cols} (layer shape [${shapes[k].join(', ')}])`);
    });
    this.y = Float64Array.from(data.y);
    this.gs = init.g.map(Math.fround);
    this.vs = init.v.map((V) => Float32Array.from(V.flat()));
    this.shard = new LocalShard(this.net, Float32Array.from(data.X.flat()), this.net.inShape);
  }

  /** Steps 1–4 of the header at the current (g, v). */
  private evaluate(): Evaluation {
    const norms = this.vs.map((v) => Math.sqrt(dot(v, v)));
    const scales = this.gs.map((g, k) => g / norms[k]);
    const W = this.vs.map((v, k) => Float32Array.from(v, (x) => scales[k] * x));
    this.shard.startForward(W);
    const o = objectiveOfOutputs(this.shard.finishForward(), this.y, this.opts);
    if (!Number.isFinite(o.value)) {
      this.shard.discard();
      throw nonFiniteLoss({ loss: o.value, step: this.stepCount + 1, logLossBefore: this.lastLogLoss });
    }
    this.shard.startBackward(outputDelta(o.grad, -1)); // δ = +∂value/∂f
    const G = this.shard.finishBackward();
    const L = o.isLog ? Math.exp(o.value) : 1; // ∇L = L·∇log L, formed in float64
    const gradG: number[] = [];
    const gradW: Float64Array[] = [];
    const gradVFlat = this.vs.map((v, k) => {
      const Gk = G[k];
      const along = dot(Gk, v) / norms[k]; // ⟨G_k, V_k⟩
      gradG.push(L * along);
      gradW.push(Float64Array.from(Gk, (x) => L * x));
      const c = L * scales[k];
      return Float64Array.from(Gk, (x, i) => c * (x - (along * v[i]) / norms[k]));
    });
    const shapes = this.net.weightShapes;
    return {
      logLoss: o.isLog ? o.value : Math.log(o.value),
      gradG, gradW, gradVFlat,
      gradV: gradVFlat.map((u, k) => asRows(u, ...matrixView(shapes[k]))),
      gradVNormSq: gradVFlat.map((u) => dot(u, u)),
    };
  }

  /** ∂L/∂g_k and ∇_{v_k}L at the current parameters (no step). */
  gradient(): WeightNormGradient {
    const { logLoss, gradG, gradV, gradVNormSq } = this.evaluate();
    return { logLoss, gradG, gradV, gradVNormSq };
  }

  /** One GD step on (g, v) with the constant step η; returns the gradient it used. */
  step(): WeightNormStep {
    const { lr, vWeightDecay = 0, unprojected } = this.opts;
    const e = this.evaluate();
    this.gs = this.gs.map((g, k) => Math.fround(g - lr * e.gradG[k]));
    this.vs = this.vs.map((v, k) => {
      const dir = unprojected ? e.gradW[k] : e.gradVFlat[k];
      // the control's decay joins the direction, so that v − η(∇_v L + λv) is rounded once
      if (vWeightDecay) for (let i = 0; i < v.length; i++) dir[i] += vWeightDecay * v[i];
      return updated(v, dir, -lr);
    });
    this.stepCount++;
    this.lastLogLoss = e.logLoss;
    return { logLoss: e.logLoss, gradG: e.gradG, gradV: e.gradV, gradVNormSq: e.gradVNormSq, lr };
  }

  /** g_k (float32 values as float64). */
  g(): number[] {
    return [...this.gs];
  }

  /** v_k (float32 values as float64), each layer as a matrix (see the header). */
  v(): Weights {
    const shapes = this.net.weightShapes;
    return this.vs.map((v, k) => asRows(v, ...matrixView(shapes[k])));
  }

  params(): WeightNormParams {
    return { g: this.g(), v: this.v() };
  }

  /** The network's weights W_k = g_k v_k/‖v_k‖, in float64 from the float32 g and v. */
  weights(): Weights {
    return weightsOf(this.params());
  }

  dispose(): void {
    this.shard.dispose();
  }
}

/** A layer of this shape as a matrix: [shape[0]] rows of the rest (see the header). */
function matrixView(shape: Shape): [number, number] {
  return [shape[0], sizeOf(shape) / shape[0]];
}

const isNetSpec = (model: ModelSpec | NetSpec): model is NetSpec => model.kind === 'cnn' || model.kind === 'mlp';
