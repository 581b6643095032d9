/**
 * C1 for convolutional networks — the per-channel balance identity of a GD step (docs/THEORY.md
 * C1; per unit: Du, Hu & Lee 2018), on networks of src/nn.
 *
 * A hidden channel c of a conv layer has an incoming filter (W_k[:, :, :, c]) and outgoing weights
 * (W_{k+1}[:, :, c, :] for a conv, W_{k+1}[:, …, c] for the dense head). Scaling the first by a > 0
 * and the second by 1/a leaves f unchanged (ReLU and pooling act per channel and are 1-homogeneous),
 * so ⟨w_in,c, g_in,c⟩ = ⟨w_out,c, g_out,c⟩, and one step W⁺ = W − ηG changes
 * ‖w_in,c‖² − ‖w_out,c‖² by exactly η²(‖g_in,c‖² − ‖g_out,c‖²), for any loss. The same for
 * each pair of layers: ‖W_k‖² − ‖W_{k+1}‖² changes by η²(‖G_k‖² − ‖G_{k+1}‖²).
 *
 * Tolerance, derived as in c1-balance-identity.prop.ts. Rounding W⁺ to float32 once moves ‖w⁺‖² by
 * at most 2u‖w⁺‖²(1 + u). The float32 gradient's error breaks ⟨w_in, U_in⟩ = ⟨w_out, U_out⟩ by at
 * most m·u·c·Φ per side, U = −c·g the update, m the longest float32 sum along the chain and
 * Φ = Σ_n |∂ log L/∂f_n| f̄_n with f̄ the network on |x|, |θ| without ReLU (the sum of the
 * magnitudes of all terms; see tests/nn-homogeneity.test.ts). The bound is 4× the sum of both.
 * A first-order error in the step (a per-layer rate) is O(η⟨w, g⟩), far above it.
 *
 * Negative control: per-layer step sizes η_k = m_k η break the identity, by exactly the predicted
 * 2(1 − m_{k+1}/m_k)⟨w_in,c, U_in,c⟩.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { sizeOf, sliceDots, sliceSquares } from '../src/nn/layer.js';
import { initParams, type Network } from '../src/nn/network.js';
import { NetTrainer } from '../src/nn/trainer.js';
import { stream } from '../src/rng.js';
import { netCaseArb, tinyNet } from '../tests/nn-cases.js';
import { abs64, dot64, network64 } from '../tests/nn-reference64.js';
import { gridReal, runs, U32 } from './common.js';

const caseArb = fc.record({
  net: netCaseArb.map((c) => ({ ...c, cnn: true })),
  loss: fc.constantFrom('exp' as const, 'logistic' as const, 'squared' as const),
  reduction: fc.constantFrom('sum' as const, 'mean' as const),
  /** Pixels quantized to 4 levels (as real images are) or Gaussian. */
  quantized: fc.boolean(),
  /** The step as a fraction of ‖θ‖/‖∇L‖: large enough that the η² term shows in float32. */
  relStep: gridReal(0.05, 0.5),
  /** Per-layer multipliers (negative control only), the first layer at 1, the others ≥ 10% away. */
  multipliers: fc.array(fc.oneof(gridReal(0.5, 0.9), gridReal(1.1, 2)), { minLength: 2, maxLength: 2 }).map((rest) => [1, ...rest]),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

interface Check {
  what: string;
  observed: number;
  /** The identity's prediction: the η² term alone. */
  identity: number;
  /** The prediction with the per-layer multipliers used (equal to `identity` when they are 1). */
  predicted: number;
  tol: number;
}

const sum = (a: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
};

/** One step of the case's network (per-layer multipliers m) and its balance checks. */
function stepChecks(c: Case, m?: number[]): Check[] | null {
  const net = tinyNet(c.net);
  if (!net) return null;
  const N = c.net.N;
  const rng = stream(c.net.seed, 'data');
  const X = Float32Array.from({ length: N * sizeOf(net.inShape) }, () => (c.quantized ? Math.floor(4 * rng.uniform()) / 3 : rng.gaussian()));
  const y = Array.from({ length: N }, (_, n) => (n % 2 === 0 ? 1 : -1) * (rng.uniform() < 0.8 ? 1 : -1));
  const init = initParams(net, stream(c.net.seed, 'init'));
  const data = { X, shape: net.inShape, y };
  const spec = { loss: c.loss, reduction: c.reduction, schedule: 'constant' as const };
  const probe = new NetTrainer(net, data, init, { ...spec, lr: 1 });
  let gradNorm: number;
  try {
    gradNorm = Math.sqrt(sum(probe.gradient().grads.map((g) => dot64(g, g))));
  } finally {
    probe.dispose();
  }
  const thetaNorm = Math.sqrt(sum(init.map((p) => dot64(p, p))));
  if (!(gradNorm > 0)) return null;
  const K = net.degree;
  const mult = m ? m.slice(0, K) : new Array(K).fill(1);
  while (mult.length < K) mult.push(1);
  const trainer = new NetTrainer(net, data, init, { ...spec, lr: (c.relStep * thetaNorm) / gradNorm, layerLr: mult });
  try {
    const W = trainer.params;
    const e = trainer.evaluate();
    const coef = trainer.coefficient(e);
    trainer.descend(coef);
    return balanceChecks(net, W, trainer.params, trainer.lastUpdate!, mult, coef * dot64(abs64(e.grad), network64(net, abs64(X), N, W.map(abs64), true).y), N);
  } finally {
    trainer.dispose();
  }
}

