/**
 * C1–C5 for a ReLU MLP (depth 3, width 64) and a bias-free CNN (src/nn) on Fashion-MNIST class
 * pairs, trained with the exp loss (sum) and loss-based steps (adaptive α with undo; α₀ =
 * 1/max‖x‖²) far past fitting. Every kept step is measured (properties/real/net-run.ts), from the
 * step's own numbers (no extra forward pass). Checked, after the first record with L < 1:
 *
 *   R-C1  each step changes ‖w_in‖² − ‖w_out‖² of every hidden unit (neuron; channel for a conv)
 *         and ‖W_k‖² − ‖W_{k+1}‖² of every layer pair by ‖U_in‖² − ‖U_out‖², U the update. Float32
 *         gradients break the Euler identity ⟨w_in,U_in⟩ = ⟨w_out,U_out⟩ by rounding relative to
 *         the magnitudes of the summands, so the residual is measured in units of
 *         2Σ|w||U| (+ the rounding of W⁺): per layer ≤ C1_LAYER_TOL, per unit ≤ C1_UNIT_TOL
 *         (measured maxima below). The control: per-layer step multipliers (1, 1.5, 0.7).
 *   R-C2  ρ_max/ρ_min falls from the fit to the end (C1 summed: the squared differences are
 *         conserved up to the η² terms while every ρ_k grows).
 *   R-C3  every layer norm ρ_k grows at every kept step after the fit (exactly: ρ_k² gains
 *         2⟨W_k, U_k⟩ + ‖U_k‖² and ⟨W_k, U_k⟩ = α Σ softmax(−q)_n q_n > 0 by Euler; allowed 4u of
 *         float32 rounding), and, as Θ(log t) allows with a margin still rising, ρ grows no faster
 *         than log t: ρ/log t at the end ≤ ρ/log t at the first record with log t ≥ 1 after the fit
 *         (when the run gets there). The fitted exponent of ρ in log t is reported.
 *   R-C4  the smoothed margin γ̃ = −log L/‖θ‖^K never falls after L < 1 by more than the
 *         discrete allowance of the step (the flow's dγ̃/dt ≥ 0 plus the second-order terms a
 *         finite step adds): Δγ̃/γ̃ ≥ −A, A = max(0, log L⁺ − log L + α‖∇log L‖²)/(−log L)
 *         + (K/2)‖Δθ‖²/‖θ‖² (the first term: the loss decrease short of the first-order
 *         prediction; the second: ‖θ⁺‖^K against ‖θ‖^K + K‖θ‖^{K−2}⟨θ, Δθ⟩).
 *   R-C5  KKT (Lyu & Li 2020): the complementary-slackness term Σ softmax(−q)_n (q_n/q_min − 1)
 *         (α = softmax(−q) concentrating on the minimum-margin images) falls by ≥ C5_SLACK_FALL
 *         from the fit to the end (measured: 5.7× on the fast slice, 145 steps past its fit; 470×
 *         and 3.8× for the MLP on 1,8 and 5,7; 49× for the 4-8 CNN over 1,500 steps); the stationarity gap 1 − cos(θ, θ(t+w) − θ(t)) over windows
 *         of w = 10 kept steps (a single loss-based step oscillates across the valley; its gap
 *         is reported as measured) and the Lyu–Li integrated inequality on windows of ≥ 20 steps
 *         after log(1/L) ≥ ½, log(γ̃₂/γ̃₁)·log(‖θ₂‖/‖θ₁‖) ≥ (1 − LYU_LI_SLACK)·K‖θ̂₂ − θ̂₁‖²,
 *         are reported.
 */
import { describe, expect, test } from 'vitest';
import { buildNetwork, DEFAULT_CNN, initParams, type NetSpec } from '../../src/nn/network.js';
import { stream } from '../../src/rng.js';
import { reportFigure, reportTrajectory } from '../store.js';
import { arraySet, trainNet, type NetRun, type NetRunRecord } from './net-run.js';
import { fashionPair, isReal, PAIR_NAMES, progress, slope } from './real-data.js';

