import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.js';
import type { Backward, Forward, Layer, Shape, UnitAxes } from './layer.js';
import { reluBackward } from './relu.js';

export type Padding = 'valid' | 'same';
export const PADDINGS: readonly Padding[] = ['valid', 'same'];

type Pad4 = [[number, number], [number, number], [number, number], [number, number]];

/**
 * A bias-free 2-D convolution, stride 1, filter W [kh, kw, cin, cout], ReLU fused into the forward
 * kernel (XNNPACK on wasm). Images are NHWC.
 *
 * The backward pass uses ordinary forward convolutions only: on wasm the Conv2DBackpropInput kernel
 * is a scalar loop (the team measured 137 ms against 17.5 for the same work as a forward conv) and
 * Conv2DBackpropFilter does not exist. With z the pre-activation and dz = relu'(z) ⊙ dy:
 *   dW[a,b,i,o] = Σ_{n,p,q} x̄[n,p+a,q+b,i] dz[n,p,q,o]  (x̄ the padded input): a 'valid'
 *     convolution of x̄ with batch and channel axes swapped ([cin, H̄, W̄, N]) by the filter
 *     dz [Ho, Wo, N, cout], giving [cin, kh, kw, cout];
 *   dx = dz padded to full size, convolved with W flipped in space with cin and cout swapped.
 */
export class Conv2d implements Layer {
  readonly kind = 'conv2d';
  readonly outShape: Shape;
  readonly weightShape: Shape;
  readonly unitAxes: UnitAxes = { in: 2, out: 3 };
  /** Rows and columns of zeros around the input: [top, bottom], [left, right]. */
  private readonly pad: [[number, number], [number, number]];

  constructor(readonly inShape: Shape, readonly channels: number, readonly kernel: number, readonly padding: Padding, readonly relu = true) {
    if (inShape.length !== 3) throw new InputError(`a convolution needs image inputs [height, width, channels], got [${inShape.join(', ')}]`);
    const [H, W, cin] = inShape;
    if (padding === 'valid' && (kernel > H || kernel > W)) {
      throw new InputError(`a ${kernel}×${kernel} 'valid' convolution does not fit a ${H}×${W} input`);
    }
    this.weightShape = [kernel, kernel, cin, channels];
    // tf's 'same' puts the odd row of zeros at the bottom (right)
    const total = padding === 'same' ? kernel - 1 : 0;
    const before = Math.floor(total / 2);
    this.pad = [[before, total - before], [before, total - before]];
    this.outShape = [H + total - kernel + 1, W + total - kernel + 1, channels];
  }

  forward(x: tf.Tensor, W: tf.Tensor | null, prepared?: tf.Tensor[]): Forward {
    const y = tf.engine().runKernel(tf.FusedConv2D, { x, filter: W! }, {
      strides: [1, 1], pad: this.padding, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined,
      activation: this.relu ? 'relu' : 'linear', leakyreluAlpha: 0,
    } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
    return { y, saved: [x, y, ...(prepared ?? [])] };
  }

  backward(dy: tf.Tensor, saved: tf.Tensor[], W: tf.Tensor | null, needDx: boolean): Backward {
    const [x, y, patches] = saved; // patches: from prepareConstantInput, when x is the data
    const dz = (this.relu ? reluBackward(dy, y) : dy) as tf.Tensor4D;
    const dW = patches ? this.filterGradientFromPatches(patches as tf.Tensor2D, dz) : this.filterGradient(x as tf.Tensor4D, dz);
    return { dW, dx: needDx ? this.inputGradient(dz, W as tf.Tensor4D) : null };
  }

  /**
   * For an input given at every step (the data, in full-batch training) the filter gradient is one
   * product with the patches P [N·Ho·Wo, kh·kw·cin] of the input, built once here on the host:
   * dWᵀ = dzᵀ·P. P stays the right operand in one shape, so XNNPACK packs it once and keeps the
   * packing (its cache is keyed by data id); only dz is transposed each step. Measured on wasm at
   * N = 1,000 (28×28×1 → 8 channels): 13 ms against 35 for the swapped-axes convolution below
   * and 22 for Pᵀ·dz, which packs the fresh dz as its right operand every step. The patches take
   * kh·kw times the input's memory; past 2²⁶ values (256 MB) the general path is kept.
   */
  prepareConstantInput(x: tf.Tensor): tf.Tensor[] {
    const [N, H, W, cin] = x.shape;
    const [Ho, Wo] = this.outShape;
    const k = this.kernel;
    const M = N * Ho * Wo;
    if (k * k * cin * M > 2 ** 26) return [];
    const xs = x.dataSync();
    const [[top], [left]] = this.pad;
    const width = k * k * cin;
    const P = new Float32Array(width * M);
    for (let n = 0; n < N; n++) {
      for (let p = 0; p < Ho; p++) {
        for (let q = 0; q < Wo; q++) {
          const row = ((n * Ho + p) * Wo + q) * width;
          for (let a = 0; a < k; a++) {
            const r = p + a - top;
            if (r < 0 || r >= H) continue; // zero padding
            for (let b = 0; b < k; b++) {
              const c = q + b - left;
              if (c < 0 || c >= W) continue;
              for (let i = 0; i < cin; i++) P[row + (a * k + b) * cin + i] = xs[((n * H + r) * W + c) * cin + i];
            }
          }
        }
      }
    }
    return [tf.tensor2d(P, [M, width])];
  }

  private filterGradientFromPatches(patches: tf.Tensor2D, dz: tf.Tensor4D): tf.Tensor4D {
    const dzT = tf.transpose(tf.reshape(dz, [patches.shape[0], this.channels])) as tf.Tensor2D; // [cout, M]
    return tf.reshape(tf.transpose(tf.matMul(dzT, patches)), this.weightShape as [number, number, number, number]);
  }

  private filterGradient(x: tf.Tensor4D, dz: tf.Tensor4D): tf.Tensor4D {
    const [[t, b], [l, r]] = this.pad;
    const padded = t + b + l + r > 0 ? tf.pad(x, [[0, 0], [t, b], [l, r], [0, 0]]) : x;
    const xT = tf.transpose(padded, [3, 1, 2, 0]); // [cin, H̄, W̄, N]
    const dzT = tf.transpose(dz, [1, 2, 0, 3]); // [Ho, Wo, N, cout]
    return tf.transpose(tf.conv2d(xT, dzT, 1, 'valid'), [1, 2, 0, 3]); // [kh, kw, cin, cout]
  }

  private inputGradient(dz: tf.Tensor4D, W: tf.Tensor4D): tf.Tensor4D {
    const k = this.kernel;
    const [H, Wd] = this.inShape;
    const [Ho, Wo] = this.outShape;
    const top = k - 1 - this.pad[0][0];
    const left = k - 1 - this.pad[1][0];
    const pad: Pad4 = [[0, 0], [top, H - Ho + k - 1 - top], [left, Wd - Wo + k - 1 - left], [0, 0]];
    const flipped = tf.transpose(tf.reverse(W, [0, 1]), [0, 1, 3, 2]); // [kh, kw, cout, cin]
    return tf.conv2d(dz, flipped, 1, pad);
  }
}
