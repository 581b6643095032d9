/**
 * The host objective `objectiveOfOutputs` of src/loss.ts (float64) in the logistic tail q ≥ 30, at
 * its switch, with labels other than ±1, with `logScale` and the mean reduction; and the isLog flag
 * of the tfjs `objective`.
 *
 * References are asymptotic series in u = e^{−q} whose dropped terms are O(u²) < 1e-25:
 *   log ℓ(q) = log log1p(u) = −q − u/2 + 5u²/24 + …,
 *   (log ℓ)'(q) = −σ(−q)/ℓ(q) = −(u/(1 + u))/(u − u²/2 + …) = −1 + u/2 − 5u²/12 + … .
 * The source agrees with them to ≤ 0.5 ulp (checked against 60-digit mpmath); the tolerances are
 * 2 ulps of the value and 2ε on the derivative (≈ −1). Just past q = 30, u/2 ≈ 4.7e-14 is 13 ulps
 * of the value and ≈ 200ε of the derivative, so any wrong sign or factor in the tail formulas shows.
 */
import { describe, test, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { LOSS_KINDS, fittedThreshold, objectiveOfOutputs } from '../src/loss.js';
import { objective } from './tf-objective.js';
import { ABOVE_30, BELOW_30, LOGISTIC_SUM, logLogisticTail, logLogisticTailSlope, ulp } from './reference64.js';


describe('objectiveOfOutputs, logistic loss around the tail switch q = 30', () => {
  test('one point, q on both sides of 30 and on it: log ℓ(q) and (log ℓ)\'(q) match the u-series', () => {
    // one point: log L = log ℓ(q) and the softmax weight is 1, so grad = (log ℓ)'(q)·y with y = 1
    for (const q of [29.9, BELOW_30, 30, ABOVE_30, 30.25, 31]) {
      const { value, isLog, grad } = objectiveOfOutputs([q], [1], LOGISTIC_SUM);
      expect(isLog).toBe(true);
      expect(Math.abs(value - logLogisticTail(q))).toBeLessThanOrEqual(2 * ulp(q));
      expect(Math.abs(grad[0] - logLogisticTailSlope(q))).toBeLessThanOrEqual(2 * Number.EPSILON);
    }
  });

  test('margins where e^{−q} underflows: log ℓ = −q and (log ℓ)\' = −1 exactly, not −∞ and NaN', () => {
    // u = e^{−800} = 0 in float64: −q − u/2 = −q and −1 + u/2 = −1 exactly
    for (const q of [800, 1e4]) {
      const { value, grad } = objectiveOfOutputs([q], [1], LOGISTIC_SUM);
      expect(value).toBe(-q);
      expect(grad[0]).toBe(-1);
    }
  });

  test('two tail points: log(ℓ(q1) + ℓ(q2)) and softmax-weighted slopes', () => {
    // q = 31, 30.25 (f = ∓ these with y = ∓1): ℓ = u − u²/2, weights p_n = ℓ_n / L, grad_n = y_n p_n (log ℓ)'(q_n)
    const q = [31, 30.25];
    const ell = q.map((v) => Math.exp(-v) - Math.exp(-2 * v) / 2);
    const L = ell[0] + ell[1];
    const { value, grad } = objectiveOfOutputs([-31, 30.25], [-1, 1], LOGISTIC_SUM);
    expect(Math.abs(value - Math.log(L))).toBeLessThanOrEqual(2 * ulp(Math.log(L)));
    expect(Math.abs(grad[0] - -(ell[0] / L) * logLogisticTailSlope(31))).toBeLessThanOrEqual(4 * Number.EPSILON);
    expect(Math.abs(grad[1] - (ell[1] / L) * logLogisticTailSlope(30.25))).toBeLessThanOrEqual(4 * Number.EPSILON);
  });
});

describe('objectiveOfOutputs: the label factor, logScale and the mean reduction', () => {
  test('∂/∂f of a loss of q = y·f is y·d/dq (labels ±1 cannot tell y from 1/y, so y = 2 and 0.5)', () => {
    // f = 0: q = 0 whatever y. Logistic: (log ℓ)'(0) = −σ(0)/ℓ(0) = −(1/2)/log 2
    for (const y of [2, 0.5]) {
      const lg = objectiveOfOutputs([0], [y], LOGISTIC_SUM);
      expect(Math.abs(lg.value - Math.log(Math.LN2))).toBeLessThanOrEqual(2 * ulp(Math.log(Math.LN2)));
      expect(Math.abs(lg.grad[0] - (y * -0.5) / Math.LN2)).toBeLessThanOrEqual(2 * ulp(y / Math.LN2));
      // exp: log ℓ = −q, slope −1
      const ex = objectiveOfOutputs([0], [y], { loss: 'exp', reduction: 'sum' });
      expect(ex.value).toBe(0);
      expect(ex.grad[0]).toBe(-y);
      // squared: L = (1 − q)² = 1, ∂L/∂f = −2(1 − q)·y
      const sq = objectiveOfOutputs([0], [y], { loss: 'squared', reduction: 'sum' });
      expect(sq.value).toBe(1);
      expect(sq.grad[0]).toBe(-2 * y);
    }
  });

  test('logScale multiplies L by e^{logScale}: log L + logScale, and L·e^{logScale} for squared', () => {
    const ln3 = Math.log(3);
    // exp, one point at q = 0: L = 1, so log(3L) = log 3; the slope of log L does not change
    const ex = objectiveOfOutputs([0], [1], { loss: 'exp', reduction: 'sum' }, ln3);
    expect(ex.value).toBe(ln3);
    expect(ex.grad[0]).toBe(-1);
    // logistic at q = 0: log(3 log 2)
    const lg = objectiveOfOutputs([0], [1], LOGISTIC_SUM, ln3);
    expect(Math.abs(lg.value - Math.log(3 * Math.LN2))).toBeLessThanOrEqual(2 * ulp(Math.log(3 * Math.LN2)));
    // squared at q = 0: L = 1 → 3, ∂L/∂f = −2 → −6
    const sq = objectiveOfOutputs([0], [1], { loss: 'squared', reduction: 'sum' }, ln3);
    expect(Math.abs(sq.value - 3)).toBeLessThanOrEqual(2 * ulp(3));
    expect(Math.abs(sq.grad[0] + 6)).toBeLessThanOrEqual(2 * ulp(6));
  });

  test('mean reduction: L/N, i.e. log L − log N, with and without logScale', () => {
    // exp, four points at q = 0: L_sum = 4, L_mean = 1 → log 0; with logScale = log 4 → log 4
    const f = [0, 0, 0, 0];
    const y = [1, -1, 1, -1];
    const plain = objectiveOfOutputs(f, y, { loss: 'exp', reduction: 'mean' });
    expect(Math.abs(plain.value)).toBeLessThanOrEqual(2 * ulp(Math.log(4)));
    expect(Array.from(plain.grad)).toEqual([-0.25, 0.25, -0.25, 0.25]); // −y_n softmax = −y_n/4
    const scaled = objectiveOfOutputs(f, y, { loss: 'exp', reduction: 'mean' }, Math.log(4));
    expect(Math.abs(scaled.value - Math.log(4))).toBeLessThanOrEqual(2 * ulp(Math.log(4)));
    // logistic, two points at q = 0: L_mean = log 2
    const lg = objectiveOfOutputs([0, 0], [1, 1], { loss: 'logistic', reduction: 'mean' });
    expect(Math.abs(lg.value - Math.log(Math.LN2))).toBeLessThanOrEqual(2 * ulp(Math.log(Math.LN2)));
    // squared, q = 0 and 3: L_sum = 1 + 4 = 5, L_mean = 2.5; ∂L_mean/∂f = −2(1 − q)·y/2
    const sq = objectiveOfOutputs([0, 3], [1, 1], { loss: 'squared', reduction: 'mean' });
    expect(Math.abs(sq.value - 2.5)).toBeLessThanOrEqual(2 * ulp(2.5));
    expect(Math.abs(sq.grad[0] + 1)).toBeLessThanOrEqual(2 * ulp(1));
    expect(Math.abs(sq.grad[1] - 2)).toBeLessThanOrEqual(2 * ulp(2));
  });
});

describe('tfjs objective: the kind of value', () => {
  test('exp and logistic return log L (isLog), sum and mean; squared returns L', () => {
    for (const loss of ['exp', 'logistic', 'squared'] as const) {
      for (const reduction of ['sum', 'mean'] as const) {
        const { isLog } = tf.tidy(() => {
          const o = objective(tf.tensor1d([0.5, 2]), { loss, reduction });
          return { isLog: o.isLog, value: o.value.dataSync()[0] };
        });
        expect(isLog).toBe(loss !== 'squared');
      }
    }
  });
});

describe('loss kinds and the fitted threshold', () => {
  test('LOSS_KINDS lists the three objectives implemented above, each once', () => {
    expect([...LOSS_KINDS].sort()).toEqual(['exp', 'logistic', 'squared']);
  });

  test('fittedThreshold is ℓ(0): e^0 = 1, log(1 + e^0) = log 2, (1 − 0)² = 1', () => {
    expect(fittedThreshold('exp')).toBe(1);
    expect(fittedThreshold('logistic')).toBe(Math.LN2);
    expect(fittedThreshold('squared')).toBe(1);
  });
});
