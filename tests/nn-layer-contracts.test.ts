/**
 * What the layers of src/nn promise besides their numerics, which mutation testing found no test
 * reaching: the refusals of Dense and Pool (each condition alone, with its message), pooling's
 * backward pass when no dx is asked for, and Dense's forward product on the cpu backend, where the
 * transpose flags are passed instead of a materialized Wᵀ (every other test runs on wasm).
 * Each case is one tiny layer: a few kernels.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, test } from 'vitest';
import { InputError } from '../src/errors.js';
import { Dense } from '../src/nn/dense.js';
import { Pool } from '../src/nn/pool.js';
import { thrown } from './harness.js';

describe('layer refusals name the problem', () => {
  test('a dense layer needs a positive whole number of units', () => {
    for (const units of [0, 1.5]) {
      const e = thrown(() => new Dense([3], units, false));
      expect(e).toBeInstanceOf(InputError);
      expect(e.message).toBe(`a dense layer needs at least one unit, got ${units}`);
    }
  });

  test('pooling needs an image input, and a window that fits its height and its width (each alone)', () => {
    expect(thrown(() => new Pool([4, 4], 'avg')).message).toBe('pooling needs image inputs [height, width, channels], got [4, 4]');
    expect(thrown(() => new Pool([3, 4, 1], 'max', 4)).message).toBe('a 4×4 pooling window does not fit a 3×4 input');
    expect(thrown(() => new Pool([4, 3, 1], 'max', 4)).message).toBe('a 4×4 pooling window does not fit a 4×3 input');
    // a window exactly the size of the input fits
    expect(new Pool([4, 4, 1], 'avg', 4).outShape).toEqual([1, 1, 1]);
  });
});

describe('layer passes off the beaten path', () => {
  test('pooling as the first layer: backward without dx returns no gradient at all', () => {
    for (const kind of ['avg', 'max'] as const) {
      const pool = new Pool([2, 2, 1], kind);
      tf.tidy(() => {
        const { y, saved } = pool.forward(tf.tensor4d([1, -2, 3, 0.5], [1, 2, 2, 1]));
        expect(pool.backward(tf.onesLike(y), saved, null, false)).toEqual({ dx: null, dW: null });
      });
    }
  });

  test('a dense layer of several units on the cpu backend (transpose flags, no materialized Wᵀ): y = relu(W x)', async () => {
    const before = tf.getBackend();
    await tf.setBackend('cpu');
    try {
      const layer = new Dense([2], 3, true);
      const y = tf.tidy(() => layer.forward(tf.tensor2d([[1, 2]]), tf.tensor2d([[1, 1], [3, -4], [0.5, 2]])).y.arraySync());
      // W x = [3, −5, 4.5]; the ReLU zeroes the second
      expect(y).toEqual([[3, 0, 4.5]]);
    } finally {
      await tf.setBackend(before);
    }
  });
});
