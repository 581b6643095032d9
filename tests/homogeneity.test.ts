/**
 * Positive homogeneity of the models (THEORY.md, Setting): f(cW) = c^K f(W), per layer
 * f(c_1 W_1, …, c_K W_K) = ∏ c_k f(W) for c_k > 0, and Euler's identity ⟨W_k, ∇_{W_k} f⟩ = f for
 * every layer. Checked in float64 (measure.outputs, the backprop of reference64.ts) and in float32
 * (the src/nn network of the model as src/train.ts builds it, modelNetwork: its forward and backward
 * passes).
 *
 * Tolerances. Every partial sum of f is bounded by F̄ = |W_K|⋯|W_1||x| (absOutput), so a dtype with
 * unit roundoff u computes f to within m·u·F̄, m ≲ K·(max(d, width) + 2) ≤ 20 here (Higham); scaling
 * the weights adds K·u·F̄ more. float64: 20·1.1e-16 per side → 1e-13·F̄ leaves a 20× margin.
 * float32: 20·6e-8 per side → 1e-5·F̄ leaves a 4× margin. A bias b breaks the identity by
 * |b|·|1 − c^K|, far above these when |b| ≥ 0.1 and c is away from 1 (negative check).
 */
import { describe, test, expect } from 'vitest';
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { outputs } from '../src/measure.js';
import { initWeights, modelSpec, type ModelKind, type Weights } from '../src/model.js';
import { modelNetwork } from '../src/train.js';
import { stream } from '../src/rng.js';
import { absOutput, fround, outputGrad64, runs } from './reference64.js';

