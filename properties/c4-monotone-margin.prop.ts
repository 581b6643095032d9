/**
 * C4 — the margin increases monotonically once the data are fitted (docs/THEORY.md C4; Lyu & Li 2020
 * Thm 4.1, exp loss, gradient flow).
 *
 * Once L < 1 the smoothed margin γ̃ = ℓ⁻¹(L)/‖θ‖^K is non-decreasing, and so is its per-layer
 * form ℓ⁻¹(L)/∏‖W_k‖. Checked at EVERY step of constant-step GD runs after the first step with
 * L < 1.
 * Tolerance: relative dips up to TOL = 1e-6, the size THEORY.md reports for GD (Lyu & Li prove
 * monotonicity for GD only for a modified quantity). Measured dips on these runs: ≤ 3e-16.
 * The flow-following schedule is left out of the claim on purpose: its steps are large by design
 * and its discretization error shows as dips up to ~1e-4 relative (measured: 1.3e-4 on a width-3
 * ReLU net, 2 points in 2-d), which is not what the theorem is about.
 *
 * Far past fitting (loss-based steps to ρ ≥ 10·ρ(fit) and log t ≥ 50, properties/runs.ts farRun):
 * the steps are large by design, so each step from L < 1 may dip γ̃ by its own second-order terms,
 * derived in src/checks.ts smoothedMarginAllowance (docs/THEORY.md C4):
 *   A = max(0, curv)/(−log L) + (K/2)‖Δθ‖²/‖θ‖² + [K ≥ 3]·K(K−2)/8·(2s + e)²,
 * curv = log L⁺ − log L + α‖∇log L‖² the loss's second-order term along the step, s and e the
 * step's first and second order in ‖θ‖². Lyu & Li's inequality is the only step of the derivation
 * that is not an identity, so the bound is rigorous for any gradient step on log L; asserted with
 * C4_TOL on top for float32. Measured: dip/A ≤ 0.70 over 36 runs; with no allowance every net run
 * that dips fails (tests/theory-mutants.test.ts). The allowance only shrinks where the step does: on the
 * linear model, whose α = 1/max‖x‖² is fixed below the descent bound, A ≤ 1e-2 once ρ ≥ 3·ρ(fit)
 * and γ̃ then never decreases (worst dip 3.5e-16 over 288 runs), which is asserted; on deep linear
 * and ReLU nets the adaptive α stays at the edge of descent and grows with ρ, so A stays O(1) (up to
 * 65 measured at ρ ≥ 3·ρ(fit)) and γ̃ dips by up to 90% there — monotonicity at large ρ is not what
 * Lyu & Li's per-step adaptive schedule gives, only the per-step allowance. A step far above the
 * allowed one (linear model, fixed α = 100/max‖x‖², 50× the descent bound, no undo) dips γ̃ at
 * ρ ≥ 3·ρ(fit) too (N-C4 below).
 *
 * Negative controls: before L < 1 nothing holds — fast-check finds a decrease of γ̃ and shrinks
 * it to a couple of points; and the raw normalized margin γ̄ = q_min/‖θ‖^K may go down even
 * after L < 1.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { C4_TOL, fittedIndex, marginDecrease, marginDecreaseBeforeFit, marginDipFailure, normalizedMargin, perLayerSmoothedMargin, smoothedMargin, smoothedMarginAllowance } from '../src/checks.js';
import type { StoredJob } from '../src/counterexamples.js';
import { initWeights } from '../src/model.js';
import { stream } from '../src/rng.js';
import { train, type Schedule, type TrainRecord } from '../src/train.js';
import { buildExperiment, curvatureScale, expectChecked, gridReal, maxRowNormSq, runs, settingArb } from './common.js';
import { farRun } from './runs.js';
import { assertProperty, checkProperty, reportTrajectory } from './store.js';

const STEPS = 300;

const caseArb = fc.record({
  setting: settingArb({ kinds: ['linear', 'deep-linear', 'relu'], depth: [2, 3], width: [1, 4], n: [1, 6], d: [1, 3], initScale: [0.5, 3] }),
  schedule: fc.constantFrom<Schedule>('flow', 'constant'),
  lrScale: gridReal(0.05, 0.5),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

/** Small linear and deep linear nets, where the controls' failures are common and read easily. */
const smallArb: fc.Arbitrary<Case> = fc.record({
  setting: settingArb({ kinds: ['linear', 'deep-linear'], depth: [2, 2], width: [1, 3], n: [1, 4], d: [1, 2], initScale: [0.5, 2] }),
  schedule: fc.constantFrom<Schedule>('flow', 'constant'),
  lrScale: gridReal(0.05, 0.5),
});

