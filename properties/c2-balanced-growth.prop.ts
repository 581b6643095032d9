/**
 * C2 — balanced growth (docs/THEORY.md C2; memo: "layers grow in balance").
 *
 * Under gradient flow ρ_k² − ρ_j² is conserved; on separable data every ρ_k → ∞, so
 * ρ_k/ρ_j → 1. Under GD the imbalance drifts only by the η² term of C1. Checked on runs of the
 * flow-following schedule (it reaches large ρ in a few hundred steps) that fit their data:
 *   growth   every layer norm ρ_k increases at every record after L < 1 (exactly true per GD step
 *            once all margins are positive: C1 gives Δρ_k² = 2η Σ −ℓ'(q)q + η²‖G_k‖² > 0), and
 *            ρ at the last step is at least C2_GROWTH × ρ at the half-way step;
 *   balance  ρ_k² − ρ_j² drifts from its value at fitting by EXACTLY the accumulated η² term
 *            Σ(‖ΔW_k‖² − ‖ΔW_j‖²) of the steps taken (every step recorded), to a float32 rounding
 *            bound (src/checks.ts etaSquaredDriftFailure, as far past fitting below); and the
 *            imbalance |log(ρ_k/ρ_j)| at the end is at most C2_SHRINK = 0.75 of what it was at
 *            fitting (plus 1e-3 for runs already balanced). Until 2026-12-03 the drift was allowed
 *            2% of the growth of ρ_k² and ρ_j² (a measured figure; it had to stay below the 5%
 *            per-layer step mismatch it rejects): a flake audit drew a depth-3 ReLU run with a 2.05×
 *            tilt and large flow steps whose η² drift was 2.14% (seed 1901088735).
 * Tolerances (src/checks.ts):
 * C2_GROWTH = 1.2 is far below the ~1.5–2× that the flow schedule gives once fitted, and far above
 * the ≤ 1.01× of a run whose norms are bounded.
 *
 * Far past fitting (loss-based steps, η_t = α_t/L with α adapted and bad steps undone, to
 * ρ ≥ 10·ρ(fit) and log t ≥ 50: properties/runs.ts farRun): every ρ_k grows at every step after
 * the fit, and ρ_k² − ρ_j² drifts from its value at the fit by EXACTLY the accumulated η² term
 * Σ(‖ΔW_k‖² − ‖ΔW_j‖²) of the steps actually taken, to a float32 rounding bound (src/checks.ts
 * etaSquaredDriftFailure; measured residual ≤ 0.32 of the bound before its factor 4, 32 runs). So
 * ρ_k²/ρ_j² − 1 = (D(fit) + E)/ρ_j²: the flow's part D(fit)/ρ_j² falls like 1/ρ², and the ratio
 * tends to 1 only as far as the η² term E lets it — at these step sizes E is up to 0.86 of the
 * growth of ρ_k² (measured), and the ratio settles where E puts it. A 5% larger step on the first
 * layer fails the check by its first-order term (32 of 32 runs), and passes it judged by the
 * multipliers it ran with.
 *
 * Negative controls: weight decay keeps ρ bounded (no growth); per-layer step sizes
 * η_k = m_k η conserve ρ_k²/m_k − ρ_j²/m_j instead, so ρ_k/ρ_j → √(m_k/m_j) ≠ 1.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { backpropFanIn, balanceDrift, etaSquaredDriftFailure, imbalanceShrinkFailure, layerGrowthFailure, recordedStepSquares } from '../src/checks.js';
import { expectChecked, runs } from './common.js';
import { C2_STEPS as STEPS, c2CaseArb, c2Experiment, c2Job as jobOf, c2Run as runCase, farRun } from './runs.js';
import { assertProperty, checkProperty, reportTrajectory } from './store.js';

const caseArb = c2CaseArb;

describe('C2: layers grow in balance', () => {
  test('C2: after L < 1 every layer norm grows and ρ_k/ρ_j → 1 with ρ_k² − ρ_j² conserved', () => {
    let checked = 0;
    let worstDrift = 0;
    assertProperty({
      id: 'C2-balanced-growth',
      arb: caseArb,
      job: (c) => jobOf(c, 'C2/balanced-growth'),
      predicate: (c) => {
        const { records, fitted, fanIn: longestSum } = runCase(c);
        // Claims hold once the data are fitted; a run stuck on a dead-ReLU plateau says nothing.
        fc.pre(fitted >= 0 && records[fitted].step <= STEPS / 4);
        checked++;
        reportTrajectory('C2', records);
        worstDrift = Math.max(worstDrift, balanceDrift(records, fitted));
        expect(layerGrowthFailure(records, fitted)).toBeNull();
        expect(etaSquaredDriftFailure(records, fitted, recordedStepSquares(records), longestSum)).toBeNull();
        expect(imbalanceShrinkFailure(records, fitted)).toBeNull();
      },
      params: { numRuns: runs(8) },
    });
    console.log(`C2: worst drift of ρ_k² − ρ_j², ${worstDrift.toPrecision(3)} of the growth (all of it the accumulated η² term, checked exactly)`);
    expectChecked('C2', checked, runs(8));
  });
});

/** The fan-in of the longest sum in backprop, for the rounding bound of the float32 gradient. */
const fanIn = (c: (typeof caseArb extends fc.Arbitrary<infer T> ? T : never)) => backpropFanIn(c.setting.n, c.setting.width, c.setting.d);

