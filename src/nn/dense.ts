import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.js';
import { sizeOf, type Backward, type Forward, type Layer, type Shape, type UnitAxes } from './layer.js';
import { reluBackward } from './relu.js';

/**
 * A bias-free fully connected layer y = relu?(W x̃), x̃ the input flattened (an image row-major in
 * NHWC). W is stored as [out, …inShape], so for an image input its last axis is the channel of the
 * input unit each weight reads: the slice W[:, …, c] is channel c's outgoing weights.
 *
 * On wasm XNNPACK multiplies plain products only, and caches a packed right operand under its data
 * id whatever its shape (src/nn/dense-chain.ts, fusedMatMul): the forward product therefore takes
 * a materialized Wᵀ, or for a single output the naive matrix–vector loop (transposeB, no packing),
 * and W itself is the right operand only of the backward product dx = dz·W. The cpu backend
 * multiplies with strides at no extra cost but transposes slowly, so there the transpose flags are
 * passed instead (the same sums in the same order: the same numbers).
 * `matVecGradient` (a single unit only): dW = dzᵀx̃ by the naive matrix–vector loop (transposeA)
 * instead of XNNPACK, which packs x̃ afresh every step; src/train.ts's networks compute the output
 * layer's gradient that way, and its pinned figures depend on that summation order.
 */
export class Dense implements Layer {
  readonly kind = 'dense';
  readonly outShape: Shape;
  readonly weightShape: Shape;
  readonly unitAxes: UnitAxes;
  private readonly fanIn: number;

  constructor(readonly inShape: Shape, readonly units: number, readonly relu: boolean, readonly matVecGradient = false) {
    if (!Number.isInteger(units) || units < 1) throw new InputError(`a dense layer needs at least one unit, got ${units}`);
    if (matVecGradient && units !== 1) throw new InputError(`the matrix–vector gradient is for a single unit, got ${units}`);
    this.fanIn = sizeOf(inShape);
    this.outShape = [units];
    this.weightShape = [units, ...inShape];
    this.unitAxes = { in: inShape.length, out: 0 };
  }

  forward(x: tf.Tensor, W: tf.Tensor | null): Forward {
    // a tensor of its own even when x is already a matrix: it is saved for backward, and whoever
    // disposes the saved tensors must not dispose the input (the data, or the previous layer's y)
    const x2 = tf.reshape(x, [x.shape[0], this.fanIn]) as tf.Tensor2D;
    const W2 = as2d(W!, this.units, this.fanIn);
    let y: tf.Tensor2D;
    if (this.units === 1) {
      y = tf.matMul(x2, W2, false, true);
      if (this.relu) y = tf.relu(y);
    } else {
      const materialize = materializeTransposes();
      const b = materialize ? tf.reshape(tf.transpose(W2), [1, this.fanIn, this.units]) : tf.reshape(W2, [1, this.units, this.fanIn]);
      y = tf.engine().runKernel(tf._FusedMatMul, { a: tf.reshape(x2, [1, ...x2.shape]), b }, {
        transposeA: false, transposeB: !materialize, activation: this.relu ? 'relu' : 'linear', leakyreluAlpha: 0,
      } as unknown as tf.NamedAttrMap) as tf.Tensor2D;
      y = tf.reshape(y, [x.shape[0], this.units]);
    }
    return { y, saved: [x2, y] };
  }

  backward(dy: tf.Tensor, saved: tf.Tensor[], W: tf.Tensor | null, needDx: boolean): Backward {
    const [x2, y] = saved as tf.Tensor2D[];
    const N = x2.shape[0];
    const dz = (this.relu ? reluBackward(dy, y) : dy) as tf.Tensor2D;
    // dW = dzᵀ x̃: dzᵀ materialized (a reshape when there is one unit), x̃ the right operand
    const dzT = () => (this.units === 1 ? tf.reshape(dz, [1, N]) : tf.transpose(dz)) as tf.Tensor2D;
    const product = this.matVecGradient || !materializeTransposes() ? tf.matMul(dz, x2, true, false) : tf.matMul(dzT(), x2);
    const dW = this.inShape.length === 1 ? product : tf.reshape(product, this.weightShape as number[]);
    if (!needDx) return { dx: null, dW };
    const dx = tf.matMul(dz, as2d(W!, this.units, this.fanIn));
    return { dx: this.inShape.length === 1 ? dx : tf.reshape(dx, [N, ...this.inShape]), dW };
  }
}

/** XNNPACK (wasm) takes plain products only: a transposed operand there falls back to a naive loop. */
const materializeTransposes = () => tf.getBackend() === 'wasm';

/** t as a matrix [rows, cols]: itself when it already is one (a reshape is a kernel call per step). */
function as2d(t: tf.Tensor, rows: number, cols: number): tf.Tensor2D {
  return (t.rank === 2 && t.shape[0] === rows && t.shape[1] === cols ? t : tf.reshape(t, [rows, cols])) as tf.Tensor2D;
}
