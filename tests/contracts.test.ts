/**
 * Contracts the properties rely on but cannot see. A property that draws a data set "with margin
 * gap" or counts 0-1 errors or trains with SGD would often still pass if these were slightly
 * wrong (a point inside the gap only slows training; a 0 output counted as correct only lowers an
 * error rate), so they are checked here directly:
 *   - every data generator keeps every point at least `gap` from its teacher's decision boundary
 *     (|score| ≥ gap for a teacher of unit norm) and labels it by the teacher's sign;
 *   - the 0-1 error counts a point whose output is exactly 0 as an error;
 *   - SGD batches are uniform samples without replacement: the rows the Trainer uses are those of
 *     sampleWithoutReplacement on the run's `batches` stream (pinned for one seed, since stored
 *     counterexamples replay by seed), and inclusion frequencies of single rows and of pairs match
 *     k/n and k(k−1)/(n(n−1)) within a Bernstein bound at a declared false-alarm rate.
 */
import fc from 'fast-check';
import { describe, expect, inject, test } from 'vitest';
import { linearTeacherData, reluTeacher, reluTeacherData, teacherScore, withLabelNoise, type Dataset, type Teacher } from '../src/data.js';
import { InputError } from '../src/errors.js';
import { lossAndError, normalizedLossAndError, sphereTeacherData } from '../src/generalization.js';
import { modelSpec } from '../src/model.js';
import { sampleWithoutReplacement, stream, type Rng } from '../src/rng.js';
import { Trainer, type TrainOptions } from '../src/train.js';
import { thrown } from './harness.js';

/** Σ a_i b_i, written here so the check does not share the generator's arithmetic. */
function score(w: number[], x: number[]): number {
  return w.reduce((s, wi, i) => s + wi * x[i], 0);
}

function expectMargin(data: Dataset, scoreOf: (x: number[]) => number, gap: number, what: string) {
  data.X.forEach((x, n) => {
    const s = scoreOf(x);
    expect(Math.abs(s), `${what}: point ${n} inside the gap`).toBeGreaterThanOrEqual(gap);
    expect(data.y[n], `${what}: point ${n} labelled against the teacher`).toBe(s > 0 ? 1 : -1);
  });
}

const setting = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  n: fc.integer({ min: 1, max: 60 }),
  d: fc.integer({ min: 1, max: 12 }),
  gap: fc.double({ min: 0.01, max: 0.6, noNaN: true }),
});

