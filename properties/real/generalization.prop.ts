/**
 * C7 on real images (docs/THEORY.md, real data): the generalization gap of the NORMALIZED network
 * (V_k = W_k/‖W_k‖_F) as the training set grows, and Memo 091's linear relation between the
 * normalized test and train losses across label corruption, on Fashion-MNIST trouser/bag (1,8).
 *
 * Setting: a bias-free ReLU MLP 784 → 64 → 64 → 1 (K = 3, the MLP of nets.prop.ts), images scaled
 * to unit norm (‖x‖ = 1 = B; the sign of a homogeneous net's output does not change, and the
 * normalized margins then lie in [−1, 1], checked on every image: the premise of the bound),
 * exp loss (sum), loss-based steps, stopped at the first L < 1 (every training margin positive).
 * The loss of the claim is the logistic loss of the normalized margin; gap = test − train of its
 * mean, on one fixed test set (the 2 × 1,000 shipped test images).
 *
 * (1) R: C7, N = 250, 1,000, 4,000 (nested: the first N/2 of one random order of each class's
 *     2,000 pool images; 4,000 is the whole pool). A replicate draws that order and the init from
 *     its seed. D = gap(N) − gap(4N) is fed, per replicate, to the betting test of src/stats.ts
 *     (sequentialMeanTest) at ALPHA = 0.001 in total (0.0005 for each of the two pairs of N),
 *     with its a-priori range B_D = 1 + log 2 − ℓ(1) = 1.380 (test loss within [ℓ(1), ℓ(−1)],
 *     train loss within [ℓ(1), log 2] at first fit), as the synthetic C7 does.
 *     The test cannot decide within the budget, and this file says so rather than widen anything:
 *     measured (scratch runs, 2026-12-03) the normalized margins at first fit are ~0.035 (not ~1),
 *     so the gaps are ~1.5–7e-4 and the mean D ≈ 1.1e-4 at both pairs of N (sd 3.2e-4 and
 *     5.8e-5 over 6 replicates); a betting test whose bets are capped at ½/B_D gains at most
 *     ≈ D/(2B_D) ≈ 4e-5 of log-wealth per replicate and needs ≈ ln(1/α)/(D/(2B_D)) ≈ 2·10⁵
 *     replicates (each ~30–60 s: one N = 4,000
 *     training); at 6 replicates it cannot even reach 'fail' (6·log 1.5 < ln(1/α)), so its verdict
 *     is reported, not asserted. What is asserted: the premise on every image, every training
 *     margin positive at first fit (what B_D rests on), every gap under the explicit Rademacher +
 *     Hoeffding bound (non-vacuous at these N: 0.55, 0.31 and 0.19 < 1 at N = 250, 1,000,
 *     4,000; the measured gaps are ~10³× below it, so it only catches gross errors). What is
 *     reported (figures and the gap-against-N plot): mean gaps with 95% t-intervals, mean D and
 *     the rate form gap(N) − 2·gap(4N) with their intervals, the test's verdict and confidence
 *     sequence, and the replicates it would need at the measured effect.
 * (2) N-R: C7 control: the UNnormalized network is not covered — its margins (~ρ·q̄, ρ ≈ 250–500)
 *     leave [−B, B] and the premise check refuses it; its gap (reported: ~0.05 at N = 250, ~0.032
 *     at 1,000 and at 4,000) stops shrinking from N = 1,000 to 4,000.
 * (3) R: Memo 091: 2 × 50 training images (2 tasks: subset and init) with a nested fraction
 *     f ∈ {0, 0.1, …, 0.5} of their labels flipped (the first ⌈f·N⌉ of one shuffle), the clean
 *     test set; every network trained from its task's init to first fit on its noisy labels; a
 *     least-squares line of the normalized test loss against the normalized train loss over all
 *     (task, f): R² and slope. Asserted: slope > 0 and R² ≥ R2_MIN. Measured (2026-12-03): R² =
 *     0.964, slope 1.36 over 12 networks. Control (N-R): the same networks' UNnormalized losses
 *     fail the check (R² 0.259, slope 415): at first fit the raw train loss is < 1/N at every
 *     level and carries no information. Not at 2 × 250: the noisy fits need 250–1,400 loss-based
 *     steps at 2 × 50 already (126 s for the 12 under load), far more at 2 × 250.
 * Fast slices (every profile, 1.0–1.3 s of CPU measured): C7 at N = 20 and 80 (2 × 10, 2 × 40)
 * with 2 × 100 test images, one replicate (premise, positive margins, bound), the control, and
 * Memo 091 on 2 × 10 images at f = 0 and 0.2.
 */
