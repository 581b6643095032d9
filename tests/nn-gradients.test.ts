/**
 * The hand-written backward passes of src/nn against float64 central differences (every layer
 * alone, and whole networks) and against the tfjs gradient tape on the cpu backend (whole networks;
 * the tape cannot run a convolution on wasm).
 *
 * Tolerance. Inputs, weights and dy are float32 numbers, so the float64 references see what tfjs
 * sees. A float32 sum of m terms is off by at most m·u·Σ|terms| (u = 2⁻²⁴); S_j, the sum of the
 * absolute values of the terms of entry j, is the gradient of ⟨|dy|, layer(|x|, |W|)⟩ with the ReLU
 * left out (every term then counts positively), taken by the same central differences. m is
 * bounded by the largest number of terms any entry adds up along the chain (below: the size of
 * the largest activation plus the weights, times 2). Central differences of a piecewise-linear
 * function with a step h far below the distance to the nearest kink are exact up to float64
 * rounding, ≈ 1e-16·Φ/h with Φ = ⟨|dy|, |y|⟩. A wrong flip, pad, axis or mask is off by O(‖g‖).
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Conv2d, type Padding } from '../src/nn/conv2d.js';
import { Dense } from '../src/nn/dense.js';
import { sizeOf, type Layer } from '../src/nn/layer.js';
import { initParams, type Network } from '../src/nn/network.js';
import { netCaseArb, tinyNet } from './nn-cases.js';
import { Pool, type PoolKind } from '../src/nn/pool.js';
import { stream, type Rng } from '../src/rng.js';
import { abs64, centralDifferences, dot64, layer64, network64 } from './nn-reference64.js';
import { runs } from './reference64.js';

const U32 = 2 ** -24;
const H_FD = 1e-6;

const gaussians = (rng: Rng, n: number) => Float32Array.from({ length: n }, () => rng.gaussian());

interface Compared {
  worst: number;
}

/** max_j |g_j − ref_j| / bound_j ≤ 1 with bound_j = 2·m·u·S_j + fd noise; returns the worst ratio. */
function compare(what: string, g: ArrayLike<number>, ref: ArrayLike<number>, S: ArrayLike<number>, m: number, fdNoise: number): Compared {
  expect(g.length, what).toBe(ref.length);
  let worst = 0;
  for (let j = 0; j < g.length; j++) {
    const bound = 2 * m * U32 * S[j] + fdNoise;
    const err = Math.abs(g[j] - ref[j]);
    expect(err, `${what}[${j}]: ${g[j]} vs ${ref[j]} (bound ${bound})`).toBeLessThanOrEqual(bound);
    worst = Math.max(worst, err / bound);
  }
  return { worst };
}

const layerCaseArb = fc.record({
  kind: fc.constantFrom('conv', 'avg', 'max', 'dense'),
  N: fc.integer({ min: 1, max: 3 }),
  H: fc.integer({ min: 2, max: 6 }),
  W: fc.integer({ min: 2, max: 6 }),
  cin: fc.integer({ min: 1, max: 3 }),
  cout: fc.integer({ min: 1, max: 3 }),
  kernel: fc.integer({ min: 1, max: 3 }),
  padding: fc.constantFrom<Padding>('valid', 'same'),
  relu: fc.boolean(),
  poolSize: fc.integer({ min: 1, max: 3 }),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});
type LayerCase = typeof layerCaseArb extends fc.Arbitrary<infer T> ? T : never;

function buildLayer(c: LayerCase): Layer | null {
  const inShape = [c.H, c.W, c.cin];
  if (c.kind === 'conv') return c.padding === 'valid' && (c.kernel > c.H || c.kernel > c.W) ? null : new Conv2d(inShape, c.cout, c.kernel, c.padding, c.relu);
  if (c.kind === 'dense') return new Dense(inShape, c.cout, c.relu);
  return c.poolSize > c.H || c.poolSize > c.W ? null : new Pool(inShape, c.kind as PoolKind, c.poolSize);
}

/** The layer's backward pass on the active backend: dx and dW as host arrays. */
/** Runs f and frees every tensor it made (f returns host arrays, which tf.tidy does not accept). */
function scoped<T>(f: () => T): T {
  tf.engine().startScope();
  try {
    return f();
  } finally {
    tf.engine().endScope();
  }
}