export const C1_LAYER_TOL = 1e-3;
/**
 * Per unit the float32 error is relative to the magnitudes of the summands over the EXAMPLES as
 * well (Φ of c1-channel-balance.prop.ts), which this check does not compute: the tolerance is a
 * measured one, 2× the worst residual seen (0.094, the MLP's hidden neurons on 5,7; CNN channels
 * ≤ 0.011), below the control's 0.31. Per layer the Euler terms ⟨W_k, U_k⟩ = α Σ softmax(−q)_n q_n
 * have no cancellation once fitted: measured ≤ 4.2e-5, control 0.27.
 */
export const C1_UNIT_TOL = 0.2;
export const C5_SLACK_FALL = 2;
const KEEP_EVERY = 10;

interface NetCase {
  name: string;
  spec: (shape: number[]) => NetSpec;
  pair: [number, number];
  n: number;
  steps: number;
}

const mlp = (shape: number[]): NetSpec => ({ kind: 'mlp', inShape: [shape.reduce((a, b) => a * b, 1)], widths: [64, 64], relu: true });
const cnn = (channels: number[]) => (shape: number[]): NetSpec => ({ ...DEFAULT_CNN, channels, inShape: shape });

function runCase(c: NetCase, layerLr?: number[], steps = c.steps) {
  const data = fashionPair(c.pair[0], c.pair[1], c.n);
  const spec = c.spec(data.shape);
  const net = buildNetwork(spec);
  const maxSq = Math.max(...data.X.map((x) => x.reduce((s, v) => s + v * v, 0)));
  const run = trainNet(net, arraySet(data.X, data.y, spec.inShape), initParams(net, stream(1, 'init')), {
    steps, lr: 1 / maxSq, keepEvery: KEEP_EVERY, ...(layerLr ? { layerLr } : {}), onStep: progress(`${c.name} ${c.pair.join(',')} 2×${c.n}`, steps),
  });
  return { run, K: net.degree };
}

interface Verdicts {
  fit: number;
  c1Unit: number;
  c1Layer: number;
  ratioFit: number;
  ratioEnd: number;
  rhoFit: number;
  rhoEnd: number;
  rhoPerLogT: [number, number] | null;
  rhoShrinks: number;
  rhoExponent: number;
  c4Worst: number;
  c4Raw: number;
  slackFit: number;
  slackEnd: number;
  gapStepLate: number;
  gapWindow: [number, number];
  lyuLi: number;
}

function analyse(run: NetRun, K: number): Verdicts {
  const R = run.records;
  const fit = R.findIndex((r) => r.logLoss < 0);
  if (fit < 0) throw new Error(`the run never fitted (log L ${R.at(-1)!.logLoss} after ${R.at(-1)!.step} steps)`);
  const after = R.slice(fit);
  const ratio = (r: NetRunRecord) => Math.max(...r.layerNorms) / Math.min(...r.layerNorms);
  const timed = after.filter((r) => r.logFlowTime >= 1);
  const lateHalf = timed.filter((r) => r.logFlowTime >= timed.at(-1)!.logFlowTime / 2);
  let c4Worst = Infinity;
  let c4Raw = Infinity;
  for (let i = fit + 1; i < R.length; i++) {
    const [p, r] = [R[i - 1], R[i]];
    const change = (r.smoothedMargin - p.smoothedMargin) / Math.abs(p.smoothedMargin);
    const allowance = Math.max(0, r.logLoss - r.logLossBefore + r.firstOrder) / -r.logLossBefore + (K / 2) * r.stepSq;
    c4Worst = Math.min(c4Worst, change + allowance);
    c4Raw = Math.min(c4Raw, change);
  }
  // stationarity over windows of KEEP_EVERY kept steps: the displacement of θ against θ
  const windowGap = (s: number): number => {
    const a = run.directions.get(s);
    const b = run.directions.get(s + KEEP_EVERY);
    if (!a || !b) return NaN;
    const na = R[s].norm;
    const nb = R[s + KEEP_EVERY].norm;
    let dot = 0;
    let dd = 0;
    for (let i = 0; i < a.length; i++) {
      const d = b[i] * nb - a[i] * na;
      dot += a[i] * d;
      dd += d * d;
    }
    return 1 - dot / Math.sqrt(dd);
  };
  const starts = [...run.directions.keys()].filter((s) => s >= R[fit].step && run.directions.has(s + KEEP_EVERY));
  const gaps = starts.map(windowGap);
  const quarter = Math.max(1, Math.floor(gaps.length / 4));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  // Lyu–Li integrated, windows of ≥ 20 steps from log(1/L) ≥ ½
  const from = [...run.directions.keys()].filter((s) => R[s].logLoss <= -0.5);
  let lyuLi = Infinity;
  for (const s1 of from) {
    for (const s2 of from) {
      if (s2 - s1 < 20) continue;
      const a = run.directions.get(s1)!;
      const b = run.directions.get(s2)!;
      let d2 = 0;
      for (let i = 0; i < a.length; i++) d2 += (b[i] - a[i]) ** 2;
      const lhs = Math.log(R[s2].smoothedMargin / R[s1].smoothedMargin) * Math.log(R[s2].norm / R[s1].norm);
      if (d2 > 0) lyuLi = Math.min(lyuLi, lhs / (K * d2));
    }
  }
  const late = after.slice(Math.floor(after.length / 2));
  return {
    fit,
    c1Unit: Math.max(...R.map((r) => r.c1Residual)),
    c1Layer: Math.max(...R.map((r) => r.c1LayerResidual)),
    ratioFit: ratio(R[fit]),
    ratioEnd: ratio(R.at(-1)!),
    rhoFit: R[fit].rho,
    rhoEnd: R.at(-1)!.rho,
    rhoPerLogT: timed.length >= 2 ? [timed[0].rho / timed[0].logFlowTime, timed.at(-1)!.rho / timed.at(-1)!.logFlowTime] : null,
    rhoShrinks: after.slice(1).filter((r, i) => r.layerNorms.some((v, k) => v < after[i].layerNorms[k] * (1 - 4 * 2 ** -24))).length,
    rhoExponent: lateHalf.length >= 3 ? slope(lateHalf.map((r) => Math.log(r.logFlowTime)), lateHalf.map((r) => Math.log(r.rho))) : NaN,
    c4Worst,
    c4Raw,
    slackFit: R[fit].slackness,
    slackEnd: R.at(-1)!.slackness,
    gapStepLate: mean(late.map((r) => r.stationarityGap)),
    gapWindow: [mean(gaps.slice(0, quarter)), mean(gaps.slice(-quarter))],
    lyuLi,
  };
}