import { describe, expect, test } from 'vitest';
import { logistic, logisticLipschitz, rademacherBound } from '../../src/generalization.js';
import { sampleWithoutReplacement, stream } from '../../src/rng.js';
import { hoeffdingRadius, sequentialMeanTest, type SequentialTest } from '../../src/stats.js';
import { maxMarginSvm } from '../../src/svm.js';
import { reportEvidence, reportFigure, reportGaps, reportImages, reportScatter } from '../store.js';
import { checkedMargins, fitToFirstFit, meanLogistic, mlpMargins, mlpSpec, normalizeParams, rhoOf, unitRows, type Images } from './normalized-net.js';
import { fashionPair, isReal, PAIR_NAMES, progress } from './real-data.js';

const PAIR: [number, number] = [1, 8];
const PAIR_LABEL = `${PAIR_NAMES[PAIR.join(',')]} (${PAIR.join(',')})`;
const CLASS_NAMES: Record<number, string> = { 1: 'trouser', 8: 'bag' };
const WIDTHS = [64, 64];
const DEPTH = WIDTHS.length + 1;
const B = 1;
const ALPHA = 0.001;
const B_D = 1 + Math.LN2 - logistic(1);
const DELTA = 1e-8;
const STEP_CAP = 3000;

interface Scale {
  sizes: number[];
  replicates: number;
  testPerClass: number;
}
const REAL: Scale = { sizes: [250, 1000, 4000], replicates: 6, testPerClass: 1000 };
const FAST: Scale = { sizes: [20, 80], replicates: 1, testPerClass: 100 };

const POOL_PER_CLASS = 2000;
function loadSets(s: Scale) {
  const perClass = Math.max(...s.sizes) / 2;
  const pool = fashionPair(PAIR[0], PAIR[1], perClass);
  const test = fashionPair(PAIR[0], PAIR[1], s.testPerClass, 'test');
  return { pool: { X: unitRows(pool.X), y: pool.y }, test: { X: unitRows(test.X), y: test.y } };
}

/** The nested training sets of replicate r: the first n/2 of one random order of each class. */
function nestedSets(pool: Images, sizes: number[], seed: number): Images[] {
  const rng = stream(seed, 'data');
  const byClass = [-1, 1].map((c) => {
    const idx = pool.y.flatMap((v, i) => (v === c ? [i] : []));
    return sampleWithoutReplacement(rng, idx.length, idx.length).map((i) => idx[i]);
  });
  return sizes.map((n) => {
    const idx = byClass.flatMap((order) => order.slice(0, n / 2));
    return { X: idx.map((i) => pool.X[i]), y: idx.map((i) => pool.y[i]) };
  });
}

/** The explicit bound on one gap at sample size n, with probability ≥ 1 − 2δ (see c7-generalization.prop.ts). */
function gapBound(n: number, nTest: number): number {
  return 2 * logisticLipschitz(B) * rademacherBound(n, DEPTH, B) + hoeffdingRadius(n, B, DELTA) + hoeffdingRadius(nTest, B, DELTA);
}

interface Measured {
  gap: number;
  rawGap: number;
  trainMargins: number[];
  steps: number;
  undone: number;
  params: Float32Array[];
}

