import { describe, test, expect } from 'vitest';
import seedrandom from 'seedrandom';
import {
  hoeffdingRadius,
  runSequentialTest,
  sequentialMeanTest,
  verdictRates,
  type SequentialTestOptions,
  type Verdict,
} from '../src/stats.js';

/*
 * Deterministic checks of the betting test (src/stats.ts) against an independent transcription of
 * the formulas in its header comment (Waudby-Smith & Ramdas 2023, aGRAPA bets):
 *   μ̂_t  = (0 + Σ_{i≤t} D_i)/(t+1)                 running mean, one pseudo-observation at 0
 *   σ̂²_t = (B² + Σ_{i≤t} (D_i − μ̂_i)²)/(t+1)        pseudo-observation of the largest variance B²
 *   λ̂_t  = (μ̂_{t−1} − δ)/(σ̂²_{t−1} + (μ̂_{t−1} − δ)²)  bet on step t, fixed before D_t is seen
 *   log K⁺_t(m) = Σ_{i≤t, λ̂_i>0} log(1 + min(λ̂_i, c/(B+m))·(D_i − m)),   c = 1/2
 *   log K⁻_t(m) = Σ_{i≤t, λ̂_i<0} log(1 + min(−λ̂_i, c/(B−m))·(m − D_i))
 * 'pass' at the first t with log K⁺_t(δ) ≥ log(1/α), 'fail' likewise with K⁻; the confidence
 * sequence is lower = sup{m : max_{s≤t} log K⁺_s(m) ≥ log 1/α}, upper = inf{m : … K⁻ …}.
 * With a fixed stream the stopping time, the verdict and the bounds are definite numbers.
 */

const C = 0.5;

interface Reference {
  verdict: Verdict;
  n: number;
  xs: number[];
  bets: number[];
}

/** The symmetric range [−B, B] that the transcription below is written for. */
type SymmetricOptions = Required<Omit<SequentialTestOptions, 'prior'>> & { bound: number };

/** The documented test, run on `draw(i)` until it decides or spends maxSamples. */
function referenceRun(o: SymmetricOptions, draw: (i: number) => number): Reference {
  const { alpha, bound: B, effect: delta, maxSamples } = o;
  const thr = Math.log(1 / alpha);
  const xs: number[] = [];
  const bets: number[] = [];
  const muHat = (t: number) => xs.slice(0, t).reduce((s, x) => s + x, 0) / (t + 1);
  let sq = 0; // Σ_{i<t} (D_i − μ̂_i)², extended as the μ̂_i become known
  let logUp = 0;
  let logDown = 0;
  for (let t = 1; t <= maxSamples; t++) {
    const mu = muHat(t - 1);
    const variance = (B * B + sq) / t;
    const u = mu - delta;
    const bet = u / (variance + u * u);
    const d = draw(t - 1);
    xs.push(d);
    bets.push(bet);
    if (bet > 0) logUp += Math.log1p(Math.min(bet, C / (B + delta)) * (d - delta));
    if (bet < 0) logDown += Math.log1p(Math.min(-bet, C / (B - delta)) * (delta - d));
    const r = d - muHat(t);
    sq += r * r;
    if (logUp >= thr) return { verdict: 'pass', n: t, xs, bets };
    if (logDown >= thr) return { verdict: 'fail', n: t, xs, bets };
  }
  return { verdict: 'inconclusive', n: maxSamples, xs, bets };
}

/** max_{s≤t} log K±_s(m) over the first t observations (side +1: K⁺, −1: K⁻). */
function refMaxLogWealth(xs: number[], bets: number[], B: number, m: number, side: 1 | -1, t = xs.length): number {
  let log = 0;
  let best = 0;
  for (let i = 0; i < t; i++) {
    if (side === 1 && bets[i] > 0) log += Math.log1p(Math.min(bets[i], C / (B + m)) * (xs[i] - m));
    if (side === -1 && bets[i] < 0) log += Math.log1p(Math.min(-bets[i], C / (B - m)) * (m - xs[i]));
    best = Math.max(best, log);
  }
  return best;
}