describe('data generators deliver the margin they promise', () => {
  test('linearTeacherData: a unit teacher, every point |w·x| ≥ gap, labelled sign(w·x)', () => {
    fc.assert(
      fc.property(setting, ({ seed, n, d, gap }) => {
        const data = linearTeacherData(stream(seed, 'data'), n, d, gap);
        expect(data.X).toHaveLength(n);
        // distance to the boundary is |w·x|/‖w‖; ‖w‖ = 1 to rounding, so |w·x| ≥ gap is the promise
        expect(Math.abs(Math.hypot(...data.teacher) - 1)).toBeLessThan(1e-15);
        expectMargin(data, (x) => score(data.teacher, x), gap, JSON.stringify({ seed, n, d, gap }));
      }),
      { numRuns: 200 },
    );
  });

  test('reluTeacherData: every point |f(x)| ≥ gap for its teacher (unit rows u_i, ‖a‖ = 1), labelled sign f(x)', () => {
    // The teacher is drawn first from the same stream, so replaying the stream gives it back.
    // In distance: f is ‖a‖₁-Lipschitz (≤ √width), so each point is ≥ gap/√width from f = 0.
    let checked = 0;
    let runs = 0;
    fc.assert(
      fc.property(setting, fc.integer({ min: 1, max: 5 }), ({ seed, n, d, gap }, width) => {
        runs++;
        const teacher: Teacher = reluTeacher(stream(seed, 'data'), d, width);
        expect(Math.abs(Math.hypot(...teacher.a) - 1)).toBeLessThan(1e-15);
        for (const u of teacher.U) expect(Math.abs(Math.hypot(...u) - 1)).toBeLessThan(1e-15);
        const f = (x: number[]) => teacher.a.reduce((s, a, i) => s + a * Math.max(0, score(teacher.U[i], x)), 0);
        let data: Dataset;
        try {
          data = reluTeacherData(stream(seed, 'data'), n, d, width, gap);
        } catch (e) {
          // a teacher that scores almost nothing above the gap is refused by name, never relaxed
          expect((e as Error).message).toMatch(/^margin filter too strict/);
          return;
        }
        expectMargin(data, f, gap, JSON.stringify({ seed, n, d, width, gap }));
        checked++;
      }),
      { numRuns: 200 },
    );
    expect(checked, `${checked} of ${runs} draws gave a data set`).toBeGreaterThanOrEqual(0.8 * runs); // measured 199 of 200
  });

  test('sphereTeacherData (C7): unit-norm points, |f(x)| ≥ gap, labelled sign f(x); the n-point set is a prefix of the 2n-point one', () => {
    let checked = 0;
    let runs = 0;
    fc.assert(
      fc.property(setting, fc.integer({ min: 1, max: 5 }), ({ seed, n, d, gap }, width) => {
        runs++;
        const teacher = reluTeacher(stream(seed, 'init'), d, width);
        let small: Dataset;
        let large: Dataset;
        try {
          small = sphereTeacherData(stream(seed, 'data'), teacher, n, gap);
          large = sphereTeacherData(stream(seed, 'data'), teacher, 2 * n, gap);
        } catch (e) {
          expect(e).toBeInstanceOf(RangeError);
          return;
        }
        for (const x of large.X) expect(Math.abs(Math.hypot(...x) - 1)).toBeLessThan(1e-15);
        expectMargin(large, (x) => teacherScore(teacher, x), gap, JSON.stringify({ seed, n, d, width, gap }));
        expect(large.X.slice(0, n)).toEqual(small.X);
        expect(large.y.slice(0, n)).toEqual(small.y);
        checked++;
      }),
      { numRuns: 100 },
    );
    expect(checked, `${checked} of ${runs} draws gave a data set`).toBeGreaterThanOrEqual(0.8 * runs); // measured 94 of 100
  });

  test('withLabelNoise: the clean points unchanged, then `count` distinct ones again with the opposite label', () => {
    fc.assert(
      fc.property(setting, fc.nat(), ({ seed, n, d, gap }, c) => {
        const clean = linearTeacherData(stream(seed, 'data'), n, d, gap);
        const count = c % (n + 1);
        const noisy = withLabelNoise(clean, stream(seed, 'noise'), count);
        expect(noisy.X.slice(0, n)).toEqual(clean.X);
        expect(noisy.y.slice(0, n)).toEqual(clean.y);
        expect(noisy.X).toHaveLength(n + count);
        const flipped = noisy.X.slice(n).map((x) => clean.X.findIndex((c2) => c2.every((v, i) => v === x[i])));
        expect(new Set(flipped).size).toBe(count); // distinct source points
        flipped.forEach((src, k) => {
          expect(src).toBeGreaterThanOrEqual(0);
          expect(noisy.y[n + k]).toBe(-clean.y[src]);
        });
        // every point keeps its distance to the teacher's boundary; exactly `count` disagree with it
        expect(noisy.X.every((x) => Math.abs(score(clean.teacher, x)) >= gap)).toBe(true);
        expect(noisy.y.filter((y, i) => y !== (score(clean.teacher, noisy.X[i]) > 0 ? 1 : -1))).toHaveLength(count);
      }),
      { numRuns: 100 },
    );
  });

  test('withLabelNoise refuses a count that is not a whole number of points it has', () => {
    const clean = linearTeacherData(stream(1, 'data'), 4, 2, 0.1);
    for (const count of [-1, 1.5, 5]) expect(thrown(() => withLabelNoise(clean, stream(1, 'noise'), count))).toBeInstanceOf(InputError);
  });
});