/** The run of a case, recorded at every step; Gaussian init for every model (a zero start would hide the pre-fit phase). */
function jobOf(c: Case, check: string, steps = STEPS): StoredJob {
  const { spec, data } = buildExperiment(c.setting);
  const init = initWeights(spec, c.setting.d, 'gaussian', c.setting.initScale, stream(c.setting.seed, 'init'));
  const options = { model: spec, loss: 'exp' as const, reduction: 'sum' as const, schedule: c.schedule, lr: c.lrScale / curvatureScale(data, init, spec.kind, 'exp', 'sum') };
  return { data, init, options, steps, record: Array.from({ length: steps + 1 }, (_, i) => i), check };
}

function run(job: StoredJob) {
  const { records } = train(job.data, job.init, job.options, { steps: job.steps, record: job.record });
  return { records, fitted: fittedIndex(records, job.data.X.length, job.options) };
}

describe('C4: the smoothed margin is non-decreasing once L < 1', () => {
  test('C4: after L < 1, γ̃ = −log L/‖θ‖^K and −log L/∏ρ_k never decrease under GD (relative tolerance 1e-6)', () => {
    let fittedRuns = 0;
    let total = 0;
    const gd = (c: Case): Case => ({ ...c, schedule: 'constant' });
    assertProperty({
      id: 'C4-smoothed-margin',
      arb: caseArb,
      job: (c) => jobOf(gd(c), 'C4/smoothed-margin'),
      predicate: (c) => {
        total++;
        const { records, fitted } = run(jobOf(gd(c), 'C4/smoothed-margin'));
        fc.pre(fitted >= 0); // nothing is claimed before L < 1: fast-check draws another case
        fittedRuns++;
        reportTrajectory('C4', records);
        expect(marginDecrease(records, fitted, smoothedMargin, C4_TOL), 'γ̃').toBeNull();
        expect(marginDecrease(records, fitted, perLayerSmoothedMargin, C4_TOL), 'per-layer γ̃').toBeNull();
      },
      params: { numRuns: runs(8) },
    });
    // About 45% of drawn cases reach L < 1 within 300 curvature-scaled steps (measured); far
    // fewer would mean the property mostly skips.
    expect(fittedRuns, `only ${fittedRuns} of ${total} runs reached L < 1`).toBeGreaterThanOrEqual(total / 5);
    expectChecked('C4', fittedRuns, runs(8));
  });
});

/** Linear models on a few points, for the claim at large ρ under the allowed step and its control. */
const linearArb = fc.record({ setting: settingArb({ kinds: ['linear'], n: [2, 6], d: [1, 3] }) });
/** A decrease of γ̃ beyond C4_TOL from the first record with ρ ≥ 3·ρ(fit) on, or null. */
function largeRhoDecrease(records: TrainRecord[], fitted: number): string | null {
  const from = records.findIndex((r, i) => i >= fitted && r.rho >= 3 * records[fitted].rho);
  return from < 0 ? null : marginDecrease(records, from, smoothedMargin, C4_TOL);
}

describe('C4: the smoothed margin far past fitting', () => {
  test('C4: linear model, loss-based steps with the allowed α = 1/max‖x‖² to ρ ≥ 10·ρ(fit): from ρ ≥ 3·ρ(fit) on γ̃ never decreases (relative tolerance 1e-6)', () => {
    let checked = 0;
    fc.assert(
      fc.property(linearArb, (c) => {
        const run = farRun(buildExperiment(c.setting), { reduction: 'sum' });
        fc.pre(run.fitted >= 0 && run.reached);
        checked++;
        expect(largeRhoDecrease(run.records, run.fitted)).toBeNull();
      }),
      { numRuns: runs(8) },
    );
    expectChecked('C4 linear far past fit', checked, runs(8), 'C4-linear-far-past-fit');
  });

  test('C4: loss-based steps to ρ ≥ 10·ρ(fit), log t ≥ 50: at every step from L < 1, γ̃ dips by at most the step\'s derived second-order allowance', () => {
    let checked = 0;
    let worst = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        const run = farRun(buildExperiment(c.setting), { reduction: 'sum' });
        fc.pre(run.fitted >= 0 && run.reached);
        checked++;
        reportTrajectory('C4-far', run.records);
        const K = run.records[0].layerNorms.length;
        const thetas = run.weights.map((w) => w.flat(2));
        for (let i = run.fitted + 1; i < run.records.length; i++) {
          const [a, b] = [run.records[i - 1], run.records[i]];
          const dip = (a.smoothedMargin - b.smoothedMargin) / a.smoothedMargin;
          if (dip > 0) worst = Math.max(worst, dip / smoothedMarginAllowance({ logLossSum: a.logLoss, theta: thetas[i - 1] }, { logLossSum: b.logLoss, theta: thetas[i] }, b.coefficient as number, K));
        }
        expect(marginDipFailure(run.records, run.fitted, thetas, K)).toBeNull();
      }),
      { numRuns: runs(8) },
    );
    console.log(`C4 far past fit: largest dip ${worst.toPrecision(3)} of its allowance`);
    expectChecked('C4 far past fit', checked, runs(8), 'C4-far-past-fit');
  });
});

