import * as tf from '@tensorflow/tfjs';
import { DivergenceError } from '../errors.js';
import { dot, softmaxNeg } from '../measure.js';
import { sizeOf, sliceDots, sliceSquares } from '../nn/layer.js';
import type { Network } from '../nn/network.js';
import { NetTrainer, type ArraySet } from '../nn/trainer.js';
import type { TrainRecord } from '../train.js';

/**
 * A loss-based run of a network of src/nn on real images (exp loss, sum), measured at every kept
 * step from what the step computed anyway (no extra forward pass): the loss, the margins q_n from
 * the kept try's outputs, the layer norms, and from the step's update U = −α∇log L
 *  - C1: per hidden unit (neuron or channel) the change of ‖w_in‖² − ‖w_out‖² against the
 *    identity's ‖U_in‖² − ‖U_out‖², in units of the first-order terms 2|⟨w, U⟩| the identity
 *    cancels (plus the float32 rounding of W⁺): `c1Residual`, the largest over units;
 *  - C5: the stationarity gap 1 − cos(θ, −∇log L) (−∇log L = Σ_n softmax(−q)_n ∇q_n for the exp
 *    loss, Lyu & Li's KKT direction), and the complementary-slackness term
 *    Σ_n softmax(−q)_n (q_n/q_min − 1);
 *  - the normalized parameters θ̂ at every `keepEvery`-th step (for Lyu–Li windows).
 */
export interface NetRunRecord extends TrainRecord {
  c1Residual: number;
  c1LayerResidual: number;
  /**
   * With `float32Bound`: the largest per-layer C1 residual over its float32 error bound (≤ 1 when
   * the identity holds up to rounding; see absoluteUpdate), else NaN.
   */
  c1LayerOverBound: number;
  stationarityGap: number;
  slackness: number;
  /** ‖Δθ‖²/‖θ‖² of the step that led here (C4's second-order allowance). */
  stepSq: number;
  /** α‖∇ log L‖² of the step that led here. */
  firstOrder: number;
  /** log L after the step, in float64, and before it (the next record's logLoss equals the former). */
  logLossBefore: number;
}

const U = 2 ** -24;

const sumSq = (a: ArrayLike<number>): number => dot(a, a);

/**
 * The largest per-unit C1 residual of a step from `before` with update `upd` to `after`, each
 * relative to the terms the identity cancels: |Δ(‖w_in‖² − ‖w_out‖²) − (‖U_in‖² − ‖U_out‖²)| /
 * (2Σ|w_in||U_in| + 2Σ|w_out||U_out| + 2u(‖w_in⁺‖² + ‖w_out⁺‖²)): the first-order terms measured
 * by the magnitudes of their summands (cancellation inside ⟨w, U⟩ is where float32 loses it).
 */
export function c1Residual(net: Network, before: Float32Array[], upd: Float64Array[], after: Float32Array[]): { unit: number; layer: number } {
  const shapes = net.weightShapes;
  const axes = net.weightLayers.map((i) => net.layers[i].unitAxes!);
  let worst = 0;
  let layerWorst = 0;
  for (let k = 0; k + 1 < shapes.length; k++) {
    const inAx = axes[k].out;
    const outAx = axes[k + 1].in;
    const b0 = sliceSquares(before[k], shapes[k], inAx);
    const b1 = sliceSquares(before[k + 1], shapes[k + 1], outAx);
    const a0 = sliceSquares(after[k], shapes[k], inAx);
    const a1 = sliceSquares(after[k + 1], shapes[k + 1], outAx);
    const u0 = sliceSquares(upd[k], shapes[k], inAx);
    const u1 = sliceSquares(upd[k + 1], shapes[k + 1], outAx);
    const d0 = sliceDots(before[k], upd[k], shapes[k], inAx);
    const d1 = sliceDots(before[k + 1], upd[k + 1], shapes[k + 1], outAx);
    const m0 = sliceDots(before[k].map(Math.abs), upd[k].map(Math.abs), shapes[k], inAx);
    const m1 = sliceDots(before[k + 1].map(Math.abs), upd[k + 1].map(Math.abs), shapes[k + 1], outAx);
    for (let c = 0; c < b0.length; c++) {
      const observed = a0[c] - a1[c] - (b0[c] - b1[c]);
      const predicted = u0[c] - u1[c];
      const scale = 2 * m0[c] + 2 * m1[c] + 2 * U * (a0[c] + a1[c]);
      if (scale > 0) worst = Math.max(worst, Math.abs(observed - predicted) / scale);
    }
    const sum = (a: Float64Array) => a.reduce((x, v) => x + v, 0);
    const observed = sum(a0) - sum(a1) - (sum(b0) - sum(b1));
    const predicted = sum(u0) - sum(u1);
    const scale = 2 * sum(m0) + 2 * sum(m1) + 2 * U * (sum(a0) + sum(a1));
    if (scale > 0) layerWorst = Math.max(layerWorst, Math.abs(observed - predicted) / scale);
  }
  return { unit: worst, layer: layerWorst };
}

