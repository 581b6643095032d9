import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.js';
import type { Backward, Forward, Layer, Shape } from './layer.js';

export type PoolKind = 'avg' | 'max';
export const POOL_KINDS: readonly PoolKind[] = ['avg', 'max'];

/**
 * Non-overlapping s×s pooling per channel, stride s, 'valid' (a last row or column that does not
 * fill a window is dropped). Both kinds are positively homogeneous of degree 1 — avg(cx) = c·avg(x)
 * and max(cx) = c·max(x) for c > 0 — so pooling keeps the network homogeneous and adds no weights;
 * it keeps channels apart, so a channel is the same unit before and after it.
 *
 * Backward. Average: every input of a window gets dy/s², an upsampling of dy/s² (the AvgPoolGrad
 * kernel does the same work several times slower on wasm). Max: dy goes to the first maximum of
 * each window (where several entries tie, routing it to one of them is a one-sided derivative;
 * routing it to all would break ⟨x, ∂f/∂x⟩ = f). The windows are laid out along a last axis and
 * argMax picks the first. tfjs-wasm 4.22's MaxPoolGrad and MaxPoolWithArgmax kernels cannot be used:
 * they start each window's maximum at the smallest positive float, so a window of negative (or
 * zero) entries gets no gradient and a wrong argmax (measured; the cpu kernels are right).
 * tests/nn-gradients.test.ts checks this path against finite differences on negative inputs.
 */
export class Pool implements Layer {
  readonly kind: string;
  readonly outShape: Shape;
  readonly weightShape = null;
  readonly unitAxes = null;

  constructor(readonly inShape: Shape, readonly pool: PoolKind, readonly size = 2) {
    if (inShape.length !== 3) throw new InputError(`pooling needs image inputs [height, width, channels], got [${inShape.join(', ')}]`);
    const [H, W, C] = inShape;
    if (size > H || size > W) throw new InputError(`a ${size}×${size} pooling window does not fit a ${H}×${W} input`);
    this.kind = `${pool}pool`;
    this.outShape = [Math.floor(H / size), Math.floor(W / size), C];
  }

  forward(x: tf.Tensor): Forward {
    const s = this.size;
    const x4 = x as tf.Tensor4D;
    const y = this.pool === 'avg' ? tf.avgPool(x4, s, s, 'valid') : tf.maxPool(x4, s, s, 'valid');
    return { y, saved: this.pool === 'max' ? [x, y] : [] };
  }

  backward(dy: tf.Tensor, saved: tf.Tensor[], _W: tf.Tensor | null, needDx: boolean): Backward {
    if (!needDx) return { dx: null, dW: null };
    const s = this.size;
    const N = dy.shape[0];
    const [H, W, C] = this.inShape;
    const [Ho, Wo] = this.outShape;
    let spread: tf.Tensor; // [N, Ho·s, Wo·s, C]
    if (this.pool === 'max') {
      let x = saved[0];
      if (Ho * s < H || Wo * s < W) x = tf.slice(x, [0, 0, 0, 0], [N, Ho * s, Wo * s, C]);
      const windows = tf.reshape(tf.transpose(tf.reshape(x, [N, Ho, s, Wo, s, C]), [0, 1, 3, 5, 2, 4]), [N, Ho, Wo, C, s * s]);
      // oneHot in int32 and cast: wasm's OneHot writes the bits of an int32 1 into a float32 output
      const first = tf.cast(tf.oneHot(tf.reshape(tf.argMax(windows, -1), [-1]), s * s), 'float32'); // [N·Ho·Wo·C, s²]
      const routed = tf.mul(first, tf.reshape(dy, [-1, 1]));
      spread = tf.transpose(tf.reshape(routed, [N, Ho, Wo, C, s, s]), [0, 1, 4, 2, 5, 3]);
      spread = tf.reshape(spread, [N, Ho * s, Wo * s, C]);
    } else if (s === 2) {
      // nearest-neighbour upsampling by 2 copies each entry to its 2×2 window (source row ⌊r·½⌋,
      // exact in float32); on wasm ~3× faster than a broadcast multiply into a 6-D shape
      spread = tf.image.resizeNearestNeighbor(tf.mul(dy, 1 / (s * s)) as tf.Tensor4D, [Ho * s, Wo * s]);
    } else {
      spread = tf.reshape(tf.mul(tf.reshape(dy, [N, Ho, 1, Wo, 1, C]), tf.fill([1, 1, s, 1, s, 1], 1 / (s * s))), [N, Ho * s, Wo * s, C]);
    }
    const dx = Ho * s < H || Wo * s < W ? tf.pad(spread, [[0, 0], [0, H - Ho * s], [0, W - Wo * s], [0, 0]]) : spread;
    return { dx, dW: null };
  }
}
