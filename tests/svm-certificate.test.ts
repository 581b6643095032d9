// Exact unit tests for src/svm.ts: the KKT certificate on hand-built (w, alpha) pairs, the error
// classes and messages, and small data sets whose SVM is known in closed form. Every number below
// is a dyadic rational (or a short ratio of them), so the float64 arithmetic is exact.
import { describe, test, expect } from 'vitest';
import {
  certify,
  certificateWorst,
  maxMarginSvm,
  withMarginGap,
  NotSeparableError,
  type SvmCertificate,
} from '../src/svm.js';
import { InputError } from '../src/errors.js';
import { thrown } from './harness.js';


describe('certify on hand-built (w, alpha)', () => {
  // z_1 = (1, 0), z_2 = (0, 2), z_3 = (1, 1).
  const Z = [[1, 0], [0, 2], [1, 1]];

  test('the exact optimum of {(1,0), (0,2)} has every residual exactly 0', () => {
    // w = (1, 1/2) puts both on the margin (1·1 = 1, 2·½ = 1), w = 1·z_1 + ¼·z_2, and
    // primal = dual = ½‖w‖² = 5/8.
    const c = certify([[1, 0], [0, 2]], [1, 0.5], [1, 0.25]);
    expect(c).toEqual({
      primalInfeasibility: 0,
      stationarity: 0,
      complementarySlackness: 0,
      dualityGap: 0,
      dualInfeasibility: 0,
    });
    expect(certificateWorst(c)).toBe(0);
  });

  test('a wrong pair with ‖w‖∞ = 4 > 1 and primal = 8 > 1: each field its own value', () => {
    // w = (4, 0): margins z·w = (4, 0, 4).  alpha = (½, 2, -¼).
    const c = certify(Z, [4, 0], [0.5, 2, -0.25]);
    // max(0, 1-4, 1-0, 1-4) = 1, from the middle point.
    expect(c.primalInfeasibility).toBe(1);
    // u = ½(1,0) + 2(0,2) - ¼(1,1) = (¼, 15/4); ‖w - u‖∞ = 15/4, divided by max(1, ‖w‖∞) = 4.
    expect(c.stationarity).toBe(15 / 16);
    // alpha_n |z_n·w - 1| = (3/2, 2, -3/4): the largest is the middle point's 2.
    expect(c.complementarySlackness).toBe(2);
    // primal ½‖w‖² = 8; dual Σα - ½‖u‖² = 9/4 - 113/16 = -77/16; |8 + 77/16| / max(1, 8).
    expect(c.dualityGap).toBe(205 / 128);
    // max(0, -alpha_n) = ¼ from the negative multiplier.
    expect(c.dualInfeasibility).toBe(0.25);
    // The worst of (1, 15/16, 2, 205/128, 1/4) is the complementary slackness.
    expect(certificateWorst(c)).toBe(2);
  });

  test('a wrong pair with ‖w‖∞ < 1 and primal < 1: the denominators are floored at 1', () => {
    // w = (½, ¼): margins (½, ½, ¾).  alpha = (¼, 0, 0).
    const c = certify(Z, [0.5, 0.25], [0.25, 0, 0]);
    expect(c.primalInfeasibility).toBe(0.5); // 1 - ½ (points 1 and 2)
    // u = (¼, 0); ‖w - u‖∞ = ¼, and max(1, ½) = 1 (dividing by ‖w‖∞ = ½ would give ½).
    expect(c.stationarity).toBe(0.25);
    expect(c.complementarySlackness).toBe(0.125); // ¼ · |½ - 1|
    // primal = (¼ + 1/16)/2 = 5/32, dual = ¼ - 1/32 = 7/32: gap 1/16 over max(1, 5/32) = 1.
    expect(c.dualityGap).toBe(0.0625);
    expect(c.dualInfeasibility).toBe(0); // no negative multiplier
    expect(certificateWorst(c)).toBe(0.5);
  });

  test('certificateWorst is the largest of the five fields, whichever field it is', () => {
    const fields: (keyof SvmCertificate)[] = [
      'primalInfeasibility',
      'stationarity',
      'complementarySlackness',
      'dualityGap',
      'dualInfeasibility',
    ];
    for (const big of fields) {
      const c = Object.fromEntries(fields.map((f, i) => [f, f === big ? 7 : 1 + i / 8])) as unknown as SvmCertificate;
      expect(certificateWorst(c)).toBe(7);
    }
  });
});

