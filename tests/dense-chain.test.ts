/**
 * The dense fast path (src/nn/dense-chain.ts, what Trainer runs) against the layers' general path
 * (Network.forward/backward) on random small chains: linear, deep linear and ReLU, K = 1..4. For
 * K ≥ 3 the fast path is the layers themselves with the output layer's gradient by the
 * matrix–vector loop (Dense's matVecGradient), compared with the plain layers' XNNPACK product.
 *
 * Tolerance. Both paths compute the same sums in float32 from the same float32 inputs, each off
 * the exact value by at most m·u·S (u = 2⁻²⁴, m the most terms any entry adds up along the chain,
 * S the sum of the absolute values of the terms: the gradient of ⟨|δ|, f(|x|, |W|)⟩ with the ReLU
 * left out, here by float64 central differences, exact for a function linear in each entry), so
 * they differ by at most 2·m·u·S. A wrong mask, layer or transpose is off by O(‖G‖).
 * For K = 2 the fast path also forms G₁ and G₂ on the host in float64, so C1's per-neuron Euler
 * identity G₂ᵢW₂ᵢ = ⟨row i of W₁, row i of G₁⟩ holds there to float64 rounding (2·d·2⁻⁵³ of its
 * terms' absolute sum), which the general path (float32 on the backend) misses by far.
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { DenseChain } from '../src/nn/dense-chain.js';
import { Dense } from '../src/nn/dense.js';
import { buildNetwork, type Network } from '../src/nn/network.js';
import { modelSpec } from '../src/model.js';
import { stream } from '../src/rng.js';
import { Trainer } from '../src/train.js';
import { abs64, centralDifferences, dot64, network64 } from './nn-reference64.js';
import { runs } from './reference64.js';

const U32 = 2 ** -24;
const U64 = 2 ** -53;

const caseArb = fc.record({
  K: fc.integer({ min: 1, max: 4 }),
  relu: fc.boolean(),
  d: fc.integer({ min: 1, max: 6 }),
  h: fc.integer({ min: 1, max: 5 }),
  B: fc.integer({ min: 1, max: 6 }),
  seed: fc.integer({ min: 1, max: 1_000_000 }),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

/** The chain as src/train.ts builds it (matVecGradient) or as the general path of the layers. */
const mlp = (c: Case, relu = c.relu, matVecGradient = false): Network =>
  buildNetwork({ kind: 'mlp', inShape: [c.d], widths: new Array<number>(c.K - 1).fill(c.h), relu, matVecGradient });

interface Drawn {
  x: Float32Array;
  params: Float32Array[];
  delta: Float32Array;
}

function draw(net: Network, c: Case): Drawn {
  const rng = stream(c.seed, 'test');
  const g = (n: number) => Float32Array.from({ length: n }, () => rng.gaussian());
  return { x: g(c.B * c.d), params: net.weightShapes.map((s) => g(s.reduce((a, b) => a * b, 1))), delta: g(c.B) };
}

/** f and G_k by the fast path of `chainNet` and by the general path of `net`, as host arrays. */
interface Paths {
  fast: { f: ArrayLike<number>; G: ArrayLike<number>[] };
  general: { f: ArrayLike<number>; G: ArrayLike<number>[] };
}

function bothPaths(chainNet: Network, net: Network, c: Case, { x, params, delta }: Drawn): Paths {
  let out: Paths | undefined;
  tf.tidy(() => {
    const X = tf.tensor2d(x, [c.B, c.d]);
    const W = params.map((p, k) => tf.tensor2d(p, net.weightShapes[k] as [number, number]));
    const chain = new DenseChain(chainNet);
    const act = chain.forward(X, chain.prepareConstantInput(X), W);
    const fast = { f: act.f.dataSync(), G: chain.backward(act, X, delta, W, params) };
    const { f, tape } = net.forward(X, W);
    const general = { f: f.dataSync(), G: net.backward(tf.tensor1d(delta), tape, W).map((g) => g.dataSync()) };
    out = { fast, general };
  });
  return out!;
}

/** The largest |fast − general| / (2·m·u·S) over f and every G_k (≤ 1 when the two agree). */
function worstRatio(net: Network, c: Case, drawn: Drawn, paths: Paths): number {
  const m = 2 * (c.B * Math.max(c.d, c.h) + drawn.params.reduce((s, p) => s + p.length, 0));
  const absX = abs64(drawn.x);
  const absP = drawn.params.map(abs64);
  const absDelta = abs64(drawn.delta);
  let worst = 0;
  const fAbs = network64(net, absX, c.B, absP, true).y;
  for (let n = 0; n < c.B; n++) worst = Math.max(worst, Math.abs(paths.fast.f[n] - paths.general.f[n]) / (2 * m * U32 * fAbs[n] + 1e-300));
  absP.forEach((p, k) => {
    const S = centralDifferences(p, (v) => dot64(absDelta, network64(net, absX, c.B, absP.map((q, j) => (j === k ? v : q)), true).y), 1e-3);
    for (let j = 0; j < p.length; j++) {
      worst = Math.max(worst, Math.abs(paths.fast.G[k][j] - paths.general.G[k][j]) / (2 * m * U32 * S[j] + 1e-300));
    }
  });
  return worst;
}