function checkNet(c: NetCase) {
  const { run, K } = runCase(c);
  const v = analyse(run, K);
  const label = `${c.name} ${c.pair.join(',')} (${PAIR_NAMES[c.pair.join(',')]}) 2×${c.n}`;
  const end = run.records.at(-1)!;
  console.log(
    `real ${label}: ${end.step} kept steps (${end.undone} undone) in ${run.seconds.toFixed(0)} s, fit at step ${run.records[v.fit].step}, log L ${end.logLoss.toFixed(1)}, log t ${end.logFlowTime.toFixed(1)}\n` +
      `  C1 residual per unit ${v.c1Unit.toExponential(2)}, per layer ${v.c1Layer.toExponential(2)}\n` +
      `  C2 ρ_max/ρ_min ${v.ratioFit.toFixed(3)} → ${v.ratioEnd.toFixed(3)}\n` +
      `  C3 ρ ${v.rhoFit.toPrecision(3)} → ${v.rhoEnd.toPrecision(3)}, layer norms shrank at ${v.rhoShrinks} steps, ρ/log t ${v.rhoPerLogT ? `${v.rhoPerLogT[0].toPrecision(3)} → ${v.rhoPerLogT[1].toPrecision(3)}` : '(log t < 1)'}, exponent of ρ in log t (late half) ${v.rhoExponent.toFixed(3)}\n` +
      `  C4 worst Δγ̃/γ̃ + allowance ${v.c4Worst.toExponential(2)} (without the allowance ${v.c4Raw.toExponential(2)})\n` +
      `  C5 slackness ${v.slackFit.toExponential(2)} → ${v.slackEnd.toExponential(2)}, stationarity gap per step (late half, mean) ${v.gapStepLate.toFixed(3)}, over 10-step windows ${v.gapWindow[0].toExponential(2)} → ${v.gapWindow[1].toExponential(2)}, Lyu–Li worst ratio ${v.lyuLi.toFixed(3)}`,
  );
  const id = `${c.name}-${c.pair.join('-')}`;
  for (const claim of ['R-C2', 'R-C3', 'R-C4', 'R-C5']) reportTrajectory(`${claim}-${id}`, run.records);
  reportFigure({ name: `${label}: C1 residual, worst unit`, value: v.c1Unit, predicted: `≤ ${C1_UNIT_TOL} (float32)` });
  reportFigure({ name: `${label}: C1 residual, worst layer pair`, value: v.c1Layer, predicted: `≤ ${C1_LAYER_TOL} (float32)` });
  reportFigure({ name: `${label}: ρ_max/ρ_min at the end (at the fit ${v.ratioFit.toFixed(3)})`, value: v.ratioEnd, predicted: '→ 1, falling' });
  reportFigure({ name: `${label}: exponent of ρ in log t, late half`, value: v.rhoExponent, predicted: '→ 1 (ρ = Θ(log t)) once γ̃ settles' });
  reportFigure({ name: `${label}: worst Δγ̃/γ̃ + allowance after L < 1`, value: v.c4Worst, predicted: '≥ 0' });
  reportFigure({ name: `${label}: KKT complementary slackness at the end (at the fit ${v.slackFit.toExponential(2)})`, value: v.slackEnd, predicted: `falls ≥ ${C5_SLACK_FALL}×` });
  reportFigure({ name: `${label}: KKT stationarity gap over 10-step windows, last quarter (first quarter ${v.gapWindow[0].toExponential(2)})`, value: v.gapWindow[1], predicted: '→ 0' });
  reportFigure({ name: `${label}: Lyu–Li integrated inequality, worst LHS/RHS`, value: v.lyuLi, predicted: '≥ 1 for the flow' });
  return v;
}