function measure(train: Images, test: Images, seed: number, label: string): Measured {
  const fit = fitToFirstFit(mlpSpec(WIDTHS), train, seed, STEP_CAP);
  if (!fit) throw new Error(`${label}: no L < 1 within ${STEP_CAP} steps`);
  const V = normalizeParams(fit.params);
  const trainMargins = checkedMargins(mlpMargins(V, WIDTHS, train), B);
  // L < 1 (sum) puts every training margin above 0: the train loss lies in [ℓ(B), log 2], B_D rests on it
  expect(Math.min(...trainMargins), `${label}: smallest normalized training margin at first fit`).toBeGreaterThan(0);
  const testMargins = checkedMargins(mlpMargins(V, WIDTHS, test), B);
  const rho = rhoOf(fit.params);
  const raw = (q: number[]) => meanLogistic(q.map((v) => v * rho));
  return {
    gap: meanLogistic(testMargins) - meanLogistic(trainMargins),
    rawGap: raw(testMargins) - raw(trainMargins),
    trainMargins, steps: fit.steps, undone: fit.undone, params: fit.params,
  };
}

const fmt = (v: number) => v.toPrecision(3);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => (xs.length < 2 ? NaN : Math.sqrt(xs.reduce((s, v) => s + (v - mean(xs)) ** 2, 0) / (xs.length - 1)));
/** Student t quantile 0.975 for 1–10 degrees of freedom (a 95% interval of a mean of few replicates). */
const T975 = [NaN, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];
const halfWidth = (xs: number[]) => (xs.length < 2 ? NaN : (T975[Math.min(xs.length - 1, 10)] * sd(xs)) / Math.sqrt(xs.length));

/** Replicates a betting test capped at ½/B_D needs at mean effect m: ln(1/α)/(m/(2B_D)) (its best case). */
const replicatesNeeded = (m: number, alpha: number) => Math.ceil(Math.log(1 / alpha) / (m / (2 * B_D)));

function gapExperiment(s: Scale) {
  const { pool, test } = loadSets(s);
  const nTest = test.y.length;
  const alpha = ALPHA / (s.sizes.length - 1);
  const tests: SequentialTest[] = s.sizes.slice(1).map(() => sequentialMeanTest({ alpha, bound: B_D, maxSamples: s.replicates }));
  const gaps: number[][] = s.sizes.map(() => []);
  const rawGaps: number[][] = s.sizes.map(() => []);
  let first: Measured | null = null;
  let firstSet: Images | null = null;
  const tick = progress(`C7 gap, ${PAIR_LABEL}, N = ${s.sizes.join(', ')}: trainings`, s.replicates * s.sizes.length);
  let done = 0;
  for (let r = 0; r < s.replicates; r++) {
    const seed = 1 + r;
    const sets = nestedSets(pool, s.sizes, seed);
    const row = sets.map((train, j) => {
      const m = measure(train, test, seed, `replicate ${r}, N = ${s.sizes[j]}`);
      tick(++done);
      const bound = gapBound(s.sizes[j], nTest);
      expect(m.gap, `replicate ${r}: gap at N = ${s.sizes[j]} under the Rademacher + Hoeffding bound`).toBeLessThanOrEqual(bound);
      gaps[j].push(m.gap);
      rawGaps[j].push(m.rawGap);
      return m;
    });
    row.slice(1).forEach((m, j) => tests[j].observe(row[j].gap - m.gap));
    if (r === 0) {
      first = row.at(-1)!;
      firstSet = sets.at(-1)!;
    }
    console.log(`real C7 replicate ${r}: ${row.map((m, j) => `N = ${s.sizes[j]}: gap ${m.gap.toExponential(3)} (raw ${fmt(m.rawGap)}), first fit at step ${m.steps} (${m.undone} undone)`).join('; ')}`);
  }
  return { gaps, rawGaps, tests, alpha, nTest, first: first!, firstSet: firstSet!, pool, test };
}

/** The k training images of smallest normalized margin, for the report. */
function supportImages(m: Measured, set: Images, k: number) {
  const order = m.trainMargins.map((q, i) => [q, i] as const).sort((a, b) => a[0] - b[0]).slice(0, k);
  return order.map(([q, i]) => ({ pixels: set.X[i], caption: `${CLASS_NAMES[set.y[i] < 0 ? PAIR[0] : PAIR[1]]}, q̄ = ${q.toExponential(2)}` }));
}

