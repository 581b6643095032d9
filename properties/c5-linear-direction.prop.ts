/**
 * C5 (linear and deep linear) — the normalized weights approach the minimum-norm (max-margin)
 * solution (Soudry et al. 2018; Ji & Telgarsky 2019 for deep linear nets; docs/THEORY.md C5).
 *
 * Linear, constant step: w(t) = ŵ log t + r(t) with r(t) converging, so the angle to ŵ is
 * O(1/log t) (sin angle ≤ ‖r(t)‖/‖w(t)‖). The angle itself is not monotone in a finite run (a
 * float64 scan of 450 sets saw it grow between t = 30 and 3000 in 5% of them while r settled),
 * so the check is that r(t) = w(t) − ŵ log t settles: it moves less over the last decade of t than
 * over the decade before (ratio ≤ RESIDUAL_SETTLE = 0.95; log-t drift of the direction gives ≥ 1).
 * A measured ratio, not the derived limit-line check of the flow runs below: at these 3,000 steps
 * log t is only ~5 at T/10 and ~7.5 at T, where that check's estimate of the non-support points'
 * push is not yet a bound (it fell short on 1 of 100 sets) and it rejected the SVM turned by
 * ±0.05 rad on only 35 of 100 (measured 2026-12-03, fc.sample seed 5).
 * Linear, flow-following schedule: the same path in far fewer steps — the flow run (η₀ =
 * 1/max‖x‖²) reaches the angle that 100,000 plain GD steps reach (η = 1/λ_max) within 2,000 steps
 * (≥ 50× fewer). The advantage grows with the baseline's length (flow steps advance log t at a
 * steady rate, plain GD steps at a rate 1/t): against a 1e5-step baseline it was 81× and 50× on the
 * two slowest sets seen (n = 7 and 8 in 2-d, γ* ≈ 0.18), ≥ 100× on most; the 100× of a 1e6-step
 * baseline costs ~1 s of float64 GD per case plus thousands of flow steps, beyond this budget.
 * The 100,000-step baseline is a float64 plain-GD loop in this file (the command-line test pins
 * the core's constant-step run to the same loop within 1e-4 at 10,000 steps).
 * Linear, flow schedule, the limits asserted (src/checks.ts linearDirectionFailure, which takes the
 * SVM as a parameter so that tests/theory-mutants.test.ts can hand it a wrong one): 1000 steps
 * from w = 0 on sets whose normalized margin γ* over max‖x‖ is ≥ 0.2 (fc.pre; ~30% of draws), which
 * reach log t = 41…1000:
 *   direction  the distance of w from the predicted limit line ŵ log t + r* (r* from the SVM
 *              multipliers, src/svm.ts limitOffset) does not grow from mid-run to the end, within
 *              the log-t advance of one step (×‖ŵ‖) at each end; the part off the support
 *              vectors' span does not move beyond float32 rounding. Derived: the flow's residual
 *              follows the gradient of a convex function with its minimum at r*. So w − ŵ log t
 *              stays bounded and the angle is ≤ C/log t with C from the run's mid-run residual.
 *              Measured over 500 runs (fc.sample seeds 11 and 13): the truth used ≤ 0.0005 of
 *              the allowance in the span and ≤ 0.31 of the rounding floor off it; the SVM
 *              direction rotated by ±0.05 rad, on runs ending below 0.01 rad, exceeded it ≥ 12×,
 *              γ* × 1.02 or × 0.98 ≥ 4.9×. (The check it replaces, ‖P_⊥w‖ at the end ≤ 1.35× mid-run,
 *              was a measured factor and failed on a set whose residual relaxes on a scale of
 *              ~1000 in log t: multipliers 0.074/0.66/0.45, ‖P_⊥w‖ 1.75 → 3.11 from log t 51 to
 *              100, while the distance to the limit line fell 16.1 → 14.8.)
 *   margin     0 ≤ (γ* − γ̄)/γ* ≤ 1.5·(C_γ/(γ*‖w‖) + ½θ²) + 1e-6 with C_γ = max_S log α_n − Σ p_n
 *              log α_n derived from the SVM multipliers (src/checks.ts marginGapConstant): measured
 *              ratio of the gap to the unslacked bound 1.00–1.22 (C_γ > 0.05, 176 runs).
 * Deep linear, flow schedule: the end-to-end predictor β = W_K⋯W_1 stays within the margin bound
 * acos(γ̃_ρ/γ*) (= asin √(1 − (γ̃_ρ/γ*)²) while γ̃_ρ ≥ 0) of the SVM direction at every record after L < 1, and that bound is
 * smaller at the end than at L < 1 (the per-layer smoothed margin γ̃_ρ grows: C4) — src/checks.ts
 * deepDirectionFailure.
 * Rigorous, but it is no C/log t bound and cannot tell the SVM from a direction 0.05 rad off at
 * these ρ (the bound is ~0.1–0.4 rad). The rate is asserted far past fitting (below); at these
 * 1000 steps no rate form held (re-measured 2026-12-03: the linear
 * check's form, ‖P_⊥β‖ ≈ ρ·sin∠(β, ŵ) at the end ≤ 1.35× its value at half the final log t,
 * failed in 6 of 40 runs, ratios 1.39–1.54, on runs whose angle was still 0.013–0.07 rad at log t
 * 20–400, while settled runs gave 0.95–1.0): measured angle·log t spans
 * 0.003–25 over 150 runs, the angle can rise after L < 1 (0.037 → 0.043 on 4 points in 2-d,
 * width 2, found while breaking this check on purpose), and neither a fixed C nor one measured
 * mid-run both holds and rejects a 0.05 rad rotation. The old check here ("shrinks ≥ 5% after
 * L < 1") failed on that case. Rank one and alignment are asserted as bounds that
 * shrink like C/ρ², with C from the imbalance D_k = W_{k+1}ᵀW_{k+1} − W_kW_kᵀ at init plus its
 * exact η² drift accumulated over the run (src/checks.ts rankOneFailure, derived there):
 * stable rank − 1 ≤ C_k/(ρ_k² − C_k) and sin∠(u_k, v_{k+1}) ≤ 2‖D_k‖_2/(ρ_k² − 2C_k). They are
 * rigorous, so they cannot flake; measured use of the bound ≤ 0.93 (stable rank) and ≤ 0.19
 * (alignment) over 225 layers. On the same weights the check must reject C = 0 where float32 resolves a stable rank above 1 (exactly rank one
 * and aligned: the limit asserted at finite t). Halving C is not rejected run by run (the
 * stable rank uses up to 0.93 of its bound, alignment ≤ 0.19). The case a flake audit found (data seed 8, n 4, d 3, depth 3,
 * width 3, init scale 0.8, lr scale 0.4: stable rank 1.108, above the old fixed 1.1) uses 0.69 of
 * its bound.
 *
 * Far past fitting (loss-based steps, α = 1/max‖x‖² fixed, to ρ ≥ 10·ρ(fit) and log t ≥ 200): the
 * same linearDirectionFailure, with mid-run taken at half the final log t. Measured over 250 runs
 * (seeds 12 and 14): the truth used ≤ 0.0021 of the allowance in the span, ≤ 0.24 of the floor off
 * it; the ±0.05 rad rotations exceeded it ≥ 3.4× (runs ending below 0.01 rad); γ* off by 2% reached
 * ≥ 1.0× of it, and the margin half rejected the 4 of 200 that the direction half let through.
 * Without the float32 term 2⁻²⁴·(steps)·‖w‖ of the floor, 11 of 120 such runs failed: over the
 * ~2,000 steps from log t 100 to 200 rounding moved the part off the span by up to 3.8e-5‖w‖.
 *
 * Deep linear far past fitting: NOT asserted. The linear direction check on β = W_K⋯W_1 (the part
 * off ŵ at the end ≤ 1.35× its value at half the final log t), on flow runs to log t ≥ 100·K and
 * on sets whose support vectors with α ≥ 0.1·max α span the space, failed in 3 of 20 fresh-seed
 * audit runs of 3 cases each (2026-12-03; seeds 970381175, 983931149: depth 2, log t 200; at log t
 * 200 for every K, also a depth-3 set at 1.375×). Its 1.35× is measured on linear models, not
 * derived for deep ones, and no bound of this form held reliably here.
 * Not asserted as a bound: where they do not span, the unpinned directions of β are a converging
 * part of W₁ times W_K⋯W₂, which grows like (log t)^{1−1/K} (docs/THEORY.md C5), so the angle falls
 * only like C/(log t)^{1/K}. Measured growth per doubling 1.40–1.41 (K = 2, 2^{1/2} = 1.414) and
 * 1.55–1.58 (K = 3, 2^{2/3} = 1.587) on most such sets, but a transient (4 points in 3-d, depth
 * 3, seed 7: ‖P_⊥β‖ from 0.40 at log t 20 to 9.3 at 800, partly cancelling an initial part) gave
 * 1.78× at log t 100→200 and 1.66× at 400→800, 12% and 5% above 2^{2/3} (the ratio approaches it
 * from above); and "C/log t there too" is not rejected run by run either (on 3 of 5 fresh seeds a
 * depth-2 run on such a set stayed within 1.35×). Dropping the fc.pre on pinning fails this
 * property on 3 of 3 fresh seeds (4 points in 2-d, depth 3: 1.47×).
 * Not asserted: the linear margin-gap bound 1.5(C_γ/(γ*‖β‖) + ½θ²) on β: over the same 74 runs the
 * gap used 0.94–2.72 of the unslacked bound (6 points in 2-d, depth 3: 0.0064 against 0.0035 with
 * the slack); the derivation assumes the residual at its equilibrium e^{−z_n·r} ∝ α_n, which a deep
 * net approaches K times slower in log t. Only γ̄(β) ≤ γ* is asserted.
 * Wrong theories (tests/theory-mutants.test.ts): ŵ rotated by ±0.05 rad on pinned runs ending below
 * 0.01 rad (‖P_⊥β‖ then grows ≈ 2× per doubling), and γ* × 0.98.
 *
 * Negative control: the squared loss converges to the least-squares direction, not the SVM
 * (with N ≥ d + 2, where the two differ).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Dataset } from '../src/data.js';
import { angle } from '../src/measure.js';
import { modelSpec } from '../src/model.js';
import { train, Trainer } from '../src/train.js';
import { deepDirectionFailure, linearDirectionFailure, rankOneFailure, STABLE_RANK_RESOLUTION, topSingular } from '../src/checks.js';
import { reportTrajectory } from './store.js';
import { expectChecked, fittedIndex, geometricSteps, lambdaMax, linearGapArb, linearGapData, maxRowNormSq, runs } from './common.js';
import { deepCaseArb, deepLinearRun, linearFarRun, linearFlowRun } from './runs.js';

const T = 3000;
/** r(t) moves less over the last decade than the one before; a set whose SVM multipliers differ 10× (data seed 18) gave 0.874. A direction drifting like log t gives ≥ 1. */
const RESIDUAL_SETTLE = 0.95;

