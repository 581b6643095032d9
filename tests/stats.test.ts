import { test, expect } from 'vitest';
import seedrandom from 'seedrandom';
import {
  hoeffdingRadius,
  runSequentialTest,
  sequentialMeanTest,
  splitAlpha,
  verdictRates,
  type SequentialTestOptions,
} from '../src/stats.js';

/** A seeded uniform [0, 1) generator (seedrandom, as in src/rng.ts), so every case replays. */
const mulberry32 = (seed: number): (() => number) => seedrandom(`test:${seed}`);

/** Independent stream per (experiment, repetition). */
const rngFor = (experiment: number, repetition: number) =>
  mulberry32(Math.imul(experiment + 1, 0x9e3779b1) ^ Math.imul(repetition + 1, 0x85ebca77));

/** ±1 with P(+1) = (1 + mean)/2: the largest variance for a given mean on [−1, 1]. */
const coin = (mean: number) => (u: () => number) => () => (u() < (1 + mean) / 2 ? 1 : -1);
/** Uniform on [lo, hi]. */
const uniform = (lo: number, hi: number) => (u: () => number) => () => lo + (hi - lo) * u();

/**
 * Binomial allowance: the smallest k with P(Bin(reps, p) > k) ≤ tail. If the true false-alarm rate
 * is ≤ p, a count above k happens with probability ≤ tail.
 */
function binomialLimit(reps: number, p: number, tail: number): number {
  let pmf = Math.pow(1 - p, reps);
  let cdf = pmf;
  let k = 0;
  while (1 - cdf > tail) {
    pmf *= ((reps - k) / (k + 1)) * (p / (1 - p));
    cdf += pmf;
    k++;
  }
  return k;
}

const REPS = 2000;
const BUDGET = 500;
const TAIL = 1e-3;

/** Claims that are false (E[D] ≤ effect): any 'pass' is a false alarm. */
const nulls: { name: string; mean: number; effect: number; draw: (u: () => number) => () => number }[] = [
  { name: '±1 coin, E[D] = 0', mean: 0, effect: 0, draw: coin(0) },
  { name: '±1 coin, E[D] = −0.05', mean: -0.05, effect: 0, draw: coin(-0.05) },
  { name: 'uniform [−0.6, 1], E[D] = 0.2 = effect', mean: 0.2, effect: 0.2, draw: uniform(-0.6, 1) },
];

for (const alpha of [0.05, 0.01]) {
  const limit = binomialLimit(REPS, alpha, TAIL);
  nulls.forEach((h, j) => {
    test(`calibration α = ${alpha}: ${h.name} → 'pass' in ≤ ${limit}/${REPS} (α·reps + binomial allowance at ${TAIL})`, () => {
      const opts = { alpha, bound: 1, effect: h.effect, maxSamples: BUDGET };
      const rates = verdictRates(opts, (r) => h.draw(rngFor(10 * j + (alpha === 0.05 ? 0 : 1), r)), REPS);
      console.log(`α=${alpha} ${h.name}: pass ${rates.pass}, fail ${rates.fail}, inconclusive ${rates.inconclusive}`);
      expect(rates.pass * REPS).toBeLessThanOrEqual(limit);
      // At E[D] = effect exactly, 'fail' is a false alarm too (its guarantee covers E[D] ≥ effect).
      if (h.mean >= h.effect) expect(rates.fail * REPS).toBeLessThanOrEqual(limit);
    });
  });
}

for (const alpha of [0.05, 0.01]) {
  test(`power α = ${alpha}: E[D] = 0.3, bound 1 → 'pass' in ≥ 95% within ${BUDGET} samples`, () => {
    for (const [name, draw] of [
      ['±1 coin', coin(0.3)],
      ['uniform [−0.4, 1]', uniform(-0.4, 1)],
    ] as const) {
      const rates = verdictRates({ alpha, bound: 1, maxSamples: BUDGET }, (r) => draw(rngFor(100, r)), REPS);
      console.log(`power α=${alpha} ${name}: pass ${rates.pass}, fail ${rates.fail}, median samples ${rates.medianSamples}`);
      expect(rates.pass).toBeGreaterThanOrEqual(0.95);
      // E[D] > 0: a 'fail' is a false alarm, rarer than α.
      expect(rates.fail * REPS).toBeLessThanOrEqual(binomialLimit(REPS, alpha, TAIL));
    }
  });
}

