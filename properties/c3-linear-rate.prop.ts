/**
 * C3 (rate, linear model) — w(t) = ŵ log t + r(t) with r(t) bounded (Soudry et al. 2018, Thm 3;
 * docs/THEORY.md C3): on separable data, plain GD with the constant step η = 1/λ_max(ZᵀZ/N), mean exp
 * loss and w₀ = 0 grows ‖w‖ at the rate ‖ŵ‖ = 1/γ* per unit of log t, and t·L → ‖ŵ‖²/η.
 *
 * ŵ comes from the exact oracle (src/svm.ts). The runs have T = 3000 steps (t = ηT), on sets whose
 * non-support points sit ≥ 1 SVM unit beyond the margin. The approach is slow (‖w‖/log t is still
 * 20–50% off at t = 1e6), so the checks are about the approach, from below, not the limit:
 *   slope     s = Δ‖w‖/Δlog t over the last decade (T/10 → T) is ≤ 1.02·‖ŵ‖ and larger than
 *             over the decade before (T/100 → T/10): the slope climbs towards ‖ŵ‖ from below.
 *             (A floor s ≥ 0.4‖ŵ‖ was dropped: a fixed threshold on a quantity that converges only
 *             in the limit, it failed a flake audit at 0.398 — n 10, d 2, data seed 970605.)
 *   residual  ‖w‖ − ‖ŵ‖ log t moves less over the last decade than over the one before
 *             (ratio ≤ 0.85) — it settles, as a bounded r(t) must (log-t growth gives ratio 1);
 *   t·L       k·L·η/‖ŵ‖² (k the step count, so k·η = t) at T lies in [0.5, 1.02] and has grown
 *             since T/10.
 * The bounds come from a float64 scan of 150 such sets: slope ratio 0.45–0.996 (it always rose),
 * residual ratio ≤ 0.73, k·L·η/‖ŵ‖² 0.56–0.999 (always rising), over 450 sets (n 4–12, d 2–3).
 *
 * Negative control: with the squared loss w converges to a finite vector: the slope falls towards 0
 * instead of climbing (late slope ≤ early slope).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { LossKind } from '../src/loss.js';
import { modelSpec } from '../src/model.js';
import { train } from '../src/train.js';
import { expectChecked, lambdaMax, linearGapArb, linearGapData, runs } from './common.js';

const T = 3000;

function runCase(s: { n: number; d: number; seed: number }, loss: LossKind = 'exp') {
  const { data, svm } = linearGapData(s);
  const eta = 1 / lambdaMax(data);
  const { records } = train(data, [[new Array(s.d).fill(0)]], { model: modelSpec('linear'), loss, reduction: 'mean', schedule: 'constant', lr: eta }, { steps: T, record: [T / 100, T / 10, T] });
  const wHat = 1 / svm.gamma;
  const at = records.map((r) => ({ t: Math.exp(r.logFlowTime), norm: r.norm, L: Math.exp(r.logLoss) }));
  const slope = (a: number, b: number) => (at[b].norm - at[a].norm) / Math.log(at[b].t / at[a].t) / wHat;
  const resid = (i: number) => at[i].norm - wHat * Math.log(at[i].t);
  // Soudry's t·L → ‖ŵ‖²/η counts steps k = t/η: in flow time, t·L → ‖ŵ‖².
  const tL = (i: number) => (at[i].t * at[i].L) / wHat ** 2;
  return { early: slope(0, 1), late: slope(1, 2), residRatio: Math.abs(resid(2) - resid(1)) / Math.abs(resid(1) - resid(0)), tLEarly: tL(1), tLLate: tL(2) };
}

describe('C3: ‖w‖ of a linear model grows at rate 1/γ* in log t', () => {
  test('C3: constant-step GD: the slope of ‖w‖ in log t climbs towards ‖ŵ‖, ‖w‖ − ‖ŵ‖ log t settles, t·L → ‖ŵ‖²/η', () => {
    let checked = 0;
    fc.assert(
      fc.property(linearGapArb, (s) => {
        checked++;
        const r = runCase(s);
        expect(r.late, 'slope over the last decade / ‖ŵ‖').toBeLessThanOrEqual(1.02);
        expect(r.late, 'the slope climbs').toBeGreaterThan(r.early);
        expect(r.residRatio, 'residual change, last decade / decade before').toBeLessThanOrEqual(0.85);
        expect(r.tLLate).toBeGreaterThanOrEqual(0.5);
        expect(r.tLLate).toBeLessThanOrEqual(1.02);
        expect(r.tLLate).toBeGreaterThan(r.tLEarly);
      }),
      { numRuns: runs(3) },
    );
    expectChecked('C3 linear', checked, runs(3), 'C3-linear-rate');
  });
});

describe('N-C3: the squared loss has no log-t growth', () => {
  test('N-C3: with the squared loss the slope of ‖w‖ in log t falls to 0', () => {
    const result = fc.check(
      fc.property(linearGapArb, (s) => {
        const r = runCase(s, 'squared');
        return r.late > r.early;
      }),
      // Shrinking a failure would cost a dozen more 3000-step runs. Measured: 89% of inputs fail
      // (150 draws, 3 seeds), so 3 draws found none with chance 1e-3 and 6 with 1.4e-6.
      { numRuns: runs(6), endOnFailure: true },
    );
    expect(result.failed).toBe(true);
  });
});