function backward32(layer: Layer, x: Float32Array, N: number, W: Float32Array | null, dy: Float32Array) {
  return scoped(() => {
    const xt = tf.tensor(x, [N, ...layer.inShape]);
    const Wt = W ? tf.tensor(W, layer.weightShape as number[]) : null;
    const { y, saved } = layer.forward(xt, Wt);
    expect(y.shape).toEqual([N, ...layer.outShape]);
    const { dx, dW } = layer.backward(tf.tensor(dy, y.shape), saved, Wt, true);
    return { y: y.dataSync() as Float32Array, dx: dx!.dataSync() as Float32Array, dW: dW ? (dW.dataSync() as Float32Array) : null };
  });
}

describe('nn layers: backward passes against float64 central differences', () => {
  test('every layer (conv valid/same with and without ReLU, avg and max pooling, dense) on random tiny shapes', () => {
    let checked = 0;
    let skipped = 0;
    const seen = new Set<string>();
    fc.assert(
      fc.property(layerCaseArb, (c) => {
        const layer = buildLayer(c);
        fc.pre(layer !== null);
        const rng = stream(c.seed, 'data');
        const x = gaussians(rng, c.N * sizeOf(layer.inShape));
        const W = layer.weightShape ? gaussians(rng, sizeOf(layer.weightShape)) : null;
        const dy = gaussians(rng, c.N * sizeOf(layer.outShape));
        const at = layer64(layer, x, c.N, W);
        const far = at.kink > 1e-4;
        if (!far) skipped++;
        fc.pre(far);
        checked++;
        seen.add(layer.kind);
        const got = backward32(layer, x, c.N, W, dy);
        const absDy = abs64(dy);
        const phiScale = dot64(absDy, layer64(layer, abs64(x), c.N, W && abs64(W), true).y);
        const fdNoise = (10 * 1e-16 * (1 + phiScale)) / H_FD;
        const m = 2 * (c.N * Math.max(sizeOf(layer.inShape), sizeOf(layer.outShape)) + (W?.length ?? 0));
        // the forward pass itself against the reference
        compare('y', got.y, at.y, layer64(layer, abs64(x), c.N, W && abs64(W), true).y, m, 0);
        const dx64 = centralDifferences(x, (v) => dot64(dy, layer64(layer, v, c.N, W).y), H_FD);
        const Sx = centralDifferences(abs64(x), (v) => dot64(absDy, layer64(layer, v, c.N, W && abs64(W), true).y), H_FD);
        compare('dx', got.dx, dx64, Sx, m, fdNoise);
        if (W) {
          const dW64 = centralDifferences(W, (v) => dot64(dy, layer64(layer, x, c.N, v).y), H_FD);
          const SW = centralDifferences(abs64(W), (v) => dot64(absDy, layer64(layer, abs64(x), c.N, v, true).y), H_FD);
          compare('dW', got.dW!, dW64, SW, m, fdNoise);
        }
      }),
      { numRuns: runs(80) },
    );
    expect(skipped).toBeLessThanOrEqual(0.2 * checked);
    expect([...seen].sort()).toEqual(['avgpool', 'conv2d', 'dense', 'maxpool']);
  });
});

/**
 * Σ_n δ_n ∂f_n/∂W_k from Network.backward on the active backend; `constant`: with the input's
 * patches precomputed (the path of full-batch training, Conv2d.prepareConstantInput).
 */
function networkGradient(net: Network, x: Float32Array, N: number, params: Float32Array[], delta: Float32Array, constant: boolean): Float32Array[] {
  return scoped(() => {
    const W = params.map((p, k) => tf.tensor(p, net.weightShapes[k] as number[]));
    const xt = tf.tensor(x, [N, ...net.inShape]);
    const { tape } = net.forward(xt, W, constant ? net.prepareConstantInput(xt) : undefined);
    return net.backward(tf.tensor1d(delta), tape, W).map((g) => g.dataSync() as Float32Array);
  });
}

