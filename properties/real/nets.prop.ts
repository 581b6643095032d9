/**
 * C1–C5 for a ReLU MLP (depth 3, width 64) and a bias-free CNN (src/nn) on Fashion-MNIST class
 * pairs, trained with the exp loss (sum) and loss-based steps (adaptive α with undo; α₀ =
 * 1/max‖x‖²) far past fitting. Every kept step is measured (src/real/net-run.ts), from the
 * step's own numbers (no extra forward pass). Checked, after the first record with L < 1:
 *
 *   R-C1  each step changes ‖w_in‖² − ‖w_out‖² of every hidden unit (neuron; channel for a conv)
 *         and ‖W_k‖² − ‖W_{k+1}‖² of every layer pair by ‖U_in‖² − ‖U_out‖², U the update. Float32
 *         gradients break the Euler identity ⟨w_in,U_in⟩ = ⟨w_out,U_out⟩ by rounding relative to
 *         the magnitudes of the summands, so the residual is measured in units of
 *         2Σ|w||U| (+ the rounding of W⁺): per layer ≤ C1_LAYER_TOL, per unit ≤ C1_UNIT_TOL
 *         (measured maxima in src/real/net-checks.ts). The control: the first layer steps 1.5× larger.
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
 *
 * Drawn cases (fast-check, in every profile): a pair, a subset of its first 100 training images
 * per class (positions in data/fashion-mnist/, 1–16 per class), a CNN of 1–2 conv layers of 1–8
 * channels or an MLP of 1–2 hidden layers of width 1–8, 1–300 loss-based steps, an init seed. Each
 * fitted case is held to what holds at every finite step — R-C1 per layer pair from the fit on
 * (not per unit: its tolerance is measured, and a drawn case exceeded it), R-C3's growth of
 * every ρ_k, R-C4 within the allowance (src/real/net-checks.ts netStepFailure) — not to the
 * trends of a long run (R-C2's ratio, ρ/log t, the slackness fall), which the fixed cases below
 * assert. A failure shrinks towards 2 images, 1 layer of 1 channel, few steps, and is stored with
 * its images as positions in the IDX file: `theory3 replay` re-runs it. A drawn run ends early,
 * and is checked on the steps it took, when its outputs near the float32 range (a few images
 * get there in ~100 loss-based steps).
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Counterexample } from '../../src/counterexamples.js';
import { analyseNetRun, C1_LAYER_TOL, C1_UNIT_TOL, C5_SLACK_FALL, NET_CHECKS, netBalanceFailure, type NetVerdicts } from '../../src/real/net-checks.js';
import { runNetJob } from '../../src/real/net-job.js';
import { netCaseArb, netJob, range, TRAIN, type NetCase } from './net-cases.js';
import { expectChecked, runs } from '../common.js';
import { assertProperty, checkProperty, expectShrunk, reportFigure, reportTrajectory } from '../store.js';
import { isReal, PAIR_NAMES, progress, replayOutput } from './real-data.js';

export { C1_LAYER_TOL, C1_UNIT_TOL, C5_SLACK_FALL };

/** The first layer steps 1.5× larger than the others: a negative control of C1. */
const tilted = (c: NetCase) => [1.5, ...c.widths.map(() => 1)];

function verdictsOf(c: NetCase, check: string, layerLr?: number[], label?: string) {
  const job = netJob(c, check, layerLr);
  const { run, K } = runNetJob(job, label ? progress(label, c.steps) : undefined, NET_CHECKS[check]?.float32Bound ?? false);
  return { run, v: analyseNetRun(run, K) };
}

interface Named {
  name: string;
  c: NetCase;
}
const fixed = (name: string, kind: 'cnn' | 'mlp', widths: number[], pair: [number, number], n: number, steps: number): Named => ({
  name,
  c: { pair, neg: range(n), pos: range(n), kind, widths, steps, seed: 1 },
});