describe('C2: balanced growth far past fitting', () => {
  test('C2: loss-based steps to ρ ≥ 10·ρ(fit), log t ≥ 50: every ρ_k grows and ρ_k² − ρ_j² drifts only by the accumulated η² term of the steps taken', () => {
    let checked = 0;
    let worst = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        const run = farRun(c2Experiment(c), { reduction: 'mean' });
        fc.pre(run.fitted >= 0 && run.reached); // a dead ReLU never fits: nothing is claimed
        checked++;
        reportTrajectory('C2-far', run.records);
        const sq = recordedStepSquares(run.records);
        const last = run.records.at(-1)!;
        const grew = (k: number) => last.layerNorms[k] ** 2 - run.records[run.fitted].layerNorms[k] ** 2;
        const E = Math.abs(sq.slice(run.fitted + 1).reduce((s, v) => s + v[0] - v[1], 0));
        worst = Math.max(worst, E / Math.max(grew(0), grew(1)));
        expect(etaSquaredDriftFailure(run.records, run.fitted, sq, fanIn(c))).toBeNull();
      }),
      { numRuns: runs(8) },
    );
    console.log(`C2 far past fit: the η² term E is up to ${worst.toPrecision(3)} of the larger growth of ρ_0², ρ_1²`);
    expectChecked('C2 far past fit', checked, runs(8), 'C2-far-past-fit');
  });
});

describe('N-C2: where balanced growth fails', () => {
  test('N-C2: far past fitting, a 5% larger step on the first layer breaks the η² drift of ρ_0² − ρ_1² (and the drift of ρ_k²/m_k holds)', () => {
    let checked = 0;
    let caught = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        const m = [1.05, 1, 1].slice(0, c.setting.depth);
        const run = farRun(c2Experiment(c), { reduction: 'mean', layerLr: m });
        fc.pre(run.fitted >= 0 && run.reached);
        checked++;
        const sq = recordedStepSquares(run.records);
        if (etaSquaredDriftFailure(run.records, run.fitted, sq, fanIn(c)) !== null) caught++;
        expect(etaSquaredDriftFailure(run.records, run.fitted, sq, fanIn(c), m), 'judged by the multipliers it ran with').toBeNull();
      }),
      { numRuns: runs(6) },
    );
    expectChecked('N-C2 far past fit, per-layer steps', checked, runs(6), 'N-C2-far-per-layer-rates');
    // Judged by equal steps, the 5% mismatch must be caught on most runs, not every one: a fresh-seed
    // audit (seed 2105351830) drew a width-3 ReLU run whose accumulated mismatch stayed within the
    // check's rounding allowance (1 miss in ~120 runs).
    expect(caught, `5% mismatch caught on ${caught} of ${checked} runs`).toBeGreaterThanOrEqual(checked / 2);
  });

  test('N-C2: with weight decay the norms stop growing, and fast-check shrinks the failure small', () => {
    const decay = { weightDecay: 0.05 };
    const result = checkProperty({
      id: 'N-C2-weight-decay',
      arb: caseArb,
      job: (c) => jobOf(c, 'C2/growth', decay),
      predicate: (c) => {
        const { records, fitted } = runCase(c, decay);
        return layerGrowthFailure(records, Math.max(fitted, 0)) === null;
      },
      params: { numRuns: runs(8) },
    });
    expect(result.failed).toBe(true);
    const s = result.counterexample![0].setting;
    expect(s.n * s.d * s.width).toBeLessThanOrEqual(2 * 2 * 3); // the smallest setting the arbitrary draws
  });

  test('N-C2: with per-layer step sizes ρ_0/ρ_1 tends to √(m_0/m_1), not 1', () => {
    const m = [4, 1, 1];
    let fittedRuns = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        const { records, fitted } = runCase({ ...c, setting: { ...c.setting, depth: 2 } }, { layerLr: m });
        fc.pre(fitted >= 0 && records[fitted].step <= STEPS / 4);
        fittedRuns++;
        const last = records.at(-1)!;
        const predicted = 0.5 * Math.log(m[0] / m[1]);
        const observed = Math.log(last.layerNorms[0] / last.layerNorms[1]);
        const start = Math.log(records[fitted].layerNorms[0] / records[fitted].layerNorms[1]);
        // The log-ratio moves towards the predicted limit, away from the balanced 0, and ends nearer it.
        // (1e-3 of slack in the log-ratio: a run that starts at the limit drifts by the η² term.)
        expect(Math.abs(observed - predicted)).toBeLessThan(Math.abs(start - predicted) + 1e-3);
        expect(Math.abs(observed - predicted)).toBeLessThan(Math.abs(observed));
      }),
      { numRuns: runs(6) },
    );
    expectChecked("N-C2 per-layer steps", fittedRuns, runs(6), "N-C2-per-layer-rates");
  });
});