const caseArb = fc.record({
  kind: fc.constantFrom<ModelKind>('linear', 'deep-linear', 'relu'),
  depth: fc.integer({ min: 2, max: 4 }), // ignored for linear (K = 1)
  width: fc.integer({ min: 1, max: 4 }),
  d: fc.integer({ min: 1, max: 4 }),
  N: fc.integer({ min: 1, max: 6 }),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

/** A positive scale far enough from 1 to matter; shrinks towards 2. */
const scaleArb = fc.oneof(fc.double({ min: 1.5, max: 10, noNaN: true }), fc.double({ min: 0.1, max: 0.7, noNaN: true }));

function build(c: Case): { kind: ModelKind; X: number[][]; W: Weights } {
  const spec = modelSpec(c.kind, c.depth, c.width);
  const rd = stream(c.seed, 'data');
  const X = Array.from({ length: c.N }, () => Array.from({ length: c.d }, () => Math.fround(rd.gaussian())));
  return { kind: c.kind, X, W: fround(initWeights(spec, c.d, 'gaussian', 1, stream(c.seed, 'init'))) };
}

const scaleLayers = (W: Weights, cs: number[]): Weights => W.map((M, k) => M.map((row) => row.map((v) => cs[k] * v)));

/** The model's src/nn network (as the Trainer builds it) for weights W on inputs of dimension d. */
const networkOf = (W: Weights, kind: ModelKind, d: number) => modelNetwork({ kind, depth: W.length, width: W[0].length }, W, d);

/** f(W; X) in float32 on the active tfjs backend. */
function forward32(W: Weights, X: number[][], kind: ModelKind): number[] {
  const net = networkOf(W, kind, X[0].length);
  return tf.tidy(() => Array.from(net.forward(tf.tensor2d(X), W.map((M) => tf.tensor2d(M))).f.dataSync()));
}

type Net = (W: Weights, X: number[][]) => number[];

/** f(c_k W_k) = ∏ c_k · f(W) at every point, within rel·∏c_k·F̄ (F̄ of the unscaled weights). */
function homogeneous(net: Net, W: Weights, X: number[][], cs: number[], rel: number): boolean {
  const prod = cs.reduce((p, c) => p * c, 1);
  const scaled = net(scaleLayers(W, cs), X);
  const base = net(W, X);
  return X.every((x, n) => Math.abs(scaled[n] - prod * base[n]) <= rel * prod * absOutput(W, x));
}

const net64 = (kind: ModelKind): Net => (W, X) => outputs(W, X, kind);
const net32 = (kind: ModelKind): Net => (W, X) => forward32(W, X, kind);

describe('homogeneity of linear, deep-linear and ReLU nets', () => {
  test('tfjs forward (float32) agrees with the float64 forward pass', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { kind, X, W } = build(c);
        const f32 = forward32(W, X, kind);
        const f64 = outputs(W, X, kind);
        X.forEach((x, n) => expect(Math.abs(f32[n] - f64[n])).toBeLessThanOrEqual(1e-5 * absOutput(W, x)));
      }),
      { numRuns: runs(40) },
    );
  });

  test('f(cW) = c^K f(W) in float64 (1e-13·F̄) and float32 (1e-5·F̄)', () => {
    fc.assert(
      fc.property(caseArb, scaleArb, (c, s) => {
        const { kind, X, W } = build(c);
        const cs = W.map(() => s);
        expect(homogeneous(net64(kind), W, X, cs, 1e-13)).toBe(true);
        expect(homogeneous(net32(kind), W, X, cs, 1e-5)).toBe(true);
      }),
      { numRuns: runs(40) },
    );
  });

  test('per layer: f(c_1 W_1, …, c_K W_K) = ∏ c_k f(W) for c_k > 0', () => {
    fc.assert(
      fc.property(caseArb, fc.array(scaleArb, { minLength: 4, maxLength: 4 }), (c, scales) => {
        const { kind, X, W } = build(c);
        const cs = W.map((_, k) => scales[k]);
        expect(homogeneous(net64(kind), W, X, cs, 1e-13)).toBe(true);
        expect(homogeneous(net32(kind), W, X, cs, 1e-5)).toBe(true);
      }),
      { numRuns: runs(40) },
    );
  });

  test('Euler: ⟨W_k, ∇_{W_k} f(x_n)⟩ = f(x_n) for every layer and point (the network\'s backward pass and float64 backprop)', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { kind, X, W } = build(c);
        const f64 = outputs(W, X, kind);
        X.forEach((x, n) => {
          const Fbar = absOutput(W, x);
          // float32: gradient of f at the single point x_n with respect to every layer
          const net = networkOf(W, kind, x.length);
          const { f32, euler32 } = tf.tidy(() => {
            const Ws = W.map((M) => tf.tensor2d(M));
            const { f, tape } = net.forward(tf.tensor2d([x]), Ws);
            const grads = net.backward(tf.tensor1d([1]), tape, Ws);
            return { f32: f.dataSync()[0], euler32: grads.map((g, k) => tf.sum(tf.mul(g, Ws[k])).dataSync()[0]) };
          });
          expect(Math.abs(f32 - f64[n])).toBeLessThanOrEqual(1e-5 * Fbar);
          // ⟨W_k, ∇f⟩ is a sum bounded by F̄ as well
          euler32.forEach((e) => expect(Math.abs(e - f32)).toBeLessThanOrEqual(1e-5 * Fbar));
          const { f, grads } = outputGrad64(W, x, kind);
          grads.forEach((G, k) => {
            const e = G.reduce((s, row, i) => s + row.reduce((t, g, j) => t + g * W[k][i][j], 0), 0);
            expect(Math.abs(e - f)).toBeLessThanOrEqual(1e-13 * Fbar);
          });
        });
      }),
      { numRuns: runs(30) },
    );
  });

  test('N-homogeneity: adding a bias, f(x) + b, breaks f(cW) = c^K f(W) (the check can fail)', () => {
    fc.assert(
      fc.property(caseArb, scaleArb, fc.double({ min: 0.1, max: 1, noNaN: true }), fc.boolean(), (c, s, b, neg) => {
        const { kind, X, W } = build(c);
        const bias = neg ? -b : b;
        const withBias = (net: Net): Net => (V, Y) => net(V, Y).map((f) => f + bias);
        const cs = W.map(() => s);
        expect(homogeneous(withBias(net64(kind)), W, X, cs, 1e-13)).toBe(false);
        expect(homogeneous(withBias(net32(kind)), W, X, cs, 1e-5)).toBe(false);
        // …while the same nets without the bias pass
        expect(homogeneous(net64(kind), W, X, cs, 1e-13)).toBe(true);
      }),
      { numRuns: runs(20) },
    );
  });
});
