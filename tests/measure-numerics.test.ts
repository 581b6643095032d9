/**
 * Float64 numerics of src/measure.ts where the branches switch: log ℓ(q) of the logistic loss
 * (src/loss.ts logLogistic: ℓ's two forms on either side of q = 0, the series past q = 30), the smoothed margin ℓ^{-1}(L) (log L < −30, L > 30, between),
 * non-finite margins, the squared control, the minimum margin and the end-to-end product.
 *
 * References are closed forms or asymptotic series whose dropped terms are below 1e-25, evaluated
 * in a different way from the source, so they agree with it to the rounding of the result: at most
 * 1 ulp at every point below (checked against 60-digit mpmath), and the tolerances are 2 ulps
 * (4 for the smoothed margin past L = 30, which inherits the rounding of log L through e^{log L}).
 * A wrong sign or factor in a tail correction of size u = e^{−|q|} ≈ 5e-14 is off by ≥ 11 ulps at
 * these points, so the test points sit just past each switch, where the corrections are largest.
 */
import { describe, test, expect } from 'vitest';
import type { Dataset } from '../src/data.js';
import { angle, endToEnd, inverseLossOfSum, logLoss, logSumExp, measure, outputs, rotated } from '../src/measure.js';
import type { Weights } from '../src/model.js';
import { ABOVE_30, BELOW_30, LOGISTIC_SUM, logLogisticTail, ulp } from './reference64.js';

const logLogistic = (q: number) => logLoss([q], LOGISTIC_SUM);

/**
 * log ℓ(q) for q ≪ 0: ℓ = −q + log1p(e^q) = −q(1 + t) with t = e^q/(−q)·(1 − e^q/2 + …) ≤ 3.5e-15,
 * so log ℓ = log(−q) + t − t²/2 + … = log(−q) + e^q/(−q) up to < 1e-27.
 */
const negativeTail = (q: number) => Math.log(-q) + Math.exp(q) / -q;

describe('log ℓ(q) of the logistic loss on each side of q = ±30', () => {
  test('q < −30 (ℓ = −q + log1p(e^q)): log(−q) + e^q/(−q) to 2 ulps', () => {
    // the correction e^q/(−q) is ≈ 3e-15 = 7 ulps here: dropping or negating it is off by ≥ 11 ulps
    for (const q of [-ABOVE_30, -30.25, -30.5]) {
      const ref = negativeTail(q);
      expect(Math.abs(logLogistic(q) - ref)).toBeLessThanOrEqual(2 * ulp(ref));
    }
  });

  test('−30 ≤ q < 30 (log ℓ, ℓ = −q + log1p(e^q) below 0, log1p(e^{−q}) above): closed form at 0, series near ±30 and at 20', () => {
    expect(Math.abs(logLogistic(0) - Math.log(Math.LN2))).toBeLessThanOrEqual(2 * ulp(Math.log(Math.LN2))); // ℓ(0) = log 2
    for (const q of [-30, -29.9, -BELOW_30]) {
      const ref = negativeTail(q);
      expect(Math.abs(logLogistic(q) - ref)).toBeLessThanOrEqual(2 * ulp(ref));
    }
    // at q = 20, −q + log1p(e^q) would cancel 20 digits against 20 and be off by ~1e-6 (the q < −30
    // formula used on the wrong side)
    for (const q of [20, 29.9, BELOW_30]) {
      const ref = logLogisticTail(q);
      expect(Math.abs(logLogistic(q) - ref)).toBeLessThanOrEqual(2 * ulp(ref));
    }
  });

  test('q ≥ 30 (the −q + log1p(−u/2) branch): −q − u/2 to 2 ulps; −q exactly once e^{−q} underflows', () => {
    // u/2 ≈ 4.7e-14 ≈ 13 ulps at q = 30: a sign or factor error in log1p(−u/2) is ≥ 15 ulps off
    for (const q of [30, ABOVE_30, 30.25, 31]) {
      const ref = logLogisticTail(q);
      expect(Math.abs(logLogistic(q) - ref)).toBeLessThanOrEqual(2 * ulp(ref));
    }
    // e^{−800} underflows to 0, and log ℓ(800) = −800 − e^{−800}/2 is −800 in float64
    expect(logLogistic(800)).toBe(-800);
    expect(logLogistic(1e4)).toBe(-1e4);
  });
});