const f64 = new Float64Array(1);
const i64 = new BigInt64Array(f64.buffer);
/** The next double above x (x ≠ 0). */
function nextUp(x: number): number {
  f64[0] = x;
  i64[0] += x > 0 ? 1n : -1n;
  return f64[0];
}
const nextDown = (x: number) => -nextUp(-x);

/** An α whose threshold Math.log(1/α) is exactly the double w (w ≥ 2: log's steps are finer than w's ulp). */
function alphaWithThreshold(w: number): number {
  let lo = Math.exp(-w);
  let hi = lo;
  for (let k = 0; k < 4096; k++) {
    if (Math.log(1 / lo) === w) return lo;
    if (Math.log(1 / hi) === w) return hi;
    lo = nextDown(lo);
    hi = nextUp(hi);
  }
  throw new Error(`no α with log(1/α) = ${w}`);
}

/**
 * lower is (up to 1e-9·B) the supremum of the K⁺-rejected means, upper the infimum of the K⁻-rejected
 * ones; each is ±B when nothing is rejected (log K⁺(B) ≤ 0 and log K⁻(−B) ≤ 0 never reach log 1/α > 0).
 */
function expectBounds(ref: Reference, B: number, alpha: number, t: number, lower: number, upper: number): void {
  const thr = Math.log(1 / alpha);
  const up = (m: number) => refMaxLogWealth(ref.xs, ref.bets, B, m, 1, t);
  const down = (m: number) => refMaxLogWealth(ref.xs, ref.bets, B, m, -1, t);
  const eps = 1e-9 * B;
  if (up(-B) >= thr) {
    expect(up(lower)).toBeGreaterThanOrEqual(thr - 1e-12);
    expect(up(lower + eps)).toBeLessThan(thr);
  } else {
    expect(lower).toBe(-B);
  }
  if (down(B) >= thr) {
    expect(down(upper)).toBeGreaterThanOrEqual(thr - 1e-12);
    expect(down(upper - eps)).toBeLessThan(thr);
  } else {
    expect(upper).toBe(B);
  }
}

const stream = (seed: string, lo: number, hi: number) => {
  const u = seedrandom(`stats-mutants:${seed}`);
  const xs: number[] = [];
  return (i: number) => {
    while (xs.length <= i) xs.push(lo + (hi - lo) * u());
    return xs[i];
  };
};

