/**
 * A float64 reference for the layers of src/nn, independent of tfjs: plain loops over NHWC arrays,
 * written from the definitions (tf's 'same' padding puts the odd row of zeros at the bottom and
 * right; pooling windows are s×s with stride s, a last partial window dropped). Used by finite
 * differences, so only forward passes are needed. Not a test file.
 */
import { Conv2d } from '../src/nn/conv2d.js';
import { Dense } from '../src/nn/dense.js';
import { sizeOf, type Layer } from '../src/nn/layer.js';
import type { Network } from '../src/nn/network.js';
import { Pool } from '../src/nn/pool.js';

export interface Forward64 {
  y: Float64Array;
  /**
   * The distance to the nearest kink: the smallest |pre-activation| of a ReLU and the smallest gap
   * between the largest and second largest entry of a max-pooling window. A finite difference with
   * a step well below it sees a linear function.
   */
  kink: number;
}

/**
 * reluKink: a pre-activation of exactly 0 comes from an input that is exactly 0 where the weights
 * are not (the ReLUs before it are off): Gaussian numbers never sum to exactly 0 otherwise. It
 * stays 0 under small changes of any weight as long as those ReLUs stay off, which their own kink
 * distance guards, so it is not a kink.
 *
 * The layer on N examples x (flat, N × inShape) with weights W. `linear` drops the ReLU: with every
 * input and weight replaced by its absolute value, the gradient of ⟨|dy|, y⟩ is then the sum of the
 * absolute values of the terms the true gradient adds up, the scale of its rounding error.
 */
export function layer64(layer: Layer, x: ArrayLike<number>, N: number, W: ArrayLike<number> | null, linear = false): Forward64 {
  if (layer instanceof Conv2d) return conv64(layer, x, N, W!, linear);
  if (layer instanceof Pool) return pool64(layer, x, N);
  if (layer instanceof Dense) return dense64(layer, x, N, W!, linear);
  throw new Error(`no float64 reference for ${layer.kind}`);
}

function conv64(layer: Conv2d, x: ArrayLike<number>, N: number, W: ArrayLike<number>, linear: boolean): Forward64 {
  const [H, Wd, cin] = layer.inShape;
  const [Ho, Wo, cout] = layer.outShape;
  const k = layer.kernel;
  const top = layer.padding === 'same' ? Math.floor((k - 1) / 2) : 0;
  const y = new Float64Array(N * Ho * Wo * cout);
  let kink = Infinity;
  for (let n = 0; n < N; n++) {
    for (let p = 0; p < Ho; p++) {
      for (let q = 0; q < Wo; q++) {
        for (let o = 0; o < cout; o++) {
          let s = 0;
          for (let a = 0; a < k; a++) {
            const r = p + a - top;
            if (r < 0 || r >= H) continue;
            for (let b = 0; b < k; b++) {
              const c = q + b - top;
              if (c < 0 || c >= Wd) continue;
              for (let i = 0; i < cin; i++) s += x[((n * H + r) * Wd + c) * cin + i] * W[((a * k + b) * cin + i) * cout + o];
            }
          }
          if (layer.relu && !linear) {
            if (s !== 0) kink = Math.min(kink, Math.abs(s)); // see reluKink
            s = Math.max(0, s);
          }
          y[((n * Ho + p) * Wo + q) * cout + o] = s;
        }
      }
    }
  }
  return { y, kink };
}

function pool64(layer: Pool, x: ArrayLike<number>, N: number): Forward64 {
  const [H, Wd, C] = layer.inShape;
  const [Ho, Wo] = layer.outShape;
  const s = layer.size;
  const y = new Float64Array(N * Ho * Wo * C);
  let kink = Infinity;
  for (let n = 0; n < N; n++) {
    for (let p = 0; p < Ho; p++) {
      for (let q = 0; q < Wo; q++) {
        for (let c = 0; c < C; c++) {
          const window: number[] = [];
          for (let a = 0; a < s; a++) for (let b = 0; b < s; b++) window.push(x[((n * H + p * s + a) * Wd + q * s + b) * C + c]);
          let v: number;
          if (layer.pool === 'avg') v = window.reduce((t, u) => t + u, 0) / (s * s);
          else {
            window.sort((u, w) => w - u);
            v = window[0];
            // a tie of exact zeros comes from a ReLU before the pooling (Gaussian inputs are never
            // exactly 0); f is flat there as long as those ReLUs stay off, which their own kink
            // distance guards
            if (window[0] !== 0 || window[1] !== 0) kink = Math.min(kink, window[0] - window[1]);
          }
          y[((n * Ho + p) * Wo + q) * C + c] = v;
        }
      }
    }
  }
  return { y, kink };
}

function dense64(layer: Dense, x: ArrayLike<number>, N: number, W: ArrayLike<number>, linear: boolean): Forward64 {
  const D = sizeOf(layer.inShape);
  const y = new Float64Array(N * layer.units);
  let kink = Infinity;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < layer.units; o++) {
      let s = 0;
      for (let j = 0; j < D; j++) s += W[o * D + j] * x[n * D + j];
      if (layer.relu && !linear) {
        if (s !== 0) kink = Math.min(kink, Math.abs(s)); // see reluKink
        s = Math.max(0, s);
      }
      y[n * layer.units + o] = s;
    }
  }
  return { y, kink };
}

/** f for N examples, every layer in float64, and the smallest kink distance of any layer. */
export function network64(net: Network, x: ArrayLike<number>, N: number, params: ArrayLike<number>[], linear = false): Forward64 {
  let h: ArrayLike<number> = x;
  let kink = Infinity;
  let k = 0;
  for (const layer of net.layers) {
    const out = layer64(layer, h, N, layer.weightShape ? params[k++] : null, linear);
    kink = Math.min(kink, out.kink);
    h = out.y;
  }
  return { y: Float64Array.from(h), kink };
}

/**
 * Central differences of φ(v) = ⟨dy, g(v)⟩ for every entry of v, step h. g is piecewise linear
 * in v, so away from kinks (step below the kink distance) the difference is exact up to rounding.
 */
export function centralDifferences(v: ArrayLike<number>, phi: (v: Float64Array) => number, h: number): Float64Array {
  const w = Float64Array.from(v);
  const out = new Float64Array(w.length);
  for (let i = 0; i < w.length; i++) {
    const keep = w[i];
    w[i] = keep + h;
    const up = phi(w);
    w[i] = keep - h;
    const down = phi(w);
    w[i] = keep;
    out[i] = (up - down) / (2 * h);
  }
  return out;
}

export const dot64 = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

export const abs64 = (a: ArrayLike<number>): Float64Array => Float64Array.from(a, Math.abs);
