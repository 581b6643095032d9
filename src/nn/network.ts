import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.js';
import type { Rng } from '../rng.js';
import { Conv2d, type Padding } from './conv2d.js';
import { Dense } from './dense.js';
import { sizeOf, sliceSquares, type Forward, type Layer, type Shape } from './layer.js';
import { Pool, type PoolKind } from './pool.js';

/**
 * A positively homogeneous network: a chain of layers ending in a dense layer with one output
 * f(x), no biases anywhere, so f(cθ) = c^K f(θ) with K the number of weight layers. Parameters live
 * as one flat Float32Array per weight layer (row-major in that layer's weightShape).
 */
export class Network {
  /** Indices in `layers` of the layers with weights, input side first. */
  readonly weightLayers: number[];

  /** The spec it was built from (buildNetwork), which a worker thread needs to build its copy. */
  spec?: NetSpec;

  constructor(readonly layers: Layer[]) {
    if (layers.length === 0) throw new InputError('a network needs at least one layer');
    layers.forEach((layer, i) => {
      const prev = layers[i - 1];
      if (prev && !sameShape(prev.outShape, layer.inShape)) {
        throw new InputError(`layer ${i} (${layer.kind}) takes [${layer.inShape.join(', ')}] but layer ${i - 1} (${prev.kind}) gives [${prev.outShape.join(', ')}]`);
      }
    });
    const last = layers[layers.length - 1];
    if (!(last instanceof Dense) || last.units !== 1 || last.relu) throw new InputError('the last layer must be dense with one linear output f(x)');
    this.weightLayers = layers.flatMap((l, i) => (l.weightShape ? [i] : []));
  }

  /** The degree of homogeneity K: the number of weight layers. */
  get degree(): number {
    return this.weightLayers.length;
  }

  get inShape(): Shape {
    return this.layers[0].inShape;
  }

  /** The shape of every weight layer's parameters, input side first. */
  get weightShapes(): Shape[] {
    return this.weightLayers.map((i) => this.layers[i].weightShape!);
  }

  /**
   * What the first layer precomputes from data that every step passes again (full batch), to be
   * given to forward with that data; the caller disposes it.
   */
  prepareConstantInput(x: tf.Tensor): tf.Tensor[] {
    return this.layers[0].prepareConstantInput?.(x) ?? [];
  }

  /**
   * f for a batch x [N, …inShape] as [N], and what backward needs. W: one tensor per weight layer;
   * `prepared`: prepareConstantInput(x) when x is the constant data.
   */
  forward(x: tf.Tensor, W: tf.Tensor[], prepared?: tf.Tensor[]): { f: tf.Tensor1D; tape: Forward[] } {
    const tape: Forward[] = [];
    let h = x;
    let k = 0;
    for (const layer of this.layers) {
      const out = layer.forward(h, layer.weightShape ? W[k++] : null, h === x ? prepared : undefined);
      tape.push(out);
      h = out.y;
    }
    return { f: tf.reshape(h, [-1]) as tf.Tensor1D, tape };
  }

  /** Σ_n delta_n ∂f_n/∂W_k for every weight layer k, in the shape of W_k; delta [N]. */
  backward(delta: tf.Tensor1D, tape: Forward[], W: tf.Tensor[]): tf.Tensor[] {
    const G: tf.Tensor[] = new Array(W.length);
    let dy: tf.Tensor = tf.reshape(delta, [-1, 1]);
    let k = W.length;
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const layer = this.layers[i];
      const Wi = layer.weightShape ? W[--k] : null;
      // the gradient of a layer's input is needed only while a weight layer lies before it
      const { dx, dW } = layer.backward(dy, tape[i].saved, Wi, i > this.weightLayers[0]);
      if (dW) G[k] = dW;
      if (!dx) break;
      dy = dx;
    }
    return G;
  }

  /**
   * Per hidden unit (neuron or channel) u between weight layers k and k+1: ‖incoming weights of
   * u‖² (its slice of W_k on the out axis) and ‖outgoing weights of u‖² (its slice of W_{k+1} on
   * the in axis), in float64. C1's per-unit identity is about their difference.
   */
  unitSquares(params: ArrayLike<number>[]): { incoming: Float64Array; outgoing: Float64Array }[] {
    const shapes = this.weightShapes;
    const axes = this.weightLayers.map((i) => this.layers[i].unitAxes!);
    return shapes.slice(0, -1).map((shape, k) => ({
      incoming: sliceSquares(params[k], shape, axes[k].out),
      outgoing: sliceSquares(params[k + 1], shapes[k + 1], axes[k + 1].in),
    }));
  }
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Gaussian entries N(0, scale²/fan_in), fan_in = the size of a unit's incoming slice. */
export function initParams(net: Network, rng: Rng, scale = 1): Float32Array[] {
  if (!(scale > 0) || !Number.isFinite(scale)) throw new InputError(`--init-scale must be a positive number, got ${scale}`);
  return net.weightLayers.map((i) => {
    const layer = net.layers[i];
    const shape = layer.weightShape!;
    const fanIn = sizeOf(shape) / shape[layer.unitAxes!.out];
    const W = new Float32Array(sizeOf(shape));
    for (let j = 0; j < W.length; j++) W[j] = (scale * rng.gaussian()) / Math.sqrt(fanIn);
    return W;
  });
}

/**
 * A convolutional net: for each entry of `channels` a conv (kernel×kernel, ReLU) followed by a
 * pooling layer (unless pool is 'none'), then dense to one output. K = channels.length + 1.
 */
export interface CnnSpec {
  kind: 'cnn';
  inShape: Shape;
  channels: number[];
  kernel: number;
  pool: PoolKind | 'none';
  poolSize: number;
  padding: Padding;
}

/** Dense layers: `widths` hidden layers (ReLU if relu) then one output. K = widths.length + 1. */
export interface MlpSpec {
  kind: 'mlp';
  inShape: Shape;
  widths: number[];
  relu: boolean;
  /** The output layer's gradient by the matrix–vector loop (Dense's matVecGradient). */
  matVecGradient?: boolean;
}

export type NetSpec = CnnSpec | MlpSpec;

/** The network of Growing the core's lab measurement: 28×28×1 → conv3×3×8 → avgpool2 → conv3×3×16 → avgpool2 → dense. */
export const DEFAULT_CNN: Omit<CnnSpec, 'inShape'> = { kind: 'cnn', channels: [8, 16], kernel: 3, pool: 'avg', poolSize: 2, padding: 'valid' };

export function buildNetwork(spec: NetSpec): Network {
  const layers: Layer[] = [];
  const shape = () => (layers.length ? layers[layers.length - 1].outShape : spec.inShape);
  if (spec.kind === 'cnn') {
    for (const c of spec.channels) {
      if (!Number.isInteger(c) || c < 1) throw new InputError(`--channels must be positive integers, got ${c}`);
      layers.push(new Conv2d(shape(), c, spec.kernel, spec.padding));
      if (spec.pool !== 'none') layers.push(new Pool(shape(), spec.pool, spec.poolSize));
    }
  } else {
    for (const w of spec.widths) layers.push(new Dense(shape(), w, spec.relu));
  }
  layers.push(new Dense(shape(), 1, false, spec.kind === 'mlp' && spec.matVecGradient === true));
  const net = new Network(layers);
  net.spec = spec;
  return net;
}