describe('logLoss for the squared control and for infinite margins', () => {
  test('squared: log Σ(1 − q)², minus log N for the mean', () => {
    // (1 − 0)² + (1 − 2)² + (1 − 3)² = 1 + 1 + 4 = 6
    expect(Math.abs(logLoss([0, 2, 3], { loss: 'squared', reduction: 'sum' }) - Math.log(6))).toBeLessThanOrEqual(2 * ulp(Math.log(6)));
    // 6 / 3 = 2
    expect(Math.abs(logLoss([0, 2, 3], { loss: 'squared', reduction: 'mean' }) - Math.LN2)).toBeLessThanOrEqual(2 * ulp(Math.LN2));
    // every point fitted exactly: L = 0, log L = −∞
    expect(logLoss([1, 1], { loss: 'squared', reduction: 'sum' })).toBe(-Infinity);
  });

  test('logSumExp of all −∞ is −∞ and of a +∞ is +∞ (log Σ e^{a} with e^{−∞} = 0, e^{+∞} = ∞), not NaN', () => {
    expect(logSumExp([-Infinity, -Infinity])).toBe(-Infinity);
    expect(logSumExp([Infinity, 0])).toBe(Infinity);
    // infinite margins: the exp loss is e^{−∞} = 0 (log L = −∞) and the smoothed margin is +∞
    expect(logLoss([Infinity, Infinity], { loss: 'exp', reduction: 'sum' })).toBe(-Infinity);
    expect(inverseLossOfSum([Infinity, Infinity], 'exp')).toBe(Infinity);
  });
});

describe('smoothed margin ℓ^{-1}(Σ ℓ(q_n))', () => {
  test('one point: ℓ^{-1}(ℓ(q)) = q for the logistic loss in all three branches', () => {
    // L = ℓ(q): q ≤ −30.25 gives L > 30, 0 ≤ q ≤ 29 the expm1 form, q ≥ 30.25 gives log L < −30.
    // Tolerance 4 ulps: past L = 30 the result inherits e^{log L}'s rounding, ≈ 3e-16·L (measured
    // ≤ 2 ulps); the tail terms −log1p(−e^{−L}) and −L/2 are ≥ 16 ulps here, so a wrong sign shows.
    for (const q of [-31, -30.5, -30.25, 0, 5, 23, 29, 30.25, 30.5, 40]) {
      expect(Math.abs(inverseLossOfSum([q], 'logistic') - q)).toBeLessThanOrEqual(4 * ulp(Math.max(Math.abs(q), 1)));
    }
    // log L = −800 − e^{−800}/2: L = e^{log L} underflows to 0, and −log(expm1(0)) would be +∞
    expect(inverseLossOfSum([800], 'logistic')).toBe(800);
    // L = ℓ(−1000) = 1000 (+ e^{−1000} = 0): e^L overflows, and −log(expm1(L)) would be −∞;
    // −L − log1p(−e^{−L}) = −L, with L = e^{log L} rounded as above
    expect(Math.abs(inverseLossOfSum([-1000], 'logistic') + 1000)).toBeLessThanOrEqual(4 * ulp(1000));
  });

  test('one point: exp and the squared control give q exactly (−log e^{−q})', () => {
    for (const q of [-3, 0.7, 30.25, 1e4]) {
      expect(inverseLossOfSum([q], 'exp')).toBe(q);
      expect(inverseLossOfSum([q], 'squared')).toBe(q);
    }
  });

  test('two points at 0: logistic −log(e^{2 log 2} − 1) = −log 3; exp and squared −log 2', () => {
    const logistic = inverseLossOfSum([0, 0], 'logistic');
    expect(Math.abs(logistic + Math.log(3))).toBeLessThanOrEqual(2 * ulp(Math.log(3)));
    for (const loss of ['exp', 'squared'] as const) {
      // −log(e^0 + e^0)
      expect(Math.abs(inverseLossOfSum([0, 0], loss) + Math.LN2)).toBeLessThanOrEqual(2 * ulp(Math.LN2));
    }
  });

  test('many points deep in the tail: −log Σ ℓ(q_n) − L/2 with L ≈ Σ e^{−q_n}', () => {
    // q = 31, 32, 33: ℓ(q) = u − u²/2 with u = e^{−q} ≤ 3.4e-14, L = Σ ℓ = 5.1e-14 and
    // ℓ^{-1}(L) = −log(e^L − 1) = −log L − L/2 + O(L²)
    const q = [31, 32, 33];
    const L = q.reduce((s, v) => s + Math.exp(-v) - Math.exp(-2 * v) / 2, 0);
    const ref = -Math.log(L) - L / 2;
    expect(Math.abs(inverseLossOfSum(q, 'logistic') - ref)).toBeLessThanOrEqual(2 * ulp(ref));
  });
});