function reportGapExperiment(e: ReturnType<typeof gapExperiment>, s: Scale) {
  const points = s.sizes.flatMap((n, j) => {
    const h = halfWidth(e.gaps[j]);
    const g = mean(e.gaps[j]);
    return [{ n, gap: g, which: 'normalized loss gap', replicates: e.gaps[j].length, bound: gapBound(n, e.nTest), ...(Number.isFinite(h) ? { lower: g - h, upper: g + h } : {}) }];
  });
  reportGaps(`R-C7-${PAIR.join('-')}`, points);
  reportEvidence({ replicates: s.replicates });
  s.sizes.forEach((n, j) => {
    reportFigure({ name: `C7 ${PAIR_LABEL}: mean normalized loss gap at N = ${n} (± ${fmt(halfWidth(e.gaps[j]))}, 95%, ${s.replicates} replicates)`, value: mean(e.gaps[j]), predicted: `≤ ${fmt(gapBound(n, e.nTest))} (Rademacher + Hoeffding)` });
    reportFigure({ name: `C7 ${PAIR_LABEL}: mean UNnormalized loss gap at N = ${n} (control, not covered)`, value: mean(e.rawGaps[j]), predicted: 'no bound' });
  });
  s.sizes.slice(1).forEach((n4, j) => {
    const n = s.sizes[j];
    const d = e.gaps[j].map((g, i) => g - e.gaps[j + 1][i]);
    const rate = e.gaps[j].map((g, i) => g - 2 * e.gaps[j + 1][i]);
    const t = e.tests[j];
    const line = `C7 ${PAIR_LABEL}: gap(${n}) − gap(${n4}) = ${d.map((v) => v.toExponential(2)).join(', ')}; mean ${mean(d).toExponential(3)} ± ${halfWidth(d).toExponential(2)} (sd ${sd(d).toExponential(2)}); ` +
      `rate form gap(${n}) − 2·gap(${n4}) mean ${mean(rate).toExponential(3)} ± ${halfWidth(rate).toExponential(2)}; betting test at α = ${e.alpha}: ${t.verdict} after ${t.n}, CS [${fmt(t.lower)}, ${fmt(t.upper)}]; ` +
      `at this effect it needs ≳ ${mean(d) > 0 ? replicatesNeeded(mean(d), e.alpha).toLocaleString('en') : '∞'} replicates`;
    console.log(line);
    reportFigure({ name: `C7 ${PAIR_LABEL}: mean gap(${n}) − gap(${n4}) (± ${halfWidth(d).toExponential(2)}, 95%; betting test at α = ${e.alpha}: ${t.verdict} after ${t.n}; needs ≳ ${mean(d) > 0 ? replicatesNeeded(mean(d), e.alpha).toLocaleString('en') : '∞'})`, value: mean(d), predicted: '> 0' });
    reportFigure({ name: `C7 ${PAIR_LABEL}: mean rate form gap(${n}) − 2·gap(${n4}) (± ${halfWidth(rate).toExponential(2)}, 95%)`, value: mean(rate), predicted: '> 0 for an O(1/√N) gap' });
  });
}

/** Labels with a nested fraction flipped: the first ⌈f·N⌉ of one shuffle of the set. */
function corrupted(y: number[], fractions: number[], seed: number): number[][] {
  const order = sampleWithoutReplacement(stream(seed, 'noise'), y.length, y.length);
  return fractions.map((f) => {
    const flipped = new Set(order.slice(0, Math.ceil(f * y.length)));
    return y.map((v, i) => (flipped.has(i) ? -v : v));
  });
}

/** Least squares y = a + b·x and its R². */
function lineFit(pts: { x: number; y: number }[]): { a: number; b: number; r2: number } {
  const mx = mean(pts.map((p) => p.x));
  const my = mean(pts.map((p) => p.y));
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const p of pts) {
    sxx += (p.x - mx) ** 2;
    sxy += (p.x - mx) * (p.y - my);
    syy += (p.y - my) ** 2;
  }
  const b = sxy / sxx;
  return { a: my - b * mx, b, r2: (sxy * sxy) / (sxx * syy) };
}