function assertNet(v: Verdicts, slackFall = C5_SLACK_FALL) {
  expect(v.c1Layer, 'R-C1 per layer').toBeLessThanOrEqual(C1_LAYER_TOL);
  expect(v.c1Unit, 'R-C1 per unit').toBeLessThanOrEqual(C1_UNIT_TOL);
  expect(v.ratioEnd, 'R-C2 ρ_max/ρ_min falls').toBeLessThan(v.ratioFit);
  expect(v.rhoShrinks, 'R-C3 steps at which a layer norm shrank after the fit').toBe(0);
  if (v.rhoPerLogT) expect(v.rhoPerLogT[1], 'R-C3 ρ/log t does not grow').toBeLessThanOrEqual(v.rhoPerLogT[0]);
  expect(v.c4Worst, 'R-C4 γ̃ within the allowance').toBeGreaterThanOrEqual(-1e-6);
  expect(v.slackEnd * slackFall, 'R-C5 slackness falls').toBeLessThanOrEqual(v.slackFit);
}

const FAST: NetCase = { name: 'cnn-4-8', spec: cnn([4, 8]), pair: [1, 8], n: 100, steps: 300 };

describe('real data, ReLU networks', () => {
  test('R: C1–C5 fast slice, a CNN (4, 8 channels) on trouser/bag (1,8), 2×100 images, 300 loss-based steps', () => {
    assertNet(checkNet(FAST));
  });

  test('N-R: C1 per-layer step multipliers (1, 1.5, 0.7) break the per-unit and per-layer identities on the same CNN and images', () => {
    const { run } = runCase(FAST, [1, 1.5, 0.7], 30);
    const unit = Math.max(...run.records.map((r) => r.c1Residual));
    const layer = Math.max(...run.records.map((r) => r.c1LayerResidual));
    console.log(`real control: C1 residual with multipliers: unit ${unit.toExponential(2)}, layer ${layer.toExponential(2)}`);
    expect(unit).toBeGreaterThan(C1_UNIT_TOL);
    expect(layer).toBeGreaterThan(C1_LAYER_TOL);
  });

  const full: NetCase[] = [
    { name: 'mlp-64-64', spec: mlp, pair: [1, 8], n: 250, steps: 1000 },
    { name: 'mlp-64-64', spec: mlp, pair: [5, 7], n: 250, steps: 2000 },
    { name: 'cnn-8-16', spec: cnn([8, 16]), pair: [1, 8], n: 250, steps: 1000 },
  ];
  for (const c of full) {
    test.runIf(isReal())(`R: C1–C5 ${c.name} on ${PAIR_NAMES[c.pair.join(',')]} (${c.pair.join(',')}), 2×${c.n} images, ${c.steps} loss-based steps`, () => {
      assertNet(checkNet(c));
    }, 900_000);
  }
});