/** The same network written with plain tfjs ops (conv2d, relu, pooling, matMul), for the tape. */
function tapeForward(net: Network, x: tf.Tensor, W: tf.Tensor[]): tf.Tensor {
  let h = x;
  let k = 0;
  for (const layer of net.layers) {
    if (layer instanceof Conv2d) {
      h = tf.conv2d(h as tf.Tensor4D, W[k++] as tf.Tensor4D, 1, layer.padding);
      if (layer.relu) h = tf.relu(h);
    } else if (layer instanceof Pool) {
      const s = layer.size;
      h = layer.pool === 'avg' ? tf.avgPool(h as tf.Tensor4D, s, s, 'valid') : tf.maxPool(h as tf.Tensor4D, s, s, 'valid');
    } else if (layer instanceof Dense) {
      const D = sizeOf(layer.inShape);
      h = tf.matMul(tf.reshape(h, [-1, D]), tf.reshape(W[k++], [layer.units, D]), false, true);
      if (layer.relu) h = tf.relu(h);
    }
  }
  return tf.reshape(h, [-1]);
}

async function tapeGradient(net: Network, x: Float32Array, N: number, params: Float32Array[], delta: Float32Array): Promise<Float32Array[]> {
  const before = tf.getBackend();
  await tf.setBackend('cpu');
  try {
    return scoped(() => {
      const xt = tf.tensor(x, [N, ...net.inShape]);
      const d = tf.tensor1d(delta);
      const W = params.map((p, k) => tf.tensor(p, net.weightShapes[k] as number[]));
      const grads = tf.grads((...Ws: tf.Tensor[]) => tf.sum(tf.mul(d, tapeForward(net, xt, Ws))))(W);
      return grads.map((g) => g.dataSync() as Float32Array);
    });
  } finally {
    await tf.setBackend(before);
  }
}

describe('nn networks: Network.backward against central differences and the tfjs tape (cpu)', () => {
  test('CNNs (avg, max or no pooling, valid or same; first filter gradient by the general and the constant-input path) and MLPs with random tiny shapes', async () => {
    let checked = 0;
    let skipped = 0;
    await fc.assert(
      fc.asyncProperty(netCaseArb, async (c) => {
        const net = tinyNet(c);
        fc.pre(net !== null);
        const rng = stream(c.seed, 'data');
        const x = gaussians(rng, c.N * sizeOf(net.inShape));
        const params = initParams(net, stream(c.seed, 'init'));
        const delta = gaussians(rng, c.N);
        const at = network64(net, x, c.N, params);
        const far = at.kink > 1e-4;
        if (!far) skipped++;
        fc.pre(far);
        checked++;
        const mine = networkGradient(net, x, c.N, params, delta, false);
        const cached = networkGradient(net, x, c.N, params, delta, true);
        const tape = await tapeGradient(net, x, c.N, params, delta);
        const absParams = params.map(abs64);
        const absX = abs64(x);
        const absD = abs64(delta);
        const phiScale = dot64(absD, network64(net, absX, c.N, absParams, true).y);
        const fdNoise = (10 * 1e-16 * (1 + phiScale)) / H_FD;
        const biggest = Math.max(...net.layers.map((l) => sizeOf(l.outShape)), sizeOf(net.inShape));
        const m = 2 * (c.N * biggest + params.reduce((s, p) => s + p.length, 0));
        params.forEach((p, k) => {
          const with_ = (v: Float64Array) => params.map((q, j) => (j === k ? v : q));
          const fd = centralDifferences(p, (v) => dot64(delta, network64(net, x, c.N, with_(v)).y), H_FD);
          const S = centralDifferences(absParams[k], (v) => dot64(absD, network64(net, absX, c.N, absParams.map((q, j) => (j === k ? v : q)), true).y), H_FD);
          compare(`layer ${k} vs central differences`, mine[k], fd, S, m, fdNoise);
          compare(`layer ${k} (constant-input path) vs central differences`, cached[k], fd, S, m, fdNoise);
          // tape and hand-written pass are two float32 computations: twice the rounding bound
          compare(`layer ${k} vs tfjs tape`, mine[k], tape[k], S, 2 * m, 0);
        });
      }),
      { numRuns: runs(30) },
    );
    expect(skipped).toBeLessThanOrEqual(0.25 * checked);
  });
});