test("'fail' on a clear opposite effect (E[D] = −0.3), with upper ≤ effect", () => {
  const opts = { alpha: 0.05, bound: 1, maxSamples: BUDGET };
  const rates = verdictRates(opts, (r) => coin(-0.3)(rngFor(200, r)), REPS);
  console.log(`opposite effect: fail ${rates.fail}, pass ${rates.pass}, median samples ${rates.medianSamples}`);
  expect(rates.fail).toBeGreaterThanOrEqual(0.95);
  expect(rates.pass).toBe(0);

  const u = rngFor(201, 0);
  const t = runSequentialTest(opts, coin(-0.3)(u));
  expect(t.verdict).toBe('fail');
  expect(t.upper).toBeLessThanOrEqual(0);
  expect(t.lower).toBeLessThan(t.upper);
});

test("a claim E[D] > 0.2 fails when E[D] = 0 (evidence against the stronger claim)", () => {
  const rates = verdictRates({ alpha: 0.05, bound: 1, effect: 0.2, maxSamples: BUDGET }, (r) => uniform(-1, 1)(rngFor(300, r)), 500);
  expect(rates.fail).toBeGreaterThanOrEqual(0.95);
  expect(rates.pass).toBe(0);
});

test("'inconclusive' when the budget is too small, and the test refuses more data once done", () => {
  // Each wealth factor is ≤ 1 + 1/2, and 1.5⁵ < 20 = 1/α: five samples can never decide.
  const opts = { alpha: 0.05, bound: 1, maxSamples: 5 };
  const rates = verdictRates(opts, () => () => 1, 1);
  expect(rates.inconclusive).toBe(1);
  const t = runSequentialTest(opts, () => 1);
  expect([t.verdict, t.done, t.n]).toEqual(['inconclusive', true, 5]);
  expect(() => t.observe(0)).toThrow(/already done/);
  // A realistic too-small budget on the power example.
  const small = verdictRates({ ...opts, maxSamples: 8 }, (r) => coin(0.3)(rngFor(400, r)), 500);
  expect(small.inconclusive).toBeGreaterThan(0.9);
});

test('the verdict agrees with the confidence sequence, which only narrows and covers the mean', () => {
  const opts: SequentialTestOptions = { alpha: 0.05, bound: 1, effect: 0.1, maxSamples: 300 };
  const trueMean = 0.3;
  const reps = 400;
  let misses = 0;
  for (let r = 0; r < reps; r++) {
    const draw = uniform(-0.4, 1)(rngFor(500, r));
    const t = sequentialMeanTest(opts);
    if (r < 5) {
      // Watch a few runs step by step: the running intersection only shrinks.
      let prev = { lower: t.lower, upper: t.upper };
      expect(prev).toEqual({ lower: -1, upper: 1 });
      while (!t.done) {
        t.observe(draw());
        expect(t.lower).toBeGreaterThanOrEqual(prev.lower);
        expect(t.upper).toBeLessThanOrEqual(prev.upper);
        prev = { lower: t.lower, upper: t.upper };
      }
    } else {
      while (!t.done) t.observe(draw());
    }
    expect(t.verdict === 'pass').toBe(opts.effect! <= t.lower);
    expect(t.verdict === 'fail').toBe(t.upper <= opts.effect!);
    if (!(t.lower < trueMean && trueMean < t.upper)) misses++;
  }
  // At the stopping time each side misses with probability ≤ α.
  expect(misses).toBeLessThanOrEqual(binomialLimit(reps, 2 * opts.alpha, TAIL));
});