describe('the 0-1 error counts an output of exactly 0 as an error', () => {
  test('lossAndError on margins: q = 0 and −0 are errors, the smallest positive q is not, NaN is', () => {
    expect(lossAndError([0]).error).toBe(1);
    expect(lossAndError([-0]).error).toBe(1);
    expect(lossAndError([Number.MIN_VALUE]).error).toBe(0);
    expect(lossAndError([-Number.MIN_VALUE]).error).toBe(1);
    expect(lossAndError([NaN]).error).toBe(1);
    expect(lossAndError([1, 0, -1, 2]).error).toBe(0.5);
    expect(lossAndError([0]).loss).toBe(Math.LN2); // ℓ(0) = log 2
  });

  test('normalizedLossAndError: a ReLU net whose hidden units are all off at x outputs 0, an error for either label', () => {
    // W₁ = [[1, 0], [0, 1]] is off on x = (−1, −2); on (1, 1) the output is W₂·(1, 1) = 2
    const weights = [[[1, 0], [0, 1]], [[1, 1]]];
    const data = { X: [[-1, -2], [-1, -2], [1, 1]], y: [1, -1, 1] };
    expect(normalizedLossAndError(weights, data, 'relu').error).toBeCloseTo(2 / 3, 15);
    // a zero layer stays zero when normalized: every output is 0, every point an error
    expect(normalizedLossAndError([[[0, 0]]], { X: [[1, 2]], y: [1] }, 'linear').error).toBe(1);
  });
});

