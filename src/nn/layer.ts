import type * as tf from '@tensorflow/tfjs';

/**
 * One layer of a positively homogeneous network: its forward pass and, beside it, its backward
 * pass, written by hand (the tfjs gradient tape cannot run a convolution on wasm: there is no
 * Conv2DBackpropFilter kernel there). Tensors carry the batch on axis 0; shapes below are per
 * example (NHWC images without N, or [d]).
 *
 * Every layer is positively homogeneous in its input (ReLU, average and max pooling, products),
 * and a weight layer is linear in its weights, so a chain of K weight layers is homogeneous of
 * degree K in its parameters: f(cθ) = c^K f(θ) for c > 0.
 */
export type Shape = readonly number[];

export interface Forward {
  y: tf.Tensor;
  /** What backward needs from this forward pass (inputs or outputs; the network keeps them alive). */
  saved: tf.Tensor[];
}

export interface Backward {
  /** ∂/∂x of ⟨dy, y⟩, or null when not asked for (the first layer's input is the data). */
  dx: tf.Tensor | null;
  /** ∂/∂W of ⟨dy, y⟩ in the shape of W, or null for a layer without weights. */
  dW: tf.Tensor | null;
}

/**
 * Which axes of W hold a unit's weights: `out` indexes the units (neurons, channels) this layer
 * computes, so the slice W[…, c, …] on it is unit c's incoming weights; `in` indexes the units of
 * the layer's input, so the slice on it is the outgoing weights of the previous layer's unit c.
 * Dense [out, …inShape]: out 0, in the last axis (the channel of an image input); conv
 * [kh, kw, cin, cout]: out 3, in 2. Pooling keeps channels, so a unit is the same channel across it.
 */
export interface UnitAxes {
  in: number;
  out: number;
}

export interface Layer {
  readonly kind: string;
  readonly inShape: Shape;
  readonly outShape: Shape;
  /** Shape of W, or null for a layer without weights (pooling). */
  readonly weightShape: Shape | null;
  readonly unitAxes: UnitAxes | null;
  /** `prepared`: what prepareConstantInput made from this very x, if anything. */
  forward(x: tf.Tensor, W: tf.Tensor | null, prepared?: tf.Tensor[]): Forward;
  backward(dy: tf.Tensor, saved: tf.Tensor[], W: tf.Tensor | null, needDx: boolean): Backward;
  /**
   * Optional: precomputes, once, what the backward pass needs from an input that every step gives
   * again (the data of full-batch training). The caller keeps the tensors, passes them to forward
   * with that input, and disposes them; the layer itself keeps no state.
   */
  prepareConstantInput?(x: tf.Tensor): tf.Tensor[];
}

export const sizeOf = (shape: Shape): number => shape.reduce((a, b) => a * b, 1);

/**
 * Σ of squares of W over every axis but `axis`, in float64: entry c is ‖slice c‖². W is flat in
 * row-major order of `shape`.
 */
export function sliceSquares(W: ArrayLike<number>, shape: Shape, axis: number): Float64Array {
  const n = shape[axis];
  const inner = sizeOf(shape.slice(axis + 1));
  const out = new Float64Array(n);
  for (let i = 0; i < W.length; i++) {
    const v = W[i];
    out[Math.floor(i / inner) % n] += v * v;
  }
  return out;
}

/** ⟨A, B⟩ over each slice along `axis`, in float64 (per-unit Euler terms ⟨w_c, g_c⟩). */
export function sliceDots(A: ArrayLike<number>, B: ArrayLike<number>, shape: Shape, axis: number): Float64Array {
  const n = shape[axis];
  const inner = sizeOf(shape.slice(axis + 1));
  const out = new Float64Array(n);
  for (let i = 0; i < A.length; i++) out[Math.floor(i / inner) % n] += A[i] * B[i];
  return out;
}