export interface NetRunOptions {
  steps: number;
  lr: number;
  /** Negative control: per-layer step multipliers (break C1). */
  layerLr?: number[];
  keepEvery?: number;
  /** Called after every kept step (progress). */
  onStep?: (step: number) => void;
  /**
   * End the run, instead of throwing, when the outputs come within 2^8 of the float32 range (the
   * trainer's DivergenceError): on a few images loss-based steps reach that in ~100 steps.
   */
  stopBeforeOverflow?: boolean;
  /**
   * Also measure each step's per-layer C1 residual against its float32 error bound
   * (c1LayerOverBound): one more forward and backward pass per step, for small drawn cases.
   */
  float32Bound?: boolean;
}

/**
 * The float32 error bound of the per-layer C1 identity, from the absolute values of everything the
 * step summed. The update U_k = m_k·c·Σ_n s_n ∂f_n/∂W_k (s = softmax(−q), the exp loss's ∇log L
 * in f) is a sum of products along the network's paths; computed in float32 with sums of at most
 * M terms, each entry errs by ≤ γ_M times the same sum over the absolute values of its terms
 * (γ_M = Mu/(1 − Mu), u = 2^-24; Higham, Accuracy and Stability, §3.1), which is the backward pass
 * run with |W|, the weights s_n ≥ 0 and the forward pass's own ReLU masks and inputs — all ≥ 0 for
 * images (pixels, ReLU outputs and their averages). So |⟨W_k, fl(U_k)⟩ − ⟨W_k, U_k⟩| ≤ γ_M·⟨|W_k|,
 * U_k^abs⟩, and the per-layer residual |Δ(‖W_k‖² − ‖W_{k+1}‖²) − (‖U_k‖² − ‖U_{k+1}‖²)| ≤
 * 2γ_M(⟨|W_k|, U_k^abs⟩ + ⟨|W_{k+1}|, U_{k+1}^abs⟩) + the rounding of W⁺ and of the float64 sums.
 * M: the longest chain of additions the step makes, bounded by the sum over layers of each
 * layer's forward dot length (fan-in) and its gradient's sum length (examples × output positions).
 */
function absoluteUpdate(net: Network, x: tf.Tensor, W: Float32Array[], q: Float64Array, scale: number[]): Float64Array[] {
  const G = tf.tidy(() => {
    const Wt = W.map((w, k) => tf.tensor(w, [...net.weightShapes[k]]));
    const { tape } = net.forward(x, Wt);
    const s = tf.tensor1d(Float32Array.from(softmaxNeg(q)));
    return net.backward(s, tape, Wt.map((w) => tf.abs(w)));
  });
  const out = G.map((g, k) => Float64Array.from(g.dataSync() as Float32Array, (v) => v * scale[k]));
  tf.dispose(G);
  return out;
}

/** M of absoluteUpdate: the sum over weight layers of fan-in + examples × output positions. */
export function chainLength(net: Network, examples: number): number {
  return net.weightLayers.reduce((m, i) => {
    const layer = net.layers[i];
    const shape = layer.weightShape!;
    const out = layer.unitAxes!.out;
    const fanIn = sizeOf(shape) / shape[out];
    const positions = sizeOf(layer.outShape) / shape[out];
    return m + fanIn + examples * positions;
  }, 0);
}

function layerOverBound(before: Float32Array[], upd: Float64Array[], after: Float32Array[], abs: Float64Array[], gamma: number): number {
  let worst = 0;
  const absDot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let t = 0;
    for (let i = 0; i < a.length; i++) t += Math.abs(a[i]) * b[i];
    return t;
  };
  const [b, a, u] = [before, after, upd].map((Ws) => Ws.map(sumSq));
  for (let k = 0; k + 1 < before.length; k++) {
    const observed = a[k] - a[k + 1] - (b[k] - b[k + 1]);
    const predicted = u[k] - u[k + 1];
    // the rounding of W⁺ to float32 and of the float64 sums of squares
    const rounding = 2 * U * (a[k] + a[k + 1]) + 8 * 2 ** -53 * (b[k] + b[k + 1] + a[k] + a[k + 1]);
    const bound = 2 * gamma * (absDot(before[k], abs[k]) + absDot(before[k + 1], abs[k + 1])) + rounding;
    worst = Math.max(worst, Math.abs(observed - predicted) / bound);
  }
  return worst;
}

export interface NetRun {
  records: NetRunRecord[];
  /** θ̂ at steps 0, keepEvery, 2·keepEvery, … (record index = step). */
  directions: Map<number, Float64Array>;
  /** Why the run ended before `steps` (stopBeforeOverflow), else undefined. */
  stopped?: string;
  /** Final margins q_n and parameters. */
  q: Float64Array;
  params: Float32Array[];
  seconds: number;
}