describe('N-C4: where the margin may decrease', () => {
  test('N-C4: a step far above the allowed one (linear model, fixed α = 100/max‖x‖², no undo): γ̃ still decreases at ρ ≥ 3·ρ(fit)', () => {
    // The linear model under the flow schedule takes c = α fixed once fitted: steps 50× the descent
    // bound 2/max‖x‖², never undone. Measured: 7 of 20 runs dip by 5e-3 … 0.62 at ρ ≥ 3·ρ(fit), where
    // the allowed step's dips are 0 (C4 above); 30 runs miss it with probability 0.65³⁰ ≈ 2e-6.
    const result = checkProperty({
      id: 'N-C4-step-above-allowed',
      arb: linearArb,
      predicate: (c) => {
        const exp = buildExperiment(c.setting);
        const run = farRun(exp, { reduction: 'sum', schedule: 'flow', lr: 100 / maxRowNormSq(exp.data.X), maxSteps: 300 });
        return run.fitted < 0 || largeRhoDecrease(run.records, run.fitted) === null;
      },
      params: { numRuns: runs(30) },
    });
    expect(result.failed).toBe(true);
  });

  test('N-C4: before L < 1, fast-check finds a decrease of γ̃ and shrinks it to a few points in few dimensions', () => {
    // The pre-fit phase is the first few dozen steps: short runs keep shrinking quick.
    const job = (c: Case) => jobOf(c, 'C4/smoothed-margin-before-fit', 40);
    const result = checkProperty({
      id: 'N-C4-before-fit',
      arb: smallArb,
      job,
      // The same tolerance as the claim, so that float32 noise cannot pass for a decrease.
      predicate: (c) => {
        const { records, fitted } = run(job(c));
        return marginDecreaseBeforeFit(records, fitted) === null;
      },
      params: { numRuns: runs(50) },
    });
    expect(result.failed).toBe(true);
    const s = result.counterexample![0].setting;
    expect(s.n).toBeLessThanOrEqual(4);
    expect(s.d).toBeLessThanOrEqual(2);
    expect(s.width).toBeLessThanOrEqual(2);
  });

  test('N-C4: the raw normalized margin γ̄ = q_min/‖θ‖^K can decrease even after L < 1', () => {
    const job = (c: Case) => jobOf(c, 'C4/normalized-margin');
    // Small linear and deep linear nets (2–4 points in 2-d) show it in 12.9% of runs (71 of 550 over
    // 4 seeds, measured 2026-12-03; an earlier note said ~18%, and 40 runs missed it in a fresh-seed
    // flake audit, seed 1507328320): 80 runs miss it with probability 0.871^80 ≈ 1.6e-5, 100 with 1e-6.
    const rawArb: fc.Arbitrary<Case> = fc.record({
      setting: settingArb({ kinds: ['linear', 'deep-linear'], depth: [2, 2], width: [1, 3], n: [2, 4], d: [2, 2], initScale: [0.5, 2] }),
      schedule: fc.constantFrom<Schedule>('flow', 'constant'),
      lrScale: gridReal(0.05, 0.5),
    });
    const result = checkProperty({
      id: 'N-C4-raw-margin',
      arb: rawArb,
      job,
      predicate: (c) => {
        const { records, fitted } = run(job(c));
        return fitted < 0 || marginDecrease(records, fitted, normalizedMargin, C4_TOL) === null;
      },
      params: { numRuns: runs(100) },
    });
    expect(result.failed).toBe(true);
    const s = result.counterexample![0].setting;
    expect(s.n * s.d, 'shrunk to a few points in few dimensions').toBeLessThanOrEqual(4 * 2);
  });
});