function balanceChecks(net: Network, W: Float32Array[], Wa: Float32Array[], U: Float64Array[], m: number[], cPhi: number, N: number): Check[] {
  const shapes = net.weightShapes;
  const axes = net.weightLayers.map((i) => net.layers[i].unitAxes!);
  const longest = 2 * (N * Math.max(sizeOf(net.inShape), ...net.layers.map((l) => sizeOf(l.outShape))) + sum(W.map((w) => w.length)));
  const gradientError = 4 * longest * U32 * cPhi;
  const checks: Check[] = [];
  for (let k = 0; k + 1 < W.length; k++) {
    const ratio = 1 - m[k + 1] / m[k];
    // per layer
    const sq = (a: ArrayLike<number>) => dot64(a, a);
    const layerIdentity = sq(U[k]) - sq(U[k + 1]);
    checks.push({
      what: `layers ${k},${k + 1}`,
      observed: sq(Wa[k]) - sq(Wa[k + 1]) - (sq(W[k]) - sq(W[k + 1])),
      identity: layerIdentity,
      predicted: layerIdentity + 2 * ratio * dot64(W[k], U[k]),
      tol: 4 * (2 * U32 * (1 + U32) * (sq(Wa[k]) + sq(Wa[k + 1])) + gradientError),
    });
    // per channel
    const inAfter = sliceSquares(Wa[k], shapes[k], axes[k].out);
    const outAfter = sliceSquares(Wa[k + 1], shapes[k + 1], axes[k + 1].in);
    const inBefore = sliceSquares(W[k], shapes[k], axes[k].out);
    const outBefore = sliceSquares(W[k + 1], shapes[k + 1], axes[k + 1].in);
    const uIn = sliceSquares(U[k], shapes[k], axes[k].out);
    const uOut = sliceSquares(U[k + 1], shapes[k + 1], axes[k + 1].in);
    const wuIn = sliceDots(W[k], U[k], shapes[k], axes[k].out);
    inAfter.forEach((_, ch) => {
      const identity = uIn[ch] - uOut[ch];
      checks.push({
        what: `channel ${ch} between layers ${k},${k + 1}`,
        observed: inAfter[ch] - outAfter[ch] - (inBefore[ch] - outBefore[ch]),
        identity,
        predicted: identity + 2 * ratio * wuIn[ch],
        tol: 4 * (2 * U32 * (1 + U32) * (inAfter[ch] + outAfter[ch]) + gradientError),
      });
    });
  }
  return checks;
}

describe('C1: per-channel balance identity of a CNN step', () => {
  test('C1: each channel\'s ‖incoming filter‖² − ‖outgoing weights‖² (and each layer pair\'s imbalance) changes by exactly η²(‖g_in‖² − ‖g_out‖²) per GD step, for any loss', () => {
    let informative = 0;
    let total = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        const checks = stepChecks(c);
        fc.pre(checks !== null);
        for (const k of checks) {
          expect(Math.abs(k.observed - k.identity), `${k.what}: observed ${k.observed}, predicted ${k.identity}`).toBeLessThanOrEqual(k.tol);
          total++;
          if (Math.abs(k.identity) > 10 * k.tol) informative++;
        }
      }),
      { numRuns: runs(40) },
    );
    // the identity says more than "conserved": the η² term is well above the tolerance in a good share
    expect(informative / total).toBeGreaterThan(0.2);
  });
});

describe('N-C1: per-layer step sizes break the per-channel identity', () => {
  test('N-C1: with per-layer step sizes the identity fails in almost every case, by exactly the predicted first-order term 2(1 − m_{k+1}/m_k)⟨w_in, U_in⟩', () => {
    let broken = 0;
    let cases = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        const checks = stepChecks(c, c.multipliers);
        fc.pre(checks !== null);
        for (const k of checks) expect(Math.abs(k.observed - k.predicted), k.what).toBeLessThanOrEqual(k.tol);
        cases++;
        if (checks.some((k) => Math.abs(k.observed - k.identity) > k.tol)) broken++;
      }),
      { numRuns: runs(30) },
    );
    // a case escapes only when every channel is dead (no gradient reaches it)
    expect(broken / cases).toBeGreaterThan(0.8);
  });
});