export function trainNet(net: Network, data: ArraySet, init: Float32Array[], o: NetRunOptions): NetRun {
  const started = Date.now();
  const trainer = new NetTrainer(net, data, init, { loss: 'exp', reduction: 'sum', schedule: 'loss-based', lr: o.lr, ...(o.layerLr ? { layerLr: o.layerLr } : {}) });
  const K = net.degree;
  const keepEvery = o.keepEvery ?? 10;
  const records: NetRunRecord[] = [];
  const directions = new Map<number, Float64Array>();
  const y = data.y;
  const M = chainLength(net, y.length);
  const gamma = (M * U) / (1 - M * U);
  if (o.float32Bound && data.X.some((v) => v < 0)) throw new Error('float32Bound needs inputs ≥ 0 (images): the bound takes the forward pass\'s inputs as their absolute values');
  // the data on the backend once per run, for absoluteUpdate's extra pass
  const x = o.float32Bound ? tf.tensor(data.X, [y.length, ...data.shape]) : null;
  let q = new Float64Array(0);
  let stopped: string | undefined;
  const snapshot = (extra: Pick<NetRunRecord, 'c1Residual' | 'c1LayerResidual' | 'c1LayerOverBound' | 'stationarityGap' | 'slackness' | 'stepSq' | 'firstOrder' | 'logLossBefore'>) => {
    const e = trainer.current();
    q = Float64Array.from(e.f, (f, n) => f * y[n]);
    let qMin = Infinity;
    for (let n = 0; n < q.length; n++) qMin = Math.min(qMin, q[n]);
    const layerNorms = trainer.params.map((W) => Math.sqrt(sumSq(W)));
    const norm = Math.hypot(...layerNorms);
    const scale = norm ** K;
    const p = softmaxNeg(q);
    let slack = 0;
    for (let n = 0; n < q.length; n++) slack += p[n] * (q[n] / qMin - 1);
    if (trainer.stepCount % keepEvery === 0) {
      const theta = new Float64Array(trainer.params.reduce((s, W) => s + W.length, 0));
      let at = 0;
      for (const W of trainer.params) for (let i = 0; i < W.length; i++) theta[at++] = W[i] / norm;
      directions.set(trainer.stepCount, theta);
    }
    records.push({
      step: trainer.stepCount,
      flowTime: Math.exp(trainer.logFlowTime),
      logFlowTime: trainer.logFlowTime,
      undone: trainer.undone,
      logLoss: e.value,
      norm,
      rho: layerNorms.reduce((a, b) => a * b, 1),
      layerNorms,
      minMargin: qMin,
      normalizedMargin: qMin / scale,
      smoothedMargin: -e.value / scale,
      ...extra,
      slackness: qMin > 0 ? slack : NaN,
    });
  };
  try {
    snapshot({ c1Residual: 0, c1LayerResidual: 0, c1LayerOverBound: o.float32Bound ? 0 : NaN, stationarityGap: NaN, slackness: NaN, stepSq: 0, firstOrder: 0, logLossBefore: NaN });
    while (trainer.stepCount < o.steps) {
      const before = trainer.params;
      let info: ReturnType<NetTrainer['step']>;
      try {
        info = trainer.step();
      } catch (e) {
        if (!(o.stopBeforeOverflow && e instanceof DivergenceError)) throw e;
        stopped = e.message; // the parameters are the last kept step's
        break;
      }
      const upd = trainer.lastUpdate!;
      const over = o.float32Bound
        ? layerOverBound(before, upd, trainer.params, absoluteUpdate(net, x!, before, q, net.weightLayers.map((_, k) => (o.layerLr?.[k] ?? 1) * info.coefficient)), gamma)
        : NaN;
      const thetaSq = before.reduce((s, W) => s + sumSq(W), 0);
      const updSq = upd.reduce((s, W) => s + sumSq(W), 0);
      const along = before.reduce((s, W, k) => s + dot(W, upd[k]), 0);
      const c1 = c1Residual(net, before, upd, trainer.params);
      snapshot({
        c1Residual: c1.unit,
        c1LayerResidual: c1.layer,
        c1LayerOverBound: over,
        // U = −α·m_k∇_k log L: with m ≡ 1 its direction is −∇log L
        stationarityGap: 1 - along / Math.sqrt(thetaSq * updSq),
        slackness: NaN,
        stepSq: updSq / thetaSq,
        firstOrder: updSq / info.coefficient,
        logLossBefore: info.logLoss,
      });
      o.onStep?.(trainer.stepCount);
    }
  } finally {
    trainer.dispose();
    x?.dispose();
  }
  return { records, directions, q, params: trainer.params, seconds: (Date.now() - started) / 1000, ...(stopped ? { stopped } : {}) };
}

/** Flattens a data set's rows into the ArraySet a Network trains on. */
export function arraySet(X: number[][], y: number[], shape: readonly number[]): ArraySet {
  const d = sizeOf(shape);
  const flat = new Float32Array(X.length * d);
  X.forEach((row, i) => flat.set(row, i * d));
  return { X: flat, shape, y };
}