describe('sequentialMeanTest against the documented formulas, on fixed streams', () => {
  // Non-unit bound and nonzero effect, so that c/(B+δ), c/(B−δ), B² and their mutations all differ;
  // the narrow ranges make the Kelly bet exceed the truncation cap, so the caps set the pace.
  const cases: { name: string; opts: SymmetricOptions; lo: number; hi: number }[] = [
    { name: 'B = 2, δ = 0.3, D ~ U[0.9, 1.3] (pass, capped bets)', opts: { alpha: 0.05, bound: 2, effect: 0.3, maxSamples: 200 }, lo: 0.9, hi: 1.3 },
    { name: 'B = 2, δ = 0.3, D ~ U[−0.9, −0.5] (fail, capped bets)', opts: { alpha: 0.05, bound: 2, effect: 0.3, maxSamples: 200 }, lo: -0.9, hi: -0.5 },
    { name: 'B = 2, δ = −0.4, D ~ U[−2, 2] (noisy, inconclusive budget)', opts: { alpha: 0.01, bound: 2, effect: -0.4, maxSamples: 60 }, lo: -2, hi: 2 },
    { name: 'B = 3, δ = 0.5, D ~ U[0, 2.5] (pass, uncapped start)', opts: { alpha: 0.1, bound: 3, effect: 0.5, maxSamples: 200 }, lo: 0, hi: 2.5 },
    { name: 'B = 0.5, δ = 0.1, D ~ U[−0.5, 0.3] (fail)', opts: { alpha: 0.05, bound: 0.5, effect: 0.1, maxSamples: 200 }, lo: -0.5, hi: 0.3 },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const draw = stream(c.name, c.lo, c.hi);
      const ref = referenceRun(c.opts, draw);
      const t = sequentialMeanTest(c.opts);
      for (let i = 0; i < ref.n; i++) {
        const v = t.observe(draw(i));
        // Undecided before the reference's stopping time, its verdict at it.
        expect(v).toBe(i + 1 === ref.n ? ref.verdict : 'inconclusive');
        expect(t.done).toBe(i + 1 === ref.n);
        expectBounds(ref, c.opts.bound, c.opts.alpha, i + 1, t.lower, t.upper);
      }
      expect([t.verdict, t.n]).toEqual([ref.verdict, ref.n]);
    });
  }

  test('the cases do exercise both caps and all three verdicts', () => {
    const seen = new Set<Verdict>();
    for (const c of cases) {
      const ref = referenceRun(c.opts, stream(c.name, c.lo, c.hi));
      seen.add(ref.verdict);
    }
    expect([...seen].sort()).toEqual(['fail', 'inconclusive', 'pass']);
    const pass = referenceRun(cases[0].opts, stream(cases[0].name, cases[0].lo, cases[0].hi));
    expect(Math.max(...pass.bets)).toBeGreaterThan(C / (2 + 0.3)); // capUp binds
    const fail = referenceRun(cases[1].opts, stream(cases[1].name, cases[1].lo, cases[1].hi));
    expect(Math.max(...fail.bets.map((b) => -b))).toBeGreaterThan(C / (2 - 0.3)); // capDown binds
  });
});

describe('confidence bounds in closed form after one observation', () => {
  // Step 1 bets λ̂₁ = (0 − δ)/(B² + δ²): K⁺ bets for δ < 0, K⁻ for δ > 0.
  test('δ = −0.5, D₁ = 1, α = 0.6: lower = −2/3 (uncapped bet 0.4)', () => {
    // λ̂₁ = 0.5/1.25 = 0.4 ≤ c/(1+m) for m ≤ 1/4; K⁺(m) = 1 + 0.4(1 − m) = 1/0.6 at m = −2/3.
    // At δ itself K⁺ = 1.6 < 1/0.6: no verdict yet. K⁻ never bet: upper = B.
    const t = sequentialMeanTest({ alpha: 0.6, bound: 1, effect: -0.5, maxSamples: 5 });
    t.observe(1); // no read of the bounds before: the first read must compute them
    expect(t.verdict).toBe('inconclusive');
    expect(t.lower).toBeCloseTo(-2 / 3, 12);
    expect(t.upper).toBe(1);
  });

  test('δ = 0.5, D₁ = −1, α = 0.6: upper = 2/3 (mirror image)', () => {
    const t = sequentialMeanTest({ alpha: 0.6, bound: 1, effect: 0.5, maxSamples: 5 });
    t.observe(-1);
    expect(t.verdict).toBe('inconclusive');
    expect(t.upper).toBeCloseTo(2 / 3, 12);
    expect(t.lower).toBe(-1);
  });

  test("δ = −0.9, D₁ = 1, α = 0.75: 'pass', lower = 0.2 set by the cap c/(B+m)", () => {
    // λ̂₁ = 0.9/1.81 ≈ 0.497 > c/(1+m) for m > 0.006, so K⁺(m) = 1 + (1 − m)/(2(1 + m)), which is
    // 4/3 = 1/α at m = 0.2. At δ: 1 + 0.497·1.9 ≈ 1.94 ≥ 4/3, so 'pass' — and lower = 0.2 > δ.
    const t = sequentialMeanTest({ alpha: 0.75, bound: 1, effect: -0.9, maxSamples: 5 });
    expect(t.observe(1)).toBe('pass');
    expect(t.lower).toBeCloseTo(0.2, 12);
    expect(t.upper).toBe(1);
  });

  test("δ = 0.9, D₁ = −1, α = 0.75: 'fail', upper = −0.2 (mirror image)", () => {
    const t = sequentialMeanTest({ alpha: 0.75, bound: 1, effect: 0.9, maxSamples: 5 });
    expect(t.observe(-1)).toBe('fail');
    expect(t.upper).toBeCloseTo(-0.2, 12);
    expect(t.lower).toBe(-1);
  });

  test('B = 2 scales the one-step bound: δ = −1, D₁ = 2, α = 0.6 → lower = −4/3', () => {
    // λ̂₁ = 1/(4 + 1) = 0.2 ≤ c/(2+m) for m ≤ 0.5; K⁺(m) = 1 + 0.2(2 − m) = 5/3 at m = −4/3.
    // At δ: 1 + 0.2·3 = 1.6 < 5/3: undecided.
    const t = sequentialMeanTest({ alpha: 0.6, bound: 2, effect: -1, maxSamples: 5 });
    t.observe(2);
    expect(t.verdict).toBe('inconclusive');
    expect(t.lower).toBeCloseTo(-4 / 3, 12);
  });
});