describe('maxMarginSvm errors', () => {
  test('NotSeparableError is named, is an InputError, and wraps its detail', () => {
    const e = new NotSeparableError('because');
    expect(e.name).toBe('NotSeparableError');
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toBe('data are not linearly separable through the origin (because)');
  });

  test('a zero vector is named by its index before quadprog runs', () => {
    // 0·w >= 1 has no solution, whatever the other points are.
    const e = thrown(() => maxMarginSvm([[1, 1], [0, 0]], [1, -1]));
    expect(e).toBeInstanceOf(NotSeparableError);
    expect(e.name).toBe('NotSeparableError');
    expect(e.message).toBe('data are not linearly separable through the origin (point 1 is the zero vector)');
  });

  test('XOR: quadprog finds the constraints inconsistent, and its message is passed on', () => {
    // z = (1,1), (-1,-1), ...: z_1 + z_2 = 0, so z_1·w and z_2·w cannot both be >= 1.
    // "constraints are inconsistent, no solution!" is quadprog's own text (lib/quadprog.js).
    const e = thrown(() => maxMarginSvm([[1, 1], [-1, -1], [1, -1], [-1, 1]], [1, 1, -1, -1]));
    expect(e).toBeInstanceOf(NotSeparableError);
    expect(e.message).toBe(
      'data are not linearly separable through the origin (quadprog: constraints are inconsistent, no solution!)',
    );
  });

  test('malformed input is reported with the context "svm input"', () => {
    // parseDataset prefixes its message with the source it is given.
    expect(thrown(() => maxMarginSvm([], [])).message).toBe('svm input: "X" is empty');
  });

  test('subnormal data whose SVM w = 2^1040 overflows float64 are rejected, not returned as Infinity', () => {
    // For the one point x = (2^-1040, 0) the SVM is w = (2^1040, 0), beyond float64: w comes back
    // as (Infinity, 0), which is finite in one coordinate and satisfies the constraint
    // (x·w = Infinity), so only the finiteness check can catch it.
    const e = thrown(() => maxMarginSvm([[2 ** -1040, 0]], [1]));
    expect(e).toBeInstanceOf(NotSeparableError);
    expect(e.message).toMatch(/^data are not linearly separable through the origin \(the solver's w is not finite: a margin below float64 resolution\)$/);
  });
});

describe('maxMarginSvm on data with a closed-form SVM', () => {
  test('points (1,23) and (12,3) are two constraints, not one (grouping key keeps digits apart)', () => {
    // Both on the margin: [1 23; 12 3] w = (1, 1) gives w = (20, 11)/273, and
    // w = a·z_1 + b·z_2 with a = 72/273², b = 449/273², both > 0.
    const r = maxMarginSvm([[1, 23], [12, 3]], [1, 1]);
    expect(Math.abs(r.w[0] - 20 / 273)).toBeLessThanOrEqual(1e-16);
    expect(Math.abs(r.w[1] - 11 / 273)).toBeLessThanOrEqual(1e-16);
    expect(Math.abs(r.alpha[0] - 72 / 273 ** 2)).toBeLessThanOrEqual(1e-17);
    expect(Math.abs(r.alpha[1] - 449 / 273 ** 2)).toBeLessThanOrEqual(1e-17);
    expect(r.support).toEqual([0, 1]);
  });

  test('a point on the margin whose multiplier is 0 is not a support vector', () => {
    // z = (0, ½, 1), (-1, 0, 1), (1, 0, 1): w = (0, 0, 1) puts all three on the margin, and
    // w = Σ alpha_n z_n forces alpha_1 = 0 (second coordinate: ½·alpha_1 = 0), alpha_2 = alpha_3 = ½.
    const r = maxMarginSvm([[0, 0.5, 1], [-1, 0, 1], [1, 0, 1]], [1, 1, 1]);
    expect(r.w).toEqual([0, 0, 1]);
    // quadprog activates the first constraint and leaves it a rounding-level multiplier, the case
    // the relative threshold exists for (a threshold of 0 would count point 0 as support).
    expect(r.alpha[0]).toBeGreaterThan(0);
    expect(r.alpha[0]).toBeLessThan(1e-12);
    expect(r.support).toEqual([1, 2]);
  });

  test('the same with the last coordinate 2^-14: multipliers 2^27, the rounding-level one still out', () => {
    // z = (0, ¼, ε), (-1, 0, ε), (1, 0, ε), ε = 2^-14: w = (0, 0, 1/ε), alpha_2 = alpha_3 = 1/(2ε²)
    // = 2^27, alpha_1 = 0 as before. The threshold is relative (1e-9·2^27), so a rounding-level
    // alpha_1 of ~1e-15 stays out even though it is far above 1e-9/2^27.
    const e = 2 ** -14;
    const r = maxMarginSvm([[0, 0.25, e], [-1, 0, e], [1, 0, e]], [1, 1, 1]);
    expect(Math.abs(r.w[2] - 2 ** 14)).toBeLessThanOrEqual(2 ** 14 * 1e-15);
    expect(Math.abs(r.alpha[1] - 2 ** 27)).toBeLessThanOrEqual(2 ** 27 * 1e-15);
    expect(Math.abs(r.alpha[2] - 2 ** 27)).toBeLessThanOrEqual(2 ** 27 * 1e-15);
    expect(r.alpha[0]).toBeGreaterThan(1e-9 / 2 ** 27); // the rounding-level multiplier
    expect(r.alpha[0]).toBeLessThan(1e-12);
    expect(r.support).toEqual([1, 2]);
  });

  test('scaling by 2^512 (s² overflows) scales w by 2^-512 and alpha by 2^-1024 exactly', () => {
    // z = (1, ε), (-1, ε) with ε = 2^-20: w = (0, 1/ε) = (0, 2^20) and alpha_1 = alpha_2 =
    // 1/(2ε²) = 2^39. Powers of two rescale float64 exactly, and the solver sees the same z/s.
    const e = 2 ** -20;
    const X = [[1, e], [-1, e]];
    const r = maxMarginSvm(X, [1, 1]);
    expect(r.w).toEqual([0, 2 ** 20]);
    expect(r.alpha).toEqual([2 ** 39, 2 ** 39]);
    const c = 2 ** 512;
    const big = maxMarginSvm(X.map((x) => x.map((v) => v * c)), [1, 1]);
    expect(big.w).toEqual([0, 2 ** -492]);
    expect(big.alpha).toEqual([2 ** -985, 2 ** -985]);
    expect(big.support).toEqual([0, 1]);
  });

  test('scaling by 2^600 underflows alpha to 0 but keeps the support set', () => {
    // The true alpha, 2^39·2^-1200, is below the smallest float64; the support set is decided on
    // the scale-free multipliers, so it is the same as for the unscaled data.
    const e = 2 ** -20;
    const c = 2 ** 600;
    const big = maxMarginSvm([[c, e * c], [-c, e * c], [3 * c, c]], [1, 1, 1]);
    expect(big.w).toEqual([0, 2 ** -580]);
    expect(big.alpha).toEqual([0, 0, 0]);
    expect(big.support).toEqual([0, 1]);
  });
});

describe('withMarginGap', () => {
  // SVM w = (1, 1) from the two support points (1,0), (0,1) (alpha = 1 each); the margins
  // y·x·w of the six points are 1, 1, 2, 3/2, 2, 4.
  const X = [[1, 0], [0, 1], [2, 0], [1, 0.5], [-1, -1], [-3, -1]];
  const y = [1, 1, 1, 1, -1, -1];

  test('gap 1 drops only the point with margin 3/2; margin exactly 1 + gap = 2 is kept', () => {
    const r = withMarginGap(X, y, 1);
    expect(r.X).toEqual([[1, 0], [0, 1], [2, 0], [-1, -1], [-3, -1]]);
    expect(r.y).toEqual([1, 1, 1, -1, -1]);
    // Removing an inactive constraint leaves the SVM unchanged.
    expect(r.svm.w).toEqual([1, 1]);
    expect(r.svm.support).toEqual([0, 1]);
  });

  test('gap 1/4 keeps everything (every non-support margin is >= 5/4); gap 4 keeps margin 4', () => {
    expect(withMarginGap(X, y, 0.25).X).toEqual(X);
    // 1 + 4 = 5 > 4: only the support points survive.
    expect(withMarginGap(X, y, 4).X).toEqual([[1, 0], [0, 1]]);
    // 1 + 3 = 4: the margin-4 point is exactly on the boundary and kept.
    expect(withMarginGap(X, y, 3).X).toEqual([[1, 0], [0, 1], [-3, -1]]);
  });
});
