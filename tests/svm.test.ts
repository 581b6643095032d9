import { readFileSync } from 'node:fs';
import { describe, test, expect } from 'vitest';
import fc from 'fast-check';
import { maxMarginSvm, certificateWorst, NotSeparableError, type SvmResult } from '../src/svm.js';
import { InputError } from '../src/errors.js';
import seedrandom from 'seedrandom';
import { fixturePath } from './harness.js';

// Explicit settings so the results do not depend on a global fast-check configuration.
const FC = { seed: 20240611, numRuns: 50 };

interface Fixture {
  X: number[][];
  y: number[];
  svm: { w: number[]; gamma: number; support: number[] };
}
const fixture: Fixture = JSON.parse(
  readFileSync(fixturePath('soudry2d.json'), 'utf8'),
);

/** A seeded uniform [0, 1) generator (seedrandom, as in src/rng.ts), so every case replays. */
const rng = (seed: number): (() => number) => seedrandom(`test:${seed}`);

function gaussian(next: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}

const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
const norm = (a: number[]) => Math.sqrt(dot(a, a));
const maxAbsDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

/**
 * N Gaussian points in R^d labelled by a random teacher direction, keeping only points whose
 * distance to the teacher's hyperplane is at least `gap`: separable with margin >= gap.
 */
function separable(d: number, N: number, seed: number, gap = 0.05): { X: number[][]; y: number[] } {
  const next = rng(seed);
  const u = Array.from({ length: d }, () => gaussian(next));
  const un = norm(u);
  const X: number[][] = [];
  const y: number[] = [];
  while (X.length < N) {
    const x = Array.from({ length: d }, () => gaussian(next));
    const m = dot(x, u) / un;
    if (Math.abs(m) < gap) continue;
    X.push(x);
    y.push(m > 0 ? 1 : -1);
  }
  return { X, y };
}

const dataArb = fc
  .record({ d: fc.integer({ min: 2, max: 8 }), N: fc.integer({ min: 2, max: 40 }), seed: fc.integer() })
  .map(({ d, N, seed }) => ({ d, N, seed, ...separable(d, N, seed) }));

/**
 * Independent check: coordinate ascent on the dual  max Σα - ½‖Σ α_n z_n‖², α >= 0  (z_n = y_n x_n).
 * Without a bias there is no equality constraint, so each coordinate is maximised exactly and
 * clipped at 0. Runs until the projected gradient is near its rounding floor, which for
 * 1 - z_n·u is about eps·‖z_n‖‖u‖ (an absolute 1e-14 is out of reach when ‖w‖ is large).
 */
function dualCoordinateAscent(X: number[][], y: number[]): { w: number[]; alpha: number[] } {
  const Z = X.map((x, n) => x.map((v) => v * y[n]));
  const sq = Z.map((z) => dot(z, z));
  const zmax = Math.max(...Z.map(norm));
  const alpha = new Array<number>(Z.length).fill(0);
  let u = new Array<number>(X[0].length).fill(0);
  for (let sweep = 0; sweep < 200_000; sweep++) {
    Z.forEach((z, n) => {
      const a = Math.max(0, alpha[n] + (1 - dot(z, u)) / sq[n]);
      const step = a - alpha[n];
      alpha[n] = a;
      for (let i = 0; i < u.length; i++) u[i] += step * z[i];
    });
    // Rebuild u from alpha so incremental updates do not drift, then test KKT.
    u = u.map((_, i) => Z.reduce((s, z, n) => s + alpha[n] * z[i], 0));
    const kkt = Math.max(
      ...Z.map((z, n) => {
        const g = 1 - dot(z, u); // gradient of the dual objective along alpha_n
        return alpha[n] > 0 ? Math.abs(g) : Math.max(0, g);
      }),
    );
    if (kkt < 1e-14 * (1 + zmax * norm(u))) return { w: u, alpha };
  }
  throw new Error('dual coordinate ascent did not converge');
}

describe('maxMarginSvm on the Soudry et al. fixture', () => {
  const r = maxMarginSvm(fixture.X, fixture.y);

  test('w = (0.5, 0.5), gamma = √2, support = first four points', () => {
    expect(maxAbsDiff(r.w, [0.5, 0.5])).toBeLessThanOrEqual(1e-12);
    expect(maxAbsDiff(r.w, fixture.svm.w)).toBeLessThanOrEqual(1e-12);
    expect(Math.abs(r.gamma - Math.SQRT2)).toBeLessThanOrEqual(1e-12);
    expect(Math.abs(r.gamma - fixture.svm.gamma)).toBeLessThanOrEqual(1e-12);
    expect(r.support).toEqual([0, 1, 2, 3]);
    expect(fixture.svm.support).toEqual([0, 1, 2, 3]);
    expect(certificateWorst(r.certificate)).toBeLessThanOrEqual(1e-12);
  });

  test('points 2, 3 give the same constraints as 0, 1, so alpha is shared equally', () => {
    expect(r.alpha).toHaveLength(fixture.X.length);
    for (const n of [0, 1, 2, 3]) expect(Math.abs(r.alpha[n] - 0.125)).toBeLessThanOrEqual(1e-12);
    for (let n = 4; n < r.alpha.length; n++) expect(r.alpha[n]).toBe(0);
  });

  test('reversing the point order changes nothing but the indexing', () => {
    const order = fixture.X.map((_, i) => fixture.X.length - 1 - i);
    const p = maxMarginSvm(order.map((i) => fixture.X[i]), order.map((i) => fixture.y[i]));
    expect(maxAbsDiff(p.w, r.w)).toBeLessThanOrEqual(1e-12);
    expect(maxAbsDiff(p.alpha, order.map((i) => r.alpha[i]))).toBeLessThanOrEqual(1e-12);
  });
});