/** max_i |G₂ᵢW₂ᵢ − ⟨W₁ row i, G₁ row i⟩| / (2·d·u₆₄·Σ|terms|) for K = 2. */
function eulerResidual(c: Case, params: Float32Array[], G: ArrayLike<number>[]): number {
  const [W1, W2] = params;
  let worst = 0;
  for (let i = 0; i < c.h; i++) {
    let s = 0;
    let abs = Math.abs(G[1][i] * W2[i]);
    for (let j = 0; j < c.d; j++) {
      s += W1[i * c.d + j] * G[0][i * c.d + j];
      abs += Math.abs(W1[i * c.d + j] * G[0][i * c.d + j]);
    }
    worst = Math.max(worst, Math.abs(G[1][i] * W2[i] - s) / (2 * (c.d + 1) * U64 * abs + 1e-300));
  }
  return worst;
}

describe('the dense fast path', () => {
  test('matches the general path of the layers within float32 rounding (f and every G_k)', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const net = mlp(c);
        const drawn = draw(net, c);
        expect(worstRatio(net, c, drawn, bothPaths(mlp(c, c.relu, true), net, c, drawn))).toBeLessThanOrEqual(1);
      }),
      { numRuns: runs(40) },
    );
  });

  test('negative control: the fast path of a chain without ReLU is far from the ReLU network', () => {
    // K ≥ 2 and a batch big enough that some pre-activation is negative on the drawn data
    const c: Case = { K: 2, relu: true, d: 4, h: 5, B: 6, seed: 7 };
    const net = mlp(c);
    const drawn = draw(net, c);
    expect(worstRatio(net, c, drawn, bothPaths(mlp(c, false, true), net, c, drawn))).toBeGreaterThan(1e3);
    const deep: Case = { ...c, K: 3 };
    const deepNet = mlp(deep);
    const deepDrawn = draw(deepNet, deep);
    expect(worstRatio(deepNet, deep, deepDrawn, bothPaths(mlp(deep, false, true), deepNet, deep, deepDrawn))).toBeGreaterThan(1e3);
  });

  test('K = 2: the per-neuron Euler identity holds to float64 rounding on the fast path, not on the general path', () => {
    let generalMisses = 0;
    fc.assert(
      fc.property(caseArb.map((c) => ({ ...c, K: 2, d: c.d + 4, h: c.h + 2, B: c.B + 10 })), (c) => {
        const net = mlp(c);
        const drawn = draw(net, c);
        const { fast, general } = bothPaths(mlp(c, c.relu, true), net, c, drawn);
        expect(eulerResidual(c, drawn.params, fast.G)).toBeLessThanOrEqual(1);
        if (eulerResidual(c, drawn.params, general.G) > 1) generalMisses++;
      }),
      { numRuns: runs(20) },
    );
    // the control: float32 products on the backend break the float64 bound on most draws
    expect(generalMisses).toBeGreaterThan(runs(20) / 2);
  });

  test('matVecGradient is refused for a layer with more than one unit', () => {
    expect(() => new Dense([3], 2, false, true)).toThrow(/single unit, got 2/);
  });

  test('the Trainer refuses initial weights that are not a chain on the data', () => {
    const data = { X: [[1, 2], [3, 4]], y: [1, -1] };
    const opts = { model: modelSpec('relu', 2, 2), loss: 'exp', reduction: 'mean', schedule: 'constant', lr: 0.1 } as const;
    expect(() => new Trainer(data, [[[1, 2], [3, 4]], [[1, 2]]], opts).dispose()).not.toThrow();
    // a hidden layer of 2 units feeding an output that reads 3
    expect(() => new Trainer(data, [[[1, 2], [3, 4]], [[1, 2, 3]]], opts)).toThrow(/not a chain of layers \[2×2, 1×2\] on inputs of dimension 2/);
    // inputs of dimension 3 for data of dimension 2
    expect(() => new Trainer(data, [[[1, 2, 3]]], { ...opts, model: modelSpec('linear') })).toThrow(/not a chain of layers \[1×2\]/);
  });

  test('refuses a network that is not dense on flat inputs (a CNN; dense layers on images)', () => {
    const cnn = buildNetwork({ kind: 'cnn', inShape: [4, 4, 1], channels: [1], kernel: 3, pool: 'none', poolSize: 2, padding: 'valid' });
    expect(() => new DenseChain(cnn)).toThrow(/dense layers on flat inputs/);
    // dense layers alone, but on image inputs: the fast path's products take rows X [B, d]
    const onImages = buildNetwork({ kind: 'mlp', inShape: [2, 2, 1], widths: [], relu: false });
    expect(() => new DenseChain(onImages)).toThrow(/dense layers on flat inputs/);
  });
});
