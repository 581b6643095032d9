import { logistic } from '../../src/generalization.js';
import { buildNetwork, initParams, type MlpSpec } from '../../src/nn/network.js';
import { NetTrainer } from '../../src/nn/trainer.js';
import { stream } from '../../src/rng.js';

/**
 * The generalization runs on real images (properties/real/generalization.prop.ts): a bias-free ReLU
 * MLP trained on Fashion-MNIST images scaled to unit norm (‖x‖ = 1 = B, so that the normalized
 * network's margins lie in [−1, 1]: with ‖V_k‖_F = 1, ‖V_k‖_op ≤ 1 and ReLU 1-Lipschitz,
 * |f(V; x)| ≤ ‖x‖), to the first step whose SUM exp loss is below 1 (every margin positive), with
 * loss-based steps (α₀ = 1/max‖x‖² = 1); then the margins of the NORMALIZED network, V_k =
 * W_k/‖W_k‖_F, computed on the host in float64.
 */
export interface Images {
  /** Rows of unit norm, 784 pixels each. */
  X: number[][];
  y: number[];
}

/** Every row divided by its Euclidean norm (a zero row would be refused by the caller's data). */
export function unitRows(X: number[][]): number[][] {
  return X.map((r) => {
    const s = Math.hypot(...r);
    if (!(s > 0)) throw new Error('an all-zero image cannot be scaled to unit norm');
    return r.map((v) => v / s);
  });
}

export const mlpSpec = (widths: number[], d = 784): MlpSpec => ({ kind: 'mlp', inShape: [d], widths, relu: true });

export interface Fit {
  params: Float32Array[];
  steps: number;
  undone: number;
}

/** Trains from the init of stream(seed, 'init') to the first L < 1 (sum exp loss); null if not within cap steps. */
export function fitToFirstFit(spec: MlpSpec, data: Images, seed: number, cap: number, onStep?: (s: number) => void): Fit | null {
  const net = buildNetwork(spec);
  const d = spec.inShape[0];
  const flat = new Float32Array(data.X.length * d);
  data.X.forEach((row, i) => flat.set(row, i * d));
  const maxSq = Math.max(...data.X.map((x) => x.reduce((s, v) => s + v * v, 0)));
  const trainer = new NetTrainer(net, { X: flat, shape: [d], y: data.y }, initParams(net, stream(seed, 'init')), {
    loss: 'exp', reduction: 'sum', schedule: 'loss-based', lr: 1 / maxSq,
  });
  try {
    while (trainer.current().value >= 0) {
      if (trainer.stepCount >= cap) return null;
      trainer.step();
      onStep?.(trainer.stepCount);
    }
    return { params: trainer.params, steps: trainer.stepCount, undone: trainer.undone };
  } finally {
    trainer.dispose();
  }
}

/** V_k = W_k/‖W_k‖_F, in float64. */
export function normalizeParams(params: Float32Array[]): Float64Array[] {
  return params.map((W) => {
    const n = Math.sqrt(W.reduce((s, v) => s + v * v, 0));
    return Float64Array.from(W, (v) => v / n);
  });
}

/** ρ = ∏ ‖W_k‖_F. */
export const rhoOf = (params: Float32Array[]): number => params.reduce((p, W) => p * Math.sqrt(W.reduce((s, v) => s + v * v, 0)), 1);

/**
 * Margins y_n f(W; x_n) of a bias-free ReLU MLP with weights W_k stored [out, in] (src/nn/dense.ts),
 * in float64 with plain loops.
 */
export function mlpMargins(weights: ArrayLike<number>[], widths: number[], data: Images): number[] {
  const sizes = [data.X[0].length, ...widths, 1];
  return data.X.map((x, n) => {
    let h: ArrayLike<number> = x;
    for (let k = 0; k + 1 < sizes.length; k++) {
      const [din, dout] = [sizes[k], sizes[k + 1]];
      const W = weights[k];
      const next = new Float64Array(dout);
      for (let i = 0; i < dout; i++) {
        let s = 0;
        for (let j = 0; j < din; j++) s += W[i * din + j] * h[j];
        next[i] = k + 2 < sizes.length && s < 0 ? 0 : s;
      }
      h = next;
    }
    return data.y[n] * h[0];
  });
}

/**
 * The premise of C7: every normalized margin in [−B, B] (B = 1 for unit-norm images). A network
 * that is not normalized has margins of order ρ·q̄ and is refused here, by name.
 */
export function checkedMargins(q: number[], B = 1): number[] {
  const worst = Math.max(...q.map(Math.abs));
  if (!(worst <= B * (1 + 1e-9))) throw new Error(`a margin is ${worst.toPrecision(4)}, outside [−B, B] = [−${B}, ${B}]: the network is not normalized`);
  return q;
}

export const meanLogistic = (q: number[]): number => q.reduce((s, v) => s + logistic(v), 0) / q.length;
