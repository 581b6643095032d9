import * as tf from '@tensorflow/tfjs';

/**
 * The ReLU's backward pass from its output: relu'(z) = 1[z > 0] = 1[relu(z) > 0], so a layer that
 * fuses ReLU into its product keeps only its output. `step` makes the mask, one multiply applies it.
 */
export function reluBackward(dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  return tf.mul(dy, tf.step(y));
}