describe('rejection is inclusive: wealth exactly 1/α counts (Ville: P(∃t: K_t ≥ 1/α) ≤ α)', () => {
  // A constant ±1 stream with δ = 0, B = 1: λ̂₁ = 0 (no bet), then |λ̂_t| ≥ 4/7 > c = 1/2, so each
  // later step multiplies the favoured wealth by exactly 1 + 1/2: log K_t = (t − 1)·log 1.5.
  const w8 = Array(8).fill(Math.log1p(0.5)).reduce((s, x) => s + x, 0);
  const alpha = alphaWithThreshold(w8); // log(1/α) equals log K₉ to the last bit

  test("the stream's bets are the ones the closed form assumes", () => {
    const ref = referenceRun({ alpha, bound: 1, effect: 0, maxSamples: 12 }, () => 1);
    expect(ref.bets[0]).toBe(0);
    for (const b of ref.bets.slice(1)) expect(b).toBeGreaterThan(C);
    expect([ref.verdict, ref.n]).toEqual(['pass', 9]);
  });

  test("'pass' exactly at the 9th observation of +1, 'fail' at the 9th of −1", () => {
    const up = runSequentialTest({ alpha, bound: 1, maxSamples: 12 }, () => 1);
    expect([up.verdict, up.n]).toEqual(['pass', 9]);
    const down = runSequentialTest({ alpha, bound: 1, maxSamples: 12 }, () => -1);
    expect([down.verdict, down.n]).toEqual(['fail', 9]);
  });

  test('the bound sits where the running-max wealth equals 1/α exactly', () => {
    for (const side of [1, -1] as const) {
      const xs = [side, side, side, side];
      const bets = referenceRun({ alpha: 1e-9, bound: 1, effect: 0, maxSamples: 4 }, (i) => xs[i]).bets; // α tiny: all four bets
      const wealth = (m: number) => refMaxLogWealth(xs, bets, 1, m, side);
      const w = wealth(-0.5 * side); // a mean well inside the rejected side
      expect(w).toBeGreaterThanOrEqual(2); // alphaWithThreshold's premise
      const a = alphaWithThreshold(w);
      const t = sequentialMeanTest({ alpha: a, bound: 1, maxSamples: 10 });
      for (const x of xs) t.observe(x);
      // log K(δ = 0) = 3·log 1.5 < w: still undecided, so no clamping to δ.
      expect(t.verdict).toBe('inconclusive');
      const edge = side === 1 ? t.lower : t.upper;
      // The boundary is the last rejected float: its wealth is exactly log(1/α), one step further in is less.
      expect(wealth(edge)).toBe(Math.log(1 / a));
      expect(wealth(side === 1 ? nextUp(edge) : nextDown(edge))).toBeLessThan(Math.log(1 / a));
    }
  });
});