describe('measure and endToEnd on hand-computed networks', () => {
  test('measure: a linear model w = 2 on margins 2, 6, 4 (exp loss, sum)', () => {
    const data: Dataset = { X: [[1], [3], [-2]], y: [1, 1, -1] };
    const m = measure([[[2]]], data, 'linear', { loss: 'exp', reduction: 'sum' });
    const logL = Math.log(Math.exp(-2) + Math.exp(-6) + Math.exp(-4));
    expect(m.minMargin).toBe(2); // min(2·1, 2·3, −1·2·(−2))
    expect(m.norm).toBe(2);
    expect(m.rho).toBe(2);
    expect(m.layerNorms).toEqual([2]);
    expect(m.normalizedMargin).toBe(1); // 2 / ‖w‖^1
    expect(Math.abs(m.logLoss - logL)).toBeLessThanOrEqual(2 * ulp(logL));
    expect(Math.abs(m.smoothedMargin - -logL / 2)).toBeLessThanOrEqual(2 * ulp(logL)); // −log L / ‖w‖
  });

  test('measure: the zero network reports margins 0 (no direction), not 0/0', () => {
    // all margins are 0 and ‖θ‖ = 0: normalized and smoothed margins are defined as 0
    const zero: Weights = [[[0, 0], [0, 0]], [[0, 0]]];
    const data: Dataset = { X: [[1, 2], [-1, 3]], y: [1, -1] };
    for (const loss of ['exp', 'logistic', 'squared'] as const) {
      const m = measure(zero, data, 'deep-linear', { loss, reduction: 'sum' });
      expect(m.norm).toBe(0);
      expect(Math.abs(m.minMargin)).toBe(0); // −1·0 = −0 for the second point
      expect(Math.abs(m.normalizedMargin)).toBe(0);
      expect(Math.abs(m.smoothedMargin)).toBe(0);
    }
  });

  test('endToEnd of a 2-layer net: W2·W1 by hand', () => {
    // [3, 1]·[[1, 2, 3], [4, 5, 6]] = [3 + 4, 6 + 5, 9 + 6]
    expect(endToEnd([[[1, 2, 3], [4, 5, 6]], [[3, 1]]])).toEqual([7, 11, 15]);
    expect(endToEnd([[[2, -1]]])).toEqual([2, -1]); // K = 1: the weight vector itself
  });

  test('endToEnd: W3·W2·W1 of a 3-layer deep linear net by hand, and f(x) = ⟨v, x⟩', () => {
    const W: Weights = [
      [[1, 2, 3], [4, 5, 6]], // W1: 2×3
      [[2, 1], [1, 3]], // W2: 2×2
      [[3, 1]], // W3: 1×2
    ];
    // W3·W2 = [3·2 + 1·1, 3·1 + 1·3] = [7, 6]; [7, 6]·W1 = [7 + 24, 14 + 30, 21 + 36]
    expect(endToEnd(W)).toEqual([31, 44, 57]);
    const x = [0.5, -2, 3];
    expect(outputs(W, [x], 'deep-linear')[0]).toBe(31 * 0.5 - 44 * 2 + 57 * 3); // 98.5, all exact in float64
  });
});

describe('rotated: a direction turned by a given angle, for the wrong-theory controls', () => {
  test('keeps the norm and turns by exactly eps, towards the first axis or, for a direction along it, the second', () => {
    for (const [dir, axis] of [[[0, 3, 4], 0], [[-2, 0.1, 0], 1]] as const) {
      for (const eps of [0.05, -0.05, 0.3]) {
        const r = rotated([...dir], eps);
        expect(Math.hypot(...r)).toBeCloseTo(Math.hypot(...dir), 12);
        expect(angle(r, [...dir])).toBeCloseTo(Math.abs(eps), 12);
        // the turn stays in the plane of the direction and the axis
        const other = [0, 1, 2].find((i) => i !== axis && dir[i] === 0);
        if (other !== undefined) expect(r[other]).toBe(0);
      }
    }
  });

  test('towards a given vector: turns by exactly eps within the plane of the direction and that vector; a parallel vector is refused', () => {
    const dir = [1, 0, 0, 0];
    const toward = [2, 1, 1, 0]; // its part off dir is [0, 1, 1, 0]
    for (const eps of [0.05, -0.05]) {
      const r = rotated(dir, eps, toward);
      expect(angle(r, dir)).toBeCloseTo(0.05, 12);
      expect(r[3]).toBe(0); // nothing outside the plane
      expect(r[1]).toBeCloseTo(r[2], 15);
      expect(Math.sign(r[1])).toBe(Math.sign(eps)); // towards the vector for eps > 0
    }
    expect(() => rotated(dir, 0.05, [3, 0, 0, 0])).toThrow(/parallel/);
  });
});