function checkNet({ name, c }: Named) {
  const n = c.neg.length;
  const label = `${name} ${c.pair.join(',')} (${PAIR_NAMES[c.pair.join(',')]}) 2×${n}`;
  const { run, v } = verdictsOf(c, 'R/all', undefined, `${name} ${c.pair.join(',')} 2×${n}`);
  if (run.stopped) throw new Error(`the run ended early: ${run.stopped}`);
  if (v.fit < 0) throw new Error(`the run never fitted (log L ${run.records.at(-1)!.logLoss} after ${run.records.at(-1)!.step} steps)`);
  const end = run.records.at(-1)!;
  console.log(
    `real ${label}: ${end.step} kept steps (${end.undone} undone) in ${run.seconds.toFixed(0)} s, fit at step ${run.records[v.fit].step}, log L ${end.logLoss.toFixed(1)}, log t ${end.logFlowTime.toFixed(1)}\n` +
      `  C1 residual per unit ${v.c1Unit.toExponential(2)}, per layer ${v.c1Layer.toExponential(2)}\n` +
      `  C2 ρ_max/ρ_min ${v.ratioFit.toFixed(3)} → ${v.ratioEnd.toFixed(3)}\n` +
      `  C3 ρ ${v.rhoFit.toPrecision(3)} → ${v.rhoEnd.toPrecision(3)}, layer norms shrank at ${v.rhoShrinks} steps, ρ/log t ${v.rhoPerLogT ? `${v.rhoPerLogT[0].toPrecision(3)} → ${v.rhoPerLogT[1].toPrecision(3)}` : '(log t < 1)'}, exponent of ρ in log t (late half) ${v.rhoExponent.toFixed(3)}\n` +
      `  C4 worst Δγ̃/γ̃ + allowance ${v.c4Worst.toExponential(2)} (without the allowance ${v.c4Raw.toExponential(2)})\n` +
      `  C5 slackness ${v.slackFit.toExponential(2)} → ${v.slackEnd.toExponential(2)}, stationarity gap per step (late half, mean) ${v.gapStepLate.toFixed(3)}, over 10-step windows ${v.gapWindow[0].toExponential(2)} → ${v.gapWindow[1].toExponential(2)}, Lyu–Li worst ratio ${v.lyuLi.toFixed(3)}`,
  );
  const id = `${name}-${c.pair.join('-')}`;
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

function assertNet(v: NetVerdicts, slackFall = C5_SLACK_FALL) {
  expect(v.c1Layer, 'R-C1 per layer').toBeLessThanOrEqual(C1_LAYER_TOL);
  expect(v.c1Unit, 'R-C1 per unit').toBeLessThanOrEqual(C1_UNIT_TOL);
  expect(v.ratioEnd, 'R-C2 ρ_max/ρ_min falls').toBeLessThan(v.ratioFit);
  expect(v.rhoShrinks, 'R-C3 steps at which a layer norm shrank after the fit').toBe(0);
  if (v.rhoPerLogT) expect(v.rhoPerLogT[1], 'R-C3 ρ/log t does not grow').toBeLessThanOrEqual(v.rhoPerLogT[0]);
  expect(v.c4Worst, 'R-C4 γ̃ within the allowance').toBeGreaterThanOrEqual(-1e-6);
  expect(v.slackEnd * slackFall, 'R-C5 slackness falls').toBeLessThanOrEqual(v.slackFit);
}

const FAST = fixed('cnn-4-8', 'cnn', [4, 8], [1, 8], 100, 300);

/**
 * Shrunk size of the control's counterexample: at most this many images and layers (2 images and
 * one layer on 40 fresh seeds and in every audit). The width of that layer is not bounded by a
 * number: fast-check's shrinking ends at a local minimum, not the smallest case, and flake audits
 * ended at 3 channels (seed 1338870057) and 5 units (242481485); it is asserted no larger than the
 * first failing case's instead (store.ts expectShrunk).
 */
export const SHRUNK = { images: 4, layers: 1 };

describe('real data, ReLU networks', () => {
  test('R: C1–C5 fast slice, a CNN (4, 8 channels) on trouser/bag (1,8), 2×100 images, 300 loss-based steps', () => {
    assertNet(checkNet(FAST));
  });

  test('R: C1 (per layer) C3 C4 on drawn cases: Fashion-MNIST pair, 2–32 of its images, CNN or MLP of 1–2 layers of width 1–8, 1–300 loss-based steps', () => {
    let checked = 0;
    assertProperty({
      id: 'R-steps',
      arb: netCaseArb,
      predicate: (c) => {
        const { v } = verdictsOf(c, 'R/steps');
        fc.pre(v.fit >= 0);
        checked++;
        const failure = NET_CHECKS['R/steps'].run(v);
        if (failure) throw new Error(failure);
      },
      netJob: (c) => netJob(c, 'R/steps'),
      params: { numRuns: runs(3) },
    });
    expectChecked('R drawn cases', checked, runs(3));
  });

  test('N-R: C1 per-layer step multipliers (1, 1.5, 0.7) break the per-unit and per-layer identities on the same CNN and images', () => {
    const { run } = runNetJob(netJob({ ...FAST.c, steps: 30 }, 'R/all', [1, 1.5, 0.7]));
    const unit = Math.max(...run.records.map((r) => r.c1Residual));
    const layer = Math.max(...run.records.map((r) => r.c1LayerResidual));
    console.log(`real control: C1 residual with multipliers: unit ${unit.toExponential(2)}, layer ${layer.toExponential(2)}`);
    expect(unit).toBeGreaterThan(C1_UNIT_TOL);
    expect(layer).toBeGreaterThan(C1_LAYER_TOL);
  });

  test('N-R: C1 per-layer step multipliers (1.5 on the first layer) break the identities; the failure shrinks to a few images and one layer, and replays', async () => {
    const result = checkProperty({
      id: 'N-R-C1-multipliers',
      arb: netCaseArb,
      predicate: (c) => {
        const { v } = verdictsOf(c, 'R-C1/layer-balance-fitted', tilted(c));
        fc.pre(v.fit >= 0);
        const failure = NET_CHECKS['R-C1/layer-balance-fitted'].run(v);
        if (failure) throw new Error(failure);
      },
      netJob: (c) => netJob(c, 'R-C1/layer-balance-fitted', tilted(c)),
      params: { numRuns: runs(1) },
    });
    expect(result.failed).toBe(true);
    const c = result.counterexample![0];
    console.log(`real control: C1 with multipliers shrinks to ${JSON.stringify(c)}`);
    expect(c.neg.length + c.pos.length).toBeLessThanOrEqual(SHRUNK.images);
    expect(c.widths.length).toBeLessThanOrEqual(SHRUNK.layers);
    // the width is a local minimum of shrinking (1–2 on 40 seeds, 5 on a flake audit's 242481485):
    // asserted no larger than the first failing case's, not below a fixed number
    const size = (k: typeof c) => k.neg.length + k.pos.length + k.widths.reduce((a, b) => a + b, 0) + k.steps;
    expectShrunk(c, result.firstFailure(), size);
    // one command re-runs it from the stored file, reading the images from the IDX file by position
    const stored = JSON.parse(readFileSync(result.stored!, 'utf8')) as Counterexample;
    expect(stored.netJob!.images.index).toHaveLength(c.neg.length + c.pos.length);
    expect(JSON.stringify(stored)).not.toMatch(/"X"/); // no pixels in the file
    const out = await replayOutput([result.stored!]);
    expect(out).toBe(`N-R-C1-multipliers: violates R-C1 (R-C1/layer-balance-fitted) on ${c.neg.length + c.pos.length} images (${TRAIN} positions ${stored.netJob!.images.index.join(',')}): ${stored.failure}\n`);
  });

  const full: Named[] = [
    fixed('mlp-64-64', 'mlp', [64, 64], [1, 8], 250, 1000),
    fixed('mlp-64-64', 'mlp', [64, 64], [5, 7], 250, 2000),
    fixed('cnn-8-16', 'cnn', [8, 16], [1, 8], 250, 1000),
  ];
  for (const f of full) {
    test.runIf(isReal())(`R: C1–C5 ${f.name} on ${PAIR_NAMES[f.c.pair.join(',')]} (${f.c.pair.join(',')}), 2×${f.c.neg.length} images, ${f.c.steps} loss-based steps`, () => {
      assertNet(checkNet(f));
    }, 900_000);
  }
});