describe('verdictRates on hand-made streams with known stopping times', () => {
  // k zeros then ones (δ = 0, B = 1, α = 0.05): the zeros keep μ̂ = δ (no bet), the first 1 is not bet
  // on either, then every bet is capped at 1/2: 1.5⁷ < 20 ≤ 1.5⁸, so 'pass' at n = k + 9.
  // An all-zero stream never bets: 'inconclusive' at maxSamples.
  const opts = { alpha: 0.05, bound: 1, maxSamples: 40 };
  const zerosThenOnes = (k: number) => () => {
    let i = 0;
    return () => (i++ < k ? 0 : 1);
  };

  test('the stopping times are k + 9', () => {
    for (const k of [0, 1, 3, 6]) {
      const ref = referenceRun({ ...opts, effect: 0 }, (i) => (i < k ? 0 : 1));
      expect([ref.verdict, ref.n]).toEqual(['pass', k + 9]);
      expect(runSequentialTest(opts, zerosThenOnes(k)())).toMatchObject({ verdict: 'pass', n: k + 9 });
    }
  });

  test('median of an odd number of runs: the middle stopping time, whatever the order', () => {
    const ks = [5, 0, 2]; // n = 14, 9, 11 → median 11
    const rates = verdictRates(opts, (r) => zerosThenOnes(ks[r])(), ks.length);
    expect(rates).toEqual({ repetitions: 3, pass: 1, fail: 0, inconclusive: 0, medianSamples: 11 });
  });

  test('median of an even number of runs: the mean of the two middle ones; rates are fractions', () => {
    // n = 15, 9, 40 (all zeros: inconclusive at the budget), 10 → sorted 9, 10, 15, 40 → (10 + 15)/2.
    const streams = [zerosThenOnes(6), zerosThenOnes(0), zerosThenOnes(Infinity), zerosThenOnes(1)];
    const rates = verdictRates(opts, (r) => streams[r](), streams.length);
    expect(rates).toEqual({ repetitions: 4, pass: 0.75, fail: 0, inconclusive: 0.25, medianSamples: 12.5 });
  });

  test('a −1 stream fails at 9 (mirror image), counted as a fail fraction', () => {
    const streams = [() => () => -1, zerosThenOnes(2)];
    const rates = verdictRates(opts, (r) => streams[r](), 2);
    expect(rates).toEqual({ repetitions: 2, pass: 0.5, fail: 0.5, inconclusive: 0, medianSamples: 10 });
  });
});

describe('validation messages, in full', () => {
  test('bound, effect and observations name the offending value and the interval', () => {
    const ok = { alpha: 0.05, bound: 2, maxSamples: 10 };
    expect(() => sequentialMeanTest({ ...ok, bound: 0 })).toThrow('bound must be a positive finite number, got 0');
    expect(() => sequentialMeanTest({ ...ok, effect: 2 })).toThrow('effect must lie strictly inside (−bound, bound) = (-2, 2), got 2');
    const t = sequentialMeanTest(ok);
    expect(() => t.observe(2.5)).toThrow('observation 2.5 is outside the declared bound [-2, 2]');
    // A tiny positive bound is valid: only the sign and finiteness are checked.
    expect(() => sequentialMeanTest({ ...ok, bound: 1e-300, effect: 0 })).not.toThrow();
  });

  test('verdictRates names repetitions', () => {
    expect(() => verdictRates({ alpha: 0.05, bound: 1, maxSamples: 5 }, () => () => 0, 0)).toThrow(/^repetitions must be a positive integer, got 0$/);
  });

  test('hoeffdingRadius names n', () => {
    expect(() => hoeffdingRadius(0, 1, 0.05)).toThrow(/^n must be a positive integer, got 0$/);
  });
});