/** Plain GD on the mean exp loss in float64 from w = 0: the baseline a user would run. */
function plainGd64(data: Dataset, eta: number, steps: number): number[] {
  const Z = data.X.map((x, n) => x.map((v) => v * data.y[n]));
  const N = Z.length;
  let w = new Array<number>(Z[0].length).fill(0);
  for (let k = 0; k < steps; k++) {
    const g = new Array<number>(w.length).fill(0);
    for (const z of Z) {
      const e = Math.exp(-z.reduce((s, v, i) => s + v * w[i], 0)) / N;
      z.forEach((v, i) => (g[i] -= e * v));
    }
    w = w.map((v, i) => v - eta * g[i]);
  }
  return w;
}

describe('C5: a linear model turns to the SVM direction', () => {
  test('C5: constant-step GD: r(t) = w(t) − ŵ log t settles, so the angle to the SVM is O(1/log t)', () => {
    let checked = 0;
    fc.assert(
      fc.property(linearGapArb, (s) => {
        checked++;
        const { data, svm } = linearGapData(s);
        const eta = 1 / lambdaMax(data);
        const ws: number[][] = [];
        const { records } = train(data, [[new Array(s.d).fill(0)]], { model: modelSpec('linear'), loss: 'exp', reduction: 'mean', schedule: 'constant', lr: eta }, {
          steps: T, record: [...geometricSteps(T, 1.5), T / 100, T / 10], annotate: (w, rec) => { ws.push(w[0][0]); rec.angleToSvm = angle(w[0][0], svm.w); },
        });
        reportTrajectory('C5', records, { gammaStar: svm.gamma });
        const wHat = svm.w.map((v) => v); // ŵ: the SVM with margin 1, so w ≈ ŵ log t
        const at = (step: number) => records.findIndex((x) => x.step === step);
        const r = [T / 100, T / 10, T].map(at).map((i) => ws[i].map((v, j) => v - wHat[j] * records[i].logFlowTime));
        const dist = (a: number[], b: number[]) => Math.hypot(...a.map((v, j) => v - b[j]));
        expect(dist(r[2], r[1]) / dist(r[1], r[0]), 'movement of r over the last decade / the decade before').toBeLessThanOrEqual(RESIDUAL_SETTLE);
      }),
      { numRuns: runs(3) },
    );
    expectChecked('C5 constant step', checked, runs(3), 'C5-constant-step');
  });

  test('C5: the flow-following schedule reaches the angle of 100,000 plain GD steps in at most 2,000 steps', () => {
    let checked = 0;
    fc.assert(
      fc.property(linearGapArb, (s) => {
        checked++;
        const { data, svm } = linearGapData(s);
        const target = angle(plainGd64(data, 1 / lambdaMax(data), 100_000), svm.w);
        const trainer = new Trainer(data, [[new Array(s.d).fill(0)]], { model: modelSpec('linear'), loss: 'exp', reduction: 'mean', schedule: 'flow', lr: 1 / maxRowNormSq(data.X) });
        try {
          while (trainer.stepCount < 2000 && angle(trainer.weights()[0][0], svm.w) > target) trainer.step();
          expect(angle(trainer.weights()[0][0], svm.w), `angle of 1e5 GD steps, ${target}, not reached in 2000 flow steps`).toBeLessThanOrEqual(target);
        } finally {
          trainer.dispose();
        }
      }),
      { numRuns: runs(3) },
    );
    expectChecked('C5 flow vs plain GD', checked, runs(3), 'C5-flow-speed');
  });
});