test('arguments and observations are validated', () => {
  const ok = { alpha: 0.05, bound: 1, maxSamples: 10 };
  for (const alpha of [0, 1, -0.1, NaN]) expect(() => sequentialMeanTest({ ...ok, alpha })).toThrow(/alpha/);
  for (const bound of [0, -1, Infinity, NaN]) expect(() => sequentialMeanTest({ ...ok, bound })).toThrow(new RegExp(`bound must be a positive finite number, got ${bound}`));
  for (const effect of [1, -1, 2, NaN]) expect(() => sequentialMeanTest({ ...ok, effect })).toThrow(new RegExp(`effect must lie strictly inside \\(−bound, bound\\) = \\(-1, 1\\), got ${effect}`));
  for (const maxSamples of [0, 1.5, NaN]) expect(() => sequentialMeanTest({ ...ok, maxSamples })).toThrow(/maxSamples/);
  const t = sequentialMeanTest(ok);
  expect(Number.isNaN(t.mean)).toBe(true);
  expect(() => t.observe(1.25)).toThrow(/observation 1\.25 is outside the declared bound \[-1, 1\]/);
  expect(() => t.observe(-1.0000001)).toThrow(/observation -1\.0000001/);
  expect(() => t.observe(NaN)).toThrow(/observation NaN/);
  expect(t.n).toBe(0);
  const edge = sequentialMeanTest(ok); // the bound itself is allowed
  expect(() => { edge.observe(1); edge.observe(-1); }).not.toThrow();
  t.observe(1);
  t.observe(-0.5);
  expect([t.n, t.mean]).toEqual([2, 0.25]);
});

test('hoeffdingRadius matches range·√(ln(2/δ)/(2n))', () => {
  expect(hoeffdingRadius(100, 1, 0.05)).toBeCloseTo(0.13581015157406195, 14);
  expect(hoeffdingRadius(400, 2, 0.01)).toBeCloseTo(0.16276236307187292, 14);
  expect(hoeffdingRadius(400, 1, 0.05)).toBeCloseTo(hoeffdingRadius(100, 1, 0.05) / 2, 14);
  expect(() => hoeffdingRadius(0, 1, 0.05)).toThrow(/n/);
  expect(() => hoeffdingRadius(10, 0, 0.05)).toThrow(/range/);
  expect(() => hoeffdingRadius(10, 1, 1)).toThrow(/delta/);
});

test('splitAlpha divides α evenly (Bonferroni)', () => {
  expect(splitAlpha(0.05, 10)).toBeCloseTo(0.005, 15);
  expect(splitAlpha(0.01, 1)).toBe(0.01);
  expect(() => splitAlpha(0.05, 0)).toThrow(/parts/);
  expect(() => splitAlpha(0.05, 2.5)).toThrow(/parts/);
  expect(() => splitAlpha(1.5, 2)).toThrow(/alpha/);
});