describe('SGD batches are uniform samples without replacement', () => {
  /**
   * The rows each step of a Trainer uses, read from the weights: a linear model on the unit
   * vectors x_n = e_n (all labels +1) changes w_n at a step iff row n is in that step's batch
   * (the exp loss gives every row of the batch a nonzero weight).
   */
  function trainerBatches(n: number, batchSize: number, seed: number, steps: number): number[][] {
    const X = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
    const opts: TrainOptions = { model: modelSpec('linear'), loss: 'exp', reduction: 'sum', schedule: 'constant', lr: 0.01, batchSize, seed };
    const trainer = new Trainer({ X, y: new Array(n).fill(1) }, [[new Array(n).fill(0)]], opts);
    const batches: number[][] = [];
    let w = trainer.weights()[0][0];
    for (let t = 0; t < steps; t++) {
      trainer.step();
      const next = trainer.weights()[0][0];
      batches.push(next.flatMap((v, i) => (v !== w[i] ? [i] : [])));
      w = next;
    }
    trainer.dispose();
    return batches;
  }

  test('the Trainer uses exactly the rows sampleWithoutReplacement draws from the run\'s batches stream', () => {
    for (const [n, k, seed] of [[8, 2, 7], [8, 3, 7], [8, 5, 11], [10, 9, 3]]) {
      const rng = stream(seed, 'batches');
      const expected = Array.from({ length: 12 }, () => sampleWithoutReplacement(rng, n, k).sort((a, b) => a - b));
      expect(trainerBatches(n, k, seed, 12), JSON.stringify({ n, k, seed })).toEqual(expected);
    }
  });

  test('the rows for seed 7, n = 8, B = 3 are pinned (stored counterexamples replay SGD runs by seed)', () => {
    const rng = stream(7, 'batches');
    expect(Array.from({ length: 4 }, () => sampleWithoutReplacement(rng, 8, 3))).toEqual(PINNED_SEED7_N8_B3);
  });

  /**
   * Draws `draws` samples of k of n and returns what is wrong with them: a repeated or out-of-range
   * row, or a row (pair of rows) whose inclusion count leaves the Bernstein interval around
   * draws·k/n (draws·k(k−1)/(n(n−1))) at false-alarm rate alpha per cell. For X ~ Bin(M, p),
   * P(|X − Mp| ≥ t) ≤ 2 exp(−t²/(2(Mp(1−p) + t/3))), solved for t.
   */
  function samplingFaults(sample: (rng: Rng, n: number, k: number) => number[], seed: number, n: number, k: number, draws: number, alpha: number): string[] {
    const rng = stream(seed, 'batches');
    const single = new Array<number>(n).fill(0);
    const pair = new Array<number>(n * n).fill(0);
    const faults: string[] = [];
    for (let m = 0; m < draws; m++) {
      const rows = sample(rng, n, k);
      if (rows.length !== k || new Set(rows).size !== k || rows.some((r) => !Number.isInteger(r) || r < 0 || r >= n)) {
        faults.push(`draw ${m}: ${JSON.stringify(rows)} is not ${k} distinct rows of 0..${n - 1}`);
        if (faults.length > 3) return faults;
        continue;
      }
      for (const a of rows) {
        single[a]++;
        for (const b of rows) if (a < b) pair[a * n + b]++;
      }
    }
    const L = Math.log(2 / alpha);
    const check = (count: number, p: number, what: string) => {
      const mean = draws * p;
      const t = L / 3 + Math.sqrt((L / 3) ** 2 + 2 * mean * (1 - p) * L);
      if (Math.abs(count - mean) >= t) faults.push(`${what} drawn ${count} times, expected ${mean.toFixed(0)} ± ${t.toFixed(0)}`);
    };
    single.forEach((c, a) => check(c, k / n, `row ${a}`));
    for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) check(pair[a * n + b], (k * (k - 1)) / (n * (n - 1)), `rows ${a},${b}`);
    return faults;
  }

  // 3 batch sizes × (10 rows + 45 pairs) = 165 cells; a false alarm in any of them with a correct
  // sampler has probability ≤ 1e-6 for each seed the profile gives (the ci profile's is fixed).
  const N = 10;
  const SIZES = [2, 3, 5];
  const DRAWS = 20_000;
  const ALPHA_PER_CELL = 1e-6 / (SIZES.length * (N + (N * (N - 1)) / 2));
  const seed = inject('theory3').seed;

  test(`inclusion frequencies of rows and pairs over ${DRAWS} draws of B = 2, 3, 5 of ${N} (false-alarm rate ≤ 1e-6)`, () => {
    for (const k of SIZES) expect(samplingFaults(sampleWithoutReplacement, seed, N, k, DRAWS, ALPHA_PER_CELL), `B = ${k}`).toEqual([]);
  });

  test('the frequency check catches samplers that are wrong (negative controls)', () => {
    const withReplacement = (rng: Rng, n: number, k: number) => Array.from({ length: k }, () => rng.int(n));
    // the classic off-by-one: j drawn from i..n−2, so the last row is never swapped in
    const offByOne = (rng: Rng, n: number, k: number) => {
      const idx = Array.from({ length: n }, (_, i) => i);
      for (let i = 0; i < k; i++) {
        const j = i + rng.int(n - i - 1);
        [idx[i], idx[j]] = [idx[j], idx[i]];
      }
      return idx.slice(0, k);
    };
    // distinct rows, but row 0 twice as likely as the others: a sampler biased towards a row
    const biased = (rng: Rng, n: number, k: number) => {
      const rows = new Set<number>();
      while (rows.size < k) rows.add(rng.uniform() < 2 / (n + 1) ? 0 : 1 + rng.int(n - 1));
      return [...rows];
    };
    for (const [name, sampler] of [['with replacement', withReplacement], ['off by one', offByOne], ['biased', biased]] as const) {
      const faults = SIZES.flatMap((k) => samplingFaults(sampler, seed, N, k, DRAWS, ALPHA_PER_CELL));
      expect(faults.length, name).toBeGreaterThan(0);
    }
  });
});

// Recorded from sampleWithoutReplacement on stream(7, 'batches') (the same draws as before it moved to rng.ts).
const PINNED_SEED7_N8_B3 = [[1, 0, 7], [7, 6, 1], [3, 0, 7], [6, 2, 3]];
