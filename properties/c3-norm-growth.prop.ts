/**
 * C3 — ρ grows like log t once the data are fitted (docs/THEORY.md C3; Lyu & Li 2020 Thm 4.3;
 * Soudry et al. 2018 Thm 3 for the linear model).
 *
 * After L < 1: L = Θ(1/(t (log t)^{2−2/K})) and ρ = Θ(log t), t the gradient-flow time. Checked on
 * runs of the flow-following schedule, against its accumulated flow time t:
 *   increase  ρ does not decrease from one record to the next after fitting;
 *   rate      over the late half of the fitted run (in log t), the slope of −log L against
 *             log t + (2 − 2/K) log log t is within C3_RATE of 1 (a loss decaying like 1/t² would give
 *             2, like 1/√t 0.5). The approach to slope 1 is slow when a non-support point's margin
 *             is close to the minimum (slopes down to 0.85 measured), hence C3_RATE = 0.25;
 *   log t     ρ keeps growing in proportion to log t: the slope Δρ/Δlog t over the late half of
 *             the run (in log t) is between C3_SLOPE and 1/C3_SLOPE times ρ/log t (bounded ρ gives ~0;
 *             ρ ~ log t gives → 1; ρ ~ t^a would give a·log t), and ρ/log t stays within a factor
 *             C3_BAND = 2 over that half (ρ ~ (log t)² would double it).
 *             A tightening band of ρ/log t would be nicer still, but right after fitting ρ/log t
 *             still drifts towards 1/γ (measured: 0.98 → 1.27 on a linear model while log t went
 *             2.4 → 6.4), so "tightening" fails on healthy runs within this budget.
 * ‖w‖/log t itself converges far too slowly to test (20–50% off at t = 1e6, THEORY.md).
 *
 * The thresholds live in src/checks.ts, shared with `replay`.
 *
 * Negative controls: on non-separable data (label noise) and with the squared loss, ρ converges
 * to a finite value: the slope check fails.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { C3_SLOPE, fittedIndex, normGrowthFailure, relativeEndSlope } from '../src/checks.js';
import type { StoredJob } from '../src/counterexamples.js';
import { withLabelNoise } from '../src/data.js';
import type { LossKind } from '../src/loss.js';
import { stream } from '../src/rng.js';
import { train } from '../src/train.js';
import { buildExperiment, geometricSteps, gridReal, lambdaMax, maxRowNormSq, runs, settingArb } from './common.js';
import { assertProperty, checkProperty, reportTrajectory } from './store.js';

const STEPS = 600;

const caseArb = fc.record({
  setting: settingArb({ kinds: ['linear', 'deep-linear', 'relu'], depth: [2, 3], width: [3, 5], n: [2, 8], d: [2, 4], initScale: [0.5, 1.5] }),
  lrScale: gridReal(0.3, 1),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;
type Control = { loss?: LossKind; noisyPoints?: number };

function jobOf(c: Case, check: string, control: Control = {}): StoredJob {
  const { spec, data: clean, init } = buildExperiment(c.setting);
  const data = control.noisyPoints ? withLabelNoise(clean, stream(c.setting.seed, 'noise'), control.noisyPoints) : clean;
  const loss = control.loss ?? 'exp';
  if (control.noisyPoints) {
    // Never fitted, the flow schedule is plain GD with a small η₀: 600 steps reach only log t ≈ 4,
    // where ρ may still be on its way to the bounded minimizer. Plain GD at η = 1/λ_max for 3000
    // steps reaches log t ≈ 8 (a flake audit caught the shorter run passing the slope check).
    const options = { model: spec, loss, reduction: 'mean' as const, schedule: 'constant' as const, lr: c.lrScale / lambdaMax(data) };
    return { data, init, options, steps: 3000, record: geometricSteps(3000, 1.1), check };
  }
  const options = {
    model: spec, loss, reduction: 'mean' as const, schedule: loss === 'squared' ? ('constant' as const) : ('flow' as const),
    lr: c.lrScale / maxRowNormSq(data.X) / (loss === 'squared' ? 4 : 1),
  };
  return { data, init, options, steps: STEPS, record: geometricSteps(STEPS, 1.1), check };
}

function runCase(c: Case, control: Control = {}) {
  const job = jobOf(c, '', control);
  const { records } = train(job.data, job.init, job.options, { steps: job.steps, record: job.record });
  return { records, fitted: job.options.loss === 'squared' ? 0 : fittedIndex(records, job.data.X.length, job.options) };
}

describe('C3: ρ grows like log t once the data are fitted', () => {
  test('C3: after L < 1, ρ increases, L = Θ(1/(t (log t)^{2−2/K})) and ρ/log t stays in a band', () => {
    let fittedRuns = 0;
    let total = 0;
    assertProperty({
      id: 'C3-log-growth',
      arb: caseArb,
      job: (c) => jobOf(c, 'C3/growth'),
      predicate: (c) => {
        total++;
        const { records, fitted } = runCase(c);
        if (fitted < 0 || records[fitted].step > STEPS / 3) return; // dead ReLU plateau: no claim
        fittedRuns++;
        reportTrajectory('C3', records);
        expect(normGrowthFailure(records, fitted)).toBeNull();
      },
      params: { numRuns: runs(8) },
    });
    expect(fittedRuns, `only ${fittedRuns} of ${total} runs reached L < 1 in time`).toBeGreaterThanOrEqual(total / 3);
  });
});

describe('N-C3: where ρ stays bounded', () => {
  test('N-C3: on non-separable data (label noise) ρ of linear and deep linear models stops growing', () => {
    // d noisy copies of points spanning R^d: every direction has a misclassified point.
    const linearCaseArb = fc.record({
      setting: settingArb({ kinds: ['linear', 'deep-linear'], depth: [2, 3], width: [3, 5], n: [4, 8], d: [2, 4] }),
      lrScale: gridReal(0.3, 1),
    });
    const result = checkProperty({
      id: 'N-C3-label-noise',
      arb: linearCaseArb,
      job: (c) => jobOf(c, 'C3/end-slope', { noisyPoints: c.setting.d }),
      predicate: (c) => relativeEndSlope(runCase(c, { noisyPoints: c.setting.d }).records) >= C3_SLOPE,
      params: { numRuns: runs(6) },
    });
    expect(result.failed).toBe(true);
    const s = result.counterexample![0].setting;
    expect(s.n + s.d, 'shrunk: a handful of points (plus d noisy copies) in few dimensions').toBeLessThanOrEqual(8);
  });

  test('N-C3: with the squared loss ρ converges to a finite value', () => {
    const squared = { loss: 'squared' as const };
    const result = checkProperty({
      id: 'N-C3-squared-loss',
      arb: caseArb,
      job: (c) => jobOf(c, 'C3/end-slope', squared),
      predicate: (c) => relativeEndSlope(runCase(c, squared).records) >= C3_SLOPE,
      params: { numRuns: runs(6) },
    });
    expect(result.failed).toBe(true);
    const s = result.counterexample![0].setting;
    expect(s.n * s.d, 'shrunk to a few points in few dimensions (shrinking stops at a local minimum)').toBeLessThanOrEqual(4 * 4);
  });
});