interface Memo091Scale {
  perClass: number;
  fractions: number[];
  tasks: number;
  testPerClass: number;
}
const MEMO_REAL: Memo091Scale = { perClass: 50, fractions: [0, 0.1, 0.2, 0.3, 0.4, 0.5], tasks: 2, testPerClass: 1000 };
const MEMO_FAST: Memo091Scale = { perClass: 10, fractions: [0, 0.2], tasks: 1, testPerClass: 100 };
/**
 * The memo's relation is "close to linear": R² ≥ 0.8 is the threshold this check holds it to
 * (measured 0.964; the synthetic exploratory version asserts only a within-task 0.2).
 */
const R2_MIN = 0.8;

function memo091(s: Memo091Scale) {
  const { pool, test } = loadSets({ sizes: [Math.min(POOL_PER_CLASS, 4 * s.perClass) * 2], replicates: 1, testPerClass: s.testPerClass });
  const pts: { x: number; y: number; series: string }[] = [];
  const raw: { x: number; y: number }[] = [];
  const tick = progress(`Memo 091, ${PAIR_LABEL}, 2×${s.perClass}: trainings`, s.tasks * s.fractions.length);
  let done = 0;
  for (let t = 0; t < s.tasks; t++) {
    const seed = 101 + t;
    const [train] = nestedSets(pool, [2 * s.perClass], seed);
    corrupted(train.y, s.fractions, seed).forEach((y, j) => {
      const noisy = { X: train.X, y };
      const fit = fitToFirstFit(mlpSpec(WIDTHS), noisy, seed, STEP_CAP);
      tick(++done);
      if (!fit) throw new Error(`Memo 091: task ${t}, ${s.fractions[j] * 100}% corrupted: no L < 1 within ${STEP_CAP} steps`);
      const V = normalizeParams(fit.params);
      const qTrain = checkedMargins(mlpMargins(V, WIDTHS, noisy), B);
      const x = meanLogistic(qTrain);
      const qTest = checkedMargins(mlpMargins(V, WIDTHS, test), B);
      const yTest = meanLogistic(qTest);
      const rho = rhoOf(fit.params);
      raw.push({ x: meanLogistic(qTrain.map((v) => v * rho)), y: meanLogistic(qTest.map((v) => v * rho)) });
      pts.push({ x, y: yTest, series: `${Math.round(s.fractions[j] * 100)}% labels flipped` });
      console.log(`real Memo 091 task ${t}, ${fmt(s.fractions[j] * 100)}% flipped: fit at step ${fit.steps} (${fit.undone} undone), normalized train loss ${x.toFixed(6)}, test loss ${yTest.toFixed(6)}`);
    });
  }
  return { pts, fit: lineFit(pts), rawFit: lineFit(raw) };
}