describe('maxMarginSvm on random separable data', () => {
  test('certificate worst <= 1e-10, and gamma is the margin of w/‖w‖', () => {
    fc.assert(
      fc.property(dataArb, ({ X, y }) => {
        const r = maxMarginSvm(X, y);
        expect(certificateWorst(r.certificate)).toBeLessThanOrEqual(1e-10);
        expect(Math.abs(r.gamma * norm(r.w) - 1)).toBeLessThanOrEqual(1e-14);
        const margin = Math.min(...X.map((x, n) => (y[n] * dot(x, r.w)) / norm(r.w)));
        expect(Math.abs(margin - r.gamma)).toBeLessThanOrEqual(1e-10 * r.gamma);
        // Support points sit on the margin; the rest have alpha exactly 0 here.
        expect(r.support.length).toBeGreaterThan(0);
        for (const n of r.support) expect(Math.abs(y[n] * dot(X[n], r.w) - 1)).toBeLessThanOrEqual(1e-10);
        expect([...r.support].sort((a, b) => a - b)).toEqual(r.support);
      }),
      FC,
    );
  });

  test('agrees with dual coordinate ascent to 1e-8 relative', () => {
    fc.assert(
      fc.property(dataArb, ({ X, y }) => {
        const r = maxMarginSvm(X, y);
        const cd = dualCoordinateAscent(X, y);
        expect(maxAbsDiff(r.w, cd.w) / norm(r.w)).toBeLessThanOrEqual(1e-8);
      }),
      FC,
    );
  });

  test('fewer points than dimensions (solved in their span): certificate <= 1e-10 and agrees with dual coordinate ascent to 1e-8', () => {
    fc.assert(
      fc.property(fc.record({ d: fc.integer({ min: 20, max: 200 }), N: fc.integer({ min: 2, max: 19 }), seed: fc.integer() }), ({ d, N, seed }) => {
        const { X, y } = separable(d, N, seed);
        const r = maxMarginSvm(X, y);
        expect(certificateWorst(r.certificate)).toBeLessThanOrEqual(1e-10);
        expect(maxAbsDiff(r.w, dualCoordinateAscent(X, y).w) / norm(r.w)).toBeLessThanOrEqual(1e-8);
        // and the d-dimensional solve gives the same w, γ* and multipliers
        const full = maxMarginSvm(X, y, { inSpan: false });
        expect(maxAbsDiff(r.w, full.w) / norm(r.w)).toBeLessThanOrEqual(1e-12);
        expect(Math.abs(r.gamma - full.gamma) / full.gamma).toBeLessThanOrEqual(1e-12);
        expect(maxAbsDiff(r.alpha, full.alpha) / Math.max(...full.alpha)).toBeLessThanOrEqual(1e-10);
        expect(r.support).toEqual(full.support);
      }),
      FC,
    );
  });

  test('fewer points than dimensions with one point in the span of two others: it adds nothing to the basis, the certificate holds', () => {
    const { X, y } = separable(30, 6, 7);
    // the mean of two points of the same label: on their side of the SVM, so the set stays separable
    const same = y.findIndex((v, n) => n > 0 && v === y[0]);
    const X2 = [...X, X[0].map((v, i) => (v + X[same][i]) / 2)];
    const y2 = [...y, y[0]];
    const r = maxMarginSvm(X2, y2);
    expect(certificateWorst(r.certificate)).toBeLessThanOrEqual(1e-10);
    expect(maxAbsDiff(r.w, maxMarginSvm(X, y).w) / norm(r.w)).toBeLessThanOrEqual(1e-12);
  });

  test('permuting the points permutes alpha and keeps w', () => {
    fc.assert(
      fc.property(dataArb, fc.integer(), ({ X, y }, seed) => {
        const next = rng(seed);
        const order = X.map((_, i) => i);
        for (let i = order.length - 1; i > 0; i--) {
          const j = Math.floor(next() * (i + 1));
          [order[i], order[j]] = [order[j], order[i]];
        }
        const r = maxMarginSvm(X, y);
        const p = maxMarginSvm(order.map((i) => X[i]), order.map((i) => y[i]));
        const scale = Math.max(1, ...r.w.map(Math.abs));
        expect(maxAbsDiff(p.w, r.w) / scale).toBeLessThanOrEqual(1e-10);
        const amax = Math.max(...r.alpha);
        expect(maxAbsDiff(p.alpha, order.map((i) => r.alpha[i])) / amax).toBeLessThanOrEqual(1e-10);
        expect(p.support).toEqual(r.support.map((n) => order.indexOf(n)).sort((a, b) => a - b));
      }),
      FC,
    );
  });

  test('duplicating a support vector keeps w; its alpha is split between the copies', () => {
    fc.assert(
      fc.property(dataArb, fc.nat(), ({ X, y }, pick) => {
        const r = maxMarginSvm(X, y);
        const k = r.support[pick % r.support.length];
        const N = X.length;
        const dup = maxMarginSvm([...X, [...X[k]]], [...y, y[k]]);
        const scale = Math.max(1, ...r.w.map(Math.abs));
        expect(maxAbsDiff(dup.w, r.w) / scale).toBeLessThanOrEqual(1e-10);
        expect(Math.abs(dup.alpha[k] + dup.alpha[N] - r.alpha[k])).toBeLessThanOrEqual(1e-10 * r.alpha[k]);
        expect(dup.support).toContain(N);
        expect(certificateWorst(dup.certificate)).toBeLessThanOrEqual(1e-10);
      }),
      FC,
    );
  });

  test('scaling the data by c scales w by 1/c and alpha by 1/c²', () => {
    fc.assert(
      fc.property(dataArb, fc.constantFrom(1e-6, 1e-3, 3, 1e3, 1e6), ({ X, y }, c) => {
        const r = maxMarginSvm(X, y);
        const s: SvmResult = maxMarginSvm(X.map((x) => x.map((v) => v * c)), y);
        expect(maxAbsDiff(s.w.map((v) => v * c), r.w) / norm(r.w)).toBeLessThanOrEqual(1e-10);
        expect(Math.abs(s.gamma / c - r.gamma)).toBeLessThanOrEqual(1e-10 * r.gamma);
        expect(s.support).toEqual(r.support);
      }),
      FC,
    );
  });
});