describe('C5: a linear model reaches the SVM direction and margin at the rate C/log t', () => {
  test('C5: flow schedule: w does not move away from the limit line ŵ log t + r* (angle ≤ C/log t) and 0 ≤ γ* − γ̄ ≤ derived C_γ/log t', () => {
    let checked = 0;
    fc.assert(
      fc.property(linearGapArb, (s) => {
        const r = linearFlowRun(s);
        checked++;
        expect(linearDirectionFailure(r.Z, r.mid, r.end, r.margin, r.truth)).toBeNull();
      }),
      { numRuns: runs(8) },
    );
    expectChecked('C5 linear flow', checked, runs(8), 'C5-linear-flow');
  });
});

/**
 * log t at the end of C5's far runs. 200 was needed by the settle factor this check replaced (at 50
 * it failed 3 of ~70 runs); the limit-line check needs no such length, and 200 is kept for ρ far
 * past the fit (≥ 10·ρ(fit) is required too).
 */
const C5_FAR_LOG_T = 200;

describe('C5: a linear model at large ρ', () => {
  test('C5: loss-based steps to ρ ≥ 10·ρ(fit) and log t ≥ 200: w does not move away from the limit line ŵ log t + r* and 0 ≤ γ* − γ̄ ≤ derived C_γ/log t', () => {
    let checked = 0;
    fc.assert(
      fc.property(linearGapArb, (s) => {
        const r = linearFarRun(s, C5_FAR_LOG_T);
        fc.pre(r.fitted >= 0 && r.reached);
        checked++;
        reportTrajectory('C5-far', r.records, { gammaStar: r.svm.gamma });
        expect(linearDirectionFailure(r.Z, r.mid, r.end, r.margin, r.truth)).toBeNull();
      }),
      { numRuns: runs(4) },
    );
    expectChecked('C5 linear far past fit', checked, runs(4), 'C5-linear-far-past-fit');
  });
});