test('a range [a, b]: [−B, B] is the symmetric test bit for bit; the caps follow the near end of each side', () => {
  const xs = Array.from({ length: 80 }, (_, i) => Math.sin(7 * i) * 0.8 + 0.1);
  const sym = runSequentialTest({ alpha: 0.01, bound: 1, effect: 0.05, maxSamples: 80 }, (i) => xs[i]);
  const range = runSequentialTest({ alpha: 0.01, bound: [-1, 1], effect: 0.05, maxSamples: 80 }, (i) => xs[i]);
  expect([range.verdict, range.n, range.lower, range.upper]).toEqual([sym.verdict, sym.n, sym.lower, sym.upper]);
  // D ≡ −1: K⁻ bets at most c/(b − m), 0.5/1 on [−20, 1] and 0.5/20 on [−1, 20] or [−20, 20] (the lower end does not enter).
  const near = runSequentialTest({ alpha: 0.01, bound: [-20, 1], maxSamples: 1000 }, () => -1);
  const far = runSequentialTest({ alpha: 0.01, bound: [-1, 20], maxSamples: 1000 }, () => -1);
  const wide = runSequentialTest({ alpha: 0.01, bound: 20, maxSamples: 1000 }, () => -1);
  expect([near.verdict, far.verdict, wide.verdict]).toEqual(['fail', 'fail', 'fail']);
  expect(near.n).toBeLessThan(Math.min(far.n, wide.n) / 5);
  expect(near.upper).toBeLessThanOrEqual(0);
  const ok = { alpha: 0.05, maxSamples: 10 };
  for (const bound of [[1, 1], [2, -1], [NaN, 1], [-Infinity, 1]] as [number, number][]) {
    expect(() => sequentialMeanTest({ ...ok, bound })).toThrow(/bound \[a, b\] must have finite a < b/);
  }
  expect(() => sequentialMeanTest({ ...ok, bound: [-2, 0.5], effect: 0.5 })).toThrow(/effect must lie strictly inside the range \(-2, 0\.5\), got 0\.5/);
  const t = sequentialMeanTest({ ...ok, bound: [-2, 0.5] });
  expect(() => t.observe(0.6)).toThrow(/observation 0\.6 is outside the declared bound \[-2, 0\.5\]/);
  expect(() => t.observe(-2)).not.toThrow();
});

test("calibration with a range [−10, 1]: E[D] = 0 (uniform on [−1, 1]) → 'pass' and 'fail' each in ≤ α·reps + allowance", () => {
  const opts = { alpha: 0.05, bound: [-10, 1] as const, maxSamples: BUDGET };
  const limit = binomialLimit(REPS, 0.05, TAIL);
  const rates = verdictRates(opts, (r) => uniform(-1, 1)(rngFor(900, r)), REPS);
  expect(rates.pass * REPS).toBeLessThanOrEqual(limit);
  expect(rates.fail * REPS).toBeLessThanOrEqual(limit);
});

test('a prior pseudo-observation of the near side\'s scale lets the bets reach their cap sooner; it is validated', () => {
  const draw = (i: number) => -4 + Math.sin(3 * i);
  const wide = runSequentialTest({ alpha: 0.001, bound: [-240, 18], maxSamples: 400 }, draw);
  const near = runSequentialTest({ alpha: 0.001, bound: [-240, 18], maxSamples: 400, prior: { mean: 0, spread: 18 } }, draw);
  expect([wide.verdict, near.verdict]).toEqual(['fail', 'fail']);
  expect(near.n).toBeLessThan(0.7 * wide.n);
  const same = runSequentialTest({ alpha: 0.001, bound: [-240, 18], maxSamples: 400, prior: { mean: -111, spread: 129 } }, draw);
  expect(same.n).toBe(wide.n);
  const ok = { alpha: 0.05, bound: 1, maxSamples: 10 };
  for (const prior of [{ mean: 2, spread: 1 }, { mean: 0, spread: 0 }, { mean: 0, spread: NaN }, { mean: NaN, spread: 1 }]) {
    expect(() => sequentialMeanTest({ ...ok, prior })).toThrow(/prior must have a mean in \[-1, 1\] and a positive finite spread/);
  }
});

test("calibration with a range [−10, 1] and the prior (0, 1): E[D] = 0 → 'pass' and 'fail' each in ≤ α·reps + allowance", () => {
  const opts = { alpha: 0.05, bound: [-10, 1] as const, maxSamples: BUDGET, prior: { mean: 0, spread: 1 } };
  const limit = binomialLimit(REPS, 0.05, TAIL);
  const rates = verdictRates(opts, (r) => uniform(-1, 1)(rngFor(901, r)), REPS);
  expect(rates.pass * REPS).toBeLessThanOrEqual(limit);
  expect(rates.fail * REPS).toBeLessThanOrEqual(limit);
});