describe('maxMarginSvm rejects non-separable data', () => {
  const message = /data are not linearly separable through the origin/;
  const expectNotSeparable = (X: number[][], y: number[]) => {
    expect(() => maxMarginSvm(X, y)).toThrow(NotSeparableError);
    expect(() => maxMarginSvm(X, y)).toThrow(message);
  };

  test('XOR in 2-d', () => {
    expectNotSeparable([[1, 1], [-1, -1], [1, -1], [-1, 1]], [1, 1, -1, -1]);
  });

  test('a point and its negation with the same label', () => {
    expectNotSeparable([[1, 2], [-1, -2]], [1, 1]);
    expectNotSeparable([[0.3, -0.7, 2], [1, 1, 1], [-0.3, 0.7, -2]], [-1, 1, -1]);
  });

  test('a zero vector', () => {
    expectNotSeparable([[1, 1], [0, 0]], [1, -1]);
  });

  test('random separable data plus the negation of one point with the same label', () => {
    fc.assert(
      fc.property(dataArb, fc.nat(), ({ X, y }, pick) => {
        const k = pick % X.length;
        expectNotSeparable([...X, X[k].map((v) => -v)], [...y, y[k]]);
      }),
      FC,
    );
  });

  test('NotSeparableError is an InputError', () => {
    expect(() => maxMarginSvm([[1], [-1]], [1, 1])).toThrow(InputError);
  });
});

describe('maxMarginSvm validates its input', () => {
  const cases: [string, number[][], number[], RegExp][] = [
    ['no points', [], [], /empty/],
    ['fewer labels than points', [[1, 0], [0, 1]], [1], /2 rows but "y" has 1 label/],
    ['ragged rows', [[1, 0], [0, 1, 2]], [1, 1], /ragged rows: X\[0\] has 2 values but X\[1\] has 3/],
    ['zero-length points', [[]], [1], /X\[0\] is empty/],
    ['NaN', [[1, NaN]], [1], /X\[0\]\[1\] is not a finite number/],
    ['Infinity', [[1, 0], [Infinity, 0]], [1, 1], /X\[1\]\[0\] is not a finite number/],
    ['label 0', [[1, 0], [0, 1]], [1, 0], /y\[1\] is 0; labels must be -1 or \+1/],
    ['label 2', [[1, 0]], [2], /y\[0\] is 2/],
  ];
  test.each(cases)('%s', (_, X, y, msg) => {
    expect(() => maxMarginSvm(X, y)).toThrow(InputError);
    expect(() => maxMarginSvm(X, y)).toThrow(msg);
    let err: unknown;
    try {
      maxMarginSvm(X, y);
    } catch (e) {
      err = e;
    }
    expect(err).not.toBeInstanceOf(NotSeparableError);
  });
});