describe('C5: a deep linear network turns to the SVM direction and its layers align', () => {
  test('C5: deep linear, flow schedule: end-to-end direction → SVM, stable rank − 1 ≤ C/ρ² and alignment from the conserved imbalance', () => {
    let checked = 0;
    let resolved = 0;
    fc.assert(
      fc.property(deepCaseArb, (c) => {
        const { records, last, data, angles, D0, drift, svm } = deepLinearRun(c);
        const f = fittedIndex(records, data.X.length, 'mean', 'exp');
        fc.pre(f >= 0);
        checked++;
        const logSum = records.map((r) => r.logLoss + Math.log(data.X.length));
        expect(deepDirectionFailure(records, f, angles, logSum, svm.gamma)).toBeNull();
        expect(rankOneFailure(last, D0, drift)).toBeNull();
        // The wrong theory "the layers are already balanced" (C = 0: rank one and aligned exactly,
        // the limit asserted at finite t) must be rejected on the same weights wherever they resolve
        // a stable rank above 1 (a flake audit drew a run whose largest was 9.3e-7, below float32's
        // resolution: there C = 0 and the truth cannot be told apart).
        if (last.some((W) => topSingular(W).stableRank - 1 > STABLE_RANK_RESOLUTION)) {
          resolved++;
          const zero = (D: number[][][]) => D.map((M) => M.map((r) => r.map(() => 0)));
          expect(rankOneFailure(last, zero(D0), zero(drift)), 'C = 0').not.toBeNull();
        }
      }),
      { numRuns: runs(8) },
    );
    expectChecked('C5 deep linear', checked, runs(8), 'C5-deep-linear');
    // Unresolved runs are rare (1 in ~150 cases of a 20-run audit): the C = 0 rejection must have
    // been tried on most of them, or it asserts nothing.
    expect(resolved, 'runs where C = 0 could be rejected').toBeGreaterThanOrEqual(checked / 2);
  });
});

describe('N-C5: the squared loss does not approach the SVM', () => {
  test('N-C5: a linear model trained with the squared loss ends away from the SVM direction', () => {
    const result = fc.check(
      fc.property(fc.record({ n: fc.integer({ min: 6, max: 12 }), d: fc.integer({ min: 2, max: 3 }), seed: linearGapArb.map((s) => s.seed) }), (s) => {
        const { data, svm } = linearGapData(s);
        const { weights } = train(data, [[new Array(s.d).fill(0)]], { model: modelSpec('linear'), loss: 'squared', reduction: 'mean', schedule: 'constant', lr: 0.5 / lambdaMax(data) }, { steps: 500 });
        return angle(weights[0][0], svm.w) < 0.05;
      }),
      { numRuns: runs(6) },
    );
    expect(result.failed).toBe(true);
    const c = result.counterexample![0];
    expect(c.n * c.d).toBeLessThanOrEqual(6 * 3);
  });
});