describe('real data, C7: the normalized network generalizes better with more images', () => {
  let fast: ReturnType<typeof gapExperiment> | null = null;
  const fastRun = () => (fast ??= gapExperiment(FAST));

  test(`R: C7 fast slice, ${PAIR_LABEL}, N = ${FAST.sizes.join(' and ')}, one replicate: normalized margins in [−B, B], gaps under the bound, the decrease reported`, () => {
    reportGapExperiment(fastRun(), FAST);
  });

  test('N-R: C7 the UNnormalized network leaves [−B, B]: the premise of the bound refuses it (fast slice)', () => {
    // the fast slice's network at N = 80 (trained again only when this test runs alone)
    const { first, test } = fastRun();
    const raw = mlpMargins(first.params, WIDTHS, test);
    console.log(`real N-C7: ρ = ${fmt(rhoOf(first.params))}, raw margins up to ${fmt(Math.max(...raw.map(Math.abs)))} on the test images`);
    expect(() => checkedMargins(raw, B)).toThrow(/not normalized/);
    // the same network normalized passes
    expect(() => checkedMargins(mlpMargins(normalizeParams(first.params), WIDTHS, test), B)).not.toThrow();
  });

  test.runIf(isReal())(`R: C7 ${PAIR_LABEL}, N = ${REAL.sizes.join(', ')} nested, ${REAL.replicates} replicates (subset order and init), MLP 64-64 at first fit: every training margin positive, gaps under the bound; the decrease and the betting test at α = ${ALPHA} reported; support-vector images`, () => {
    const started = Date.now();
    const e = gapExperiment(REAL);
    reportGapExperiment(e, REAL);
    reportImages(`R-C7-sv-net`, `the 8 training images of smallest normalized margin, MLP 64-64 at first fit on N = ${REAL.sizes.at(-1)} (replicate 0)`, supportImages(e.first, e.firstSet, 8));
    // the linear SVM on the smallest nested set of replicate 0 (quadprog; seconds at N = 250)
    const [small] = nestedSets(e.pool, [REAL.sizes[0]], 1);
    const svm = maxMarginSvm(small.X, small.y);
    const sv = [...svm.support].sort((a, b) => svm.alpha[b] - svm.alpha[a]).slice(0, 8);
    reportImages('R-C7-sv-svm', `support vectors of the linear hard-margin SVM on N = ${REAL.sizes[0]} (replicate 0), largest multipliers first (${svm.support.length} in all, γ* = ${fmt(svm.gamma)})`,
      sv.map((i) => ({ pixels: small.X[i], caption: `${CLASS_NAMES[small.y[i] < 0 ? PAIR[0] : PAIR[1]]}, α = ${fmt(svm.alpha[i])}` })));
    console.log(`real C7: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }, 900_000);
});

describe('real data, Memo 091: normalized test loss against normalized train loss across label corruption', () => {
  test(`R: Memo 091 fast slice, ${PAIR_LABEL}, 2×${MEMO_FAST.perClass} images at ${MEMO_FAST.fractions.map((f) => `${f * 100}%`).join(', ')} flipped: the test loss rises with the train loss`, () => {
    const { pts, fit } = memo091(MEMO_FAST);
    console.log(`real Memo 091 fast: slope ${fmt(fit.b)}, R² ${fmt(fit.r2)} over ${pts.length} networks`);
    expect(fit.b).toBeGreaterThan(0);
  });

  // the real run's networks, shared by the claim and its control (the control trains them only when run alone)
  let realRun: ReturnType<typeof memo091> | null = null;
  const realMemo = () => (realRun ??= memo091(MEMO_REAL));

  test.runIf(isReal())(`R: Memo 091 ${PAIR_LABEL}, 2×${MEMO_REAL.perClass} images, ${MEMO_REAL.tasks} tasks × ${MEMO_REAL.fractions.length} corruption levels 0–50%: test ≈ a + b·train with R² ≥ ${R2_MIN}`, () => {
    const { pts, fit, rawFit } = realMemo();
    console.log(`real Memo 091: test ≈ ${fmt(fit.a)} + ${fmt(fit.b)}·train, R² = ${fmt(fit.r2)} over ${pts.length} networks; the UNnormalized losses: slope ${fmt(rawFit.b)}, R² ${fmt(rawFit.r2)}`);
    reportFigure({ name: `Memo 091 ${PAIR_LABEL}: R² of the UNnormalized test loss on the UNnormalized train loss (slope ${fmt(rawFit.b)}; not claimed)`, value: rawFit.r2, predicted: 'no relation claimed' });
    reportScatter('R-memo091', {
      title: 'Memo 091: normalized test loss against normalized train loss',
      xTitle: 'normalized train loss (noisy labels)', yTitle: 'normalized test loss (clean labels)', points: pts,
    });
    reportFigure({ name: `Memo 091 ${PAIR_LABEL}: R² of test loss on train loss (slope ${fmt(fit.b)}, ${pts.length} networks)`, value: fit.r2, predicted: `≥ ${R2_MIN}` });
    expect(fit.b).toBeGreaterThan(0);
    expect(fit.r2).toBeGreaterThanOrEqual(R2_MIN);
  }, 900_000);

  test.runIf(isReal())(`N-R: Memo 091 the same networks' UNnormalized losses are not close to linear (R² < ${R2_MIN})`, () => {
    // At first fit every unnormalized train margin is > 0 and the sum exp loss < 1, so the raw train
    // loss is below 1/N at every corruption level and says nothing about the test loss (measured R² 0.259).
    const { rawFit } = realMemo();
    console.log(`real N-Memo 091: unnormalized test loss on unnormalized train loss: slope ${fmt(rawFit.b)}, R² ${fmt(rawFit.r2)}`);
    expect(rawFit.r2).toBeLessThan(R2_MIN);
  }, 900_000);
});
