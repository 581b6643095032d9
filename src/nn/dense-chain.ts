import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.js';
import { Dense } from './dense.js';
import type { Forward } from './layer.js';
import type { Network } from './network.js';

/**
 * How src/train.ts runs a Network of Dense layers on flat inputs (linear, deep linear, ReLU):
 * K ≥ 3 by the layers themselves (Network.forward/backward; the output layer's gradient by the
 * matrix–vector loop, Dense's matVecGradient, as the step always took it), K ≤ 2 by a fast path with a
 * handful of kernels, which computes the same G_k = Σ_n δ_n ∂f_n/∂W_k (tests/dense-chain.test.ts
 * compares the two) but differs where it matters to the claims and to speed:
 *   - for K = 2 the backward pass is one product on the backend, Q = (relu'(Z) ⊙ δᵀ)·X [h, d];
 *     G₁ = W₂ᵀ ⊙ Q and G₂ᵢ = Σ_j Q_ij W₁_ij are h·d multiply-adds on the host in float64, so
 *     G₂ᵢ·W₂ᵢ = ⟨row i of W₁, row i of G₁⟩ (C1's identity per neuron) holds up to one rounding,
 *     where the layers' float32 products on the backend miss it by many roundings;
 *   - the data are kept as X [N, d] and Xᵀ [d, N] (prepareConstantInput), the right operands of the
 *     data-side products: XNNPACK packs Xᵀ once and caches it (K = 1: f = wXᵀ; K = 2: the hidden
 *     layer computed transposed, Hᵀ = relu(W₁Xᵀ) [h, N], so that Q needs no transpose either);
 *     matrix–vector products (f = W₂H, B·h multiply-adds) take the naive loop, which beats packing
 *     a fresh operand for XNNPACK.
 * The layouts serve the wasm backend, where XNNPACK runs plain products only and a transposed
 * operand takes a naive loop (see fusedMatMul for its cache). The gradients come back as host
 * arrays in the row-major layout of W_k (the trainer updates the weights on the host anyway).
 */
/** The activations of one forward pass that the backward pass needs. */
export interface DenseActivations {
  /** f_n, N values (shape [1,N], [N,1] or [N]). */
  f: tf.Tensor;
  /** K = 2: the hidden layer, transposed: Hᵀ [h, B]. */
  firstT?: tf.Tensor2D;
  /** K ≥ 3: the layers' own record of the forward pass (Network.forward). */
  tape?: Forward[];
}

export class DenseChain {
  readonly K: number;
  /** Per weight layer: whether ReLU follows its product (never the last). */
  private readonly relu: boolean[];

  constructor(readonly net: Network) {
    const dense = net.layers.map((l) => (l instanceof Dense && l.inShape.length === 1 ? l : null));
    if (dense.some((l) => l === null)) throw new InputError('the dense fast path needs a network of dense layers on flat inputs');
    this.K = dense.length;
    this.relu = dense.map((l) => l!.relu);
  }

  /** Xᵀ [d, B] of rows X [B, d]: what forward needs besides X (kept by the caller for constant data). */
  prepareConstantInput(X: tf.Tensor2D): tf.Tensor2D {
    return tf.transpose(X);
  }

  /** Forward pass on rows X [B, d] (XT its transpose): the outputs and what backward needs. */
  forward(X: tf.Tensor2D, XT: tf.Tensor2D, W: tf.Tensor2D[]): DenseActivations {
    const K = this.K;
    if (K === 1) return { f: tf.matMul(W[0], XT) }; // [1, B]
    if (K === 2) {
      const firstT = fusedMatMul(W[0], XT, this.relu[0]); // Hᵀ = relu(W₁Xᵀ) [h, B]
      // f = Hᵀᵀ W₂ᵀ: a matrix–vector product, by the naive loop (packing Hᵀ would cost more)
      return { f: tf.matMul(firstT, W[1], true, true), firstT }; // [B, 1]
    }
    return this.net.forward(X, W);
  }

  /**
   * Backward pass: G_k = Σ_n delta_n ∂f_n/∂W_k for every layer, from the activations of `forward`
   * on the same rows, as host arrays in the row-major layout of W_k; `values` are the current
   * weights on the host, the same numbers as W.
   */
  backward(act: DenseActivations, X: tf.Tensor2D, delta: Float32Array, W: tf.Tensor2D[], values: Float32Array[]): ArrayLike<number>[] {
    const K = this.K;
    const B = delta.length;
    if (K === 1) return [tf.matMul(tf.tensor2d(delta, [1, B]), X).dataSync()];
    const mask = (h: tf.Tensor2D) => tf.step(h); // relu'(z) = 1[z > 0] = 1[relu(z) > 0]
    if (K === 2) {
      // δ₁ᵀ = W₂ᵀ ⊙ mask ⊙ δᵀ [h, B], so G₁ = δ₁ᵀX = W₂ᵀ ⊙ Q with Q = (mask ⊙ δᵀ)X [h, d] (X stays
      // the right operand), and G₂ = Σ_n δ_n h_n = Σ_n δ_n mask_n ⊙ W₁x_n, i.e. G₂ᵢ = Σ_j Q_ij W₁_ij.
      // Only Q is computed on the backend; the rest is h·d multiply-adds, done on the host in
      // float64. δ is a vector [B] for the mask: a trailing-axis broadcast, which the cpu backend
      // runs without index arithmetic.
      const masked = this.relu[0] ? tf.mul(mask(act.firstT!), tf.tensor1d(delta)) : tf.tensor2d(delta, [1, B]);
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
    return this.net.backward(tf.tensor1d(delta), act.tape!, W).map((g) => g.dataSync());
  }
}

/** Keeps every tensor of `act` out of the enclosing tidy. */
export function keepActivations(act: DenseActivations): void {
  tensorsOf(act).forEach((t) => tf.keep(t));
}

export function disposeActivations(act: DenseActivations): void {
  tf.dispose(tensorsOf(act));
}

function tensorsOf(act: DenseActivations): tf.Tensor[] {
  return [act.f, ...(act.firstT ? [act.firstT] : []), ...(act.tape ?? []).flatMap((t) => [t.y, ...t.saved])];
}

/**
 * relu(A·B) (or A·B) with the activation fused into the product. The kernel is called directly:
 * tf.fused.matMul wraps it in a customGrad scope that costs as much as a small product.
 * A trap on wasm: XNNPACK packs the right operand once and caches it under the tensor's data id,
 * whatever its shape, so one tensor's data (a reshape shares it) must never be the right operand
 * of two products in different shapes: the second would silently use the first one's packing.
 */
function fusedMatMul(A: tf.Tensor2D, B: tf.Tensor2D, relu: boolean): tf.Tensor2D {
  const [m, k] = A.shape;
  const out = tf.engine().runKernel(tf._FusedMatMul, { a: tf.reshape(A, [1, m, k]), b: tf.reshape(B, [1, ...B.shape]) }, {
    transposeA: false, transposeB: false, activation: relu ? 'relu' : 'linear', leakyreluAlpha: 0,
  }) as tf.Tensor3D;
  return tf.reshape(out, [m, B.shape[1]]);
}
