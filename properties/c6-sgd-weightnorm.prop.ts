/**
 * C6 — SGD and weight normalization (docs/THEORY.md C6).
 *
 * SGD (Nacson, Srebro & Soudry 2019, "Stochastic gradient descent on separable data: exact
 * convergence with a fixed learning rate"): minibatch SGD with a fixed small step on the exp loss
 * of a linear model turns w/‖w‖ to the hard-margin SVM direction ŵ/‖ŵ‖, as GD does, with
 * w(t) = ŵ log t + O(1): ‖w‖ grows like ‖ŵ‖ log t and the direction error is O(1/log t).
 * Setting: linearGapData (exact SVM, every non-support point ≥ 1 SVM unit beyond the margin),
 * w₀ = 0, mean exp loss, batches of 1–3 points (at most N − 1) from the seeded `batches` stream,
 * η = s/max‖x‖² with s ∈ [0.5, 1] (a one-point step then moves its own margin by ≤ e^{−q}), and
 * T = 10,000 steps, i.e. log t ≈ 5–7: the regime where the approach is still visibly O(1/log t).
 * Checked at the end of each run. "Measured" is a float64 replica of these runs (same batches, same
 * arbitrary, 1,500 cases drawn by fast-check; 2,500 more sets in an earlier scan agree); each test
 * prints its own worst run:
 *   growth     the slope of ‖w‖ in log t over the last decade of steps is ≥ 0.2‖ŵ‖ (theory: → ‖ŵ‖;
 *              measured ≥ 0.33‖ŵ‖; a converging ‖w‖ — squared loss — gives |slope| ≤ 0.12‖ŵ‖);
 *   margin     the smoothed-margin deficit γ* − γ̃, γ̃ = −log Σe^{−q}/‖w‖, shrinks from step T/100
 *              to T by at least 0.6× (measured ≤ 0.48×; the squared loss: ≥ 0.69×). Since γ̃ ≤ γ̄ ≤
 *              γ* and ŵ is the unique max-margin direction, sin ∠(w, ŵ) ≤ √(1 − (γ̃/γ*)²): this is
 *              the direction converging, in the quantity that does so monotonically;
 *   angle      the angle to ŵ at T is at most the largest
 *              angle recorded in the first tenth of the run (log t up to ~75% of its final value)
 *              plus 0.02 rad. Typically it is ~10× smaller (median ratio 0.09), but it is not
 *              monotone: when the support vectors' SVM multipliers differ by ~10×, the O(1) offset
 *              of w(t) − ŵ log t is large and still building up, and the angle rises through the
 *              whole budget. The worst such set (fast-check draws it often: data seed 18, 2 points
 *              in 2-d, multipliers 2.9 and 0.28) goes from 0.011 at step 8 to 0.125 at step 10⁴
 *              and 0.126 at 10⁵ before it turns: overshoot 0.0084 rad, the largest measured;
 *              A cap of 0.45 rad on the end angle was dropped: a fixed threshold on a quantity that
 *              converges only in the limit, it failed a flake audit at 0.487 (5 points in 2-d, data
 *              seed 198764, batch 1, lr scale 0.5), and at log t ≈ 6–9 no C/log t bound holds (the
 *              part of w off ŵ grew up to 389× from T/100 to T over 80 measured runs);
 *   vs GD      the SGD angle at T is within 0.05 rad of full-batch float64 GD's from the same start
 *              with the same η (measured ≤ 0.031, median 0.0013): SGD follows GD's path.
 * Weight normalization (memo; Salimans & Kingma 2016): W_k = g_k v_k/‖v_k‖ and GD on (g, v)
 * (src/weightnorm.ts, tfjs autodiff through the normalization).
 *   (i)   ∂L/∂g_k = ⟨∇_{W_k}L, V_k⟩ (V_k = v_k/‖v_k‖), so with g_k = ρ_k = ‖W_k‖ the scale follows
 *         ρ_k's flow: ġ_k = −⟨∇_{W_k}L, W_k⟩/ρ_k = ρ̇_k. Checked at every step of a WN run against
 *         the Euler form g_k ∂L/∂g_k = Σ_n ∂L/∂q_n q_n (float64 from the margins), and at the
 *         first and last step against plain GD's ∇_W L (src/train.ts Trainer.gradient) at the same
 *         weights. Tolerance 1e-4·|ref| + 64u·S, S = Σ_n |∂L/∂q_n|·(|W_K|⋯|W_1||x_n|)/|g_k| (every
 *         partial sum of the float32 forward and backward passes is bounded by S; 1e-4 relative is
 *         ~50× the rounding of log L and e^{log L}); measured ≤ 2.1% of it (80 cases).
 *   (ii)  ∇_v L ⊥ v, so one step gives ‖v⁺‖² = ‖v‖² + η²‖∇_v L‖² exactly. In float32 two things
 *         separate the sides: v⁺ is rounded once per entry, which moves ‖v⁺‖² by at most
 *         2u(1+u)/(1−u)²·‖v⁺‖² (rigorous: |fl(x)² − x²| ≤ u|x|(2+u)|x|), and the float32
 *         projection leaves ⟨v, ∇_v L⟩ ≠ 0, which enters as 2η|⟨v, ∇_v L⟩|; it is allowed
 *         2η(m + 8)u·√(g²(∂L/∂g)² + ‖v‖²‖∇_v L‖²) (m = entries of v_k, the longest sum in the
 *         projection; the root is |g|·‖∇_W L‖). Measured over 900 cases: the error is ≤ 92% of the
 *         bound, all of it the rounding of v⁺ (it nears its worst case when v_k has 2–4 entries);
 *         the projection term uses ≤ 1% of its allowance. The step is η = s/curvatureScale, s ∈
 *         [0.1, 1], and the η² term is ≥ 10× the bound in ≥ 10% of the checks of a test (measured:
 *         ≥ 13% for any 4 cases, ~60% typically), so the check says more than "‖v‖ is conserved".
 *         Negative controls: weight decay on v (a first-order −2ηλ‖v‖²) and stepping v along
 *         ∇_W L instead of ∇_v L (first-order −2η⟨v, ∇_W L⟩ = −2η(‖v‖/g)Σ_n ∂L/∂q_n q_n) break it
 *         by 10³–10⁶ × the bound.
 *   (iii) same stationary points, so the same limit direction: on deep linear nets (K = 2), 300 WN
 *         steps with η = s/max‖x‖², s ∈ [1, 1.5], from the same network as plain GD (g_k = ‖W_k‖,
 *         ‖v_k‖ = WN_V_NORM = 2: see below). Asserted from the first step with L < 1 (fc.pre:
 *         reached within the first half of the run): the end-to-end predictor β = W_2W_1 stays
 *         within asin √(1 − (γ̃_ρ/γ*)²) of the SVM direction, and that bound is smaller at the end
 *         than at L < 1 (src/checks.ts deepDirectionFailure, the same check as C5's deep linear
 *         nets). The bound is rigorous for any weights (ŵ is the minimum-norm feasible point);
 *         what WN must do is grow its per-layer smoothed margin γ̃_ρ = −log L/ρ: WN changes only
 *         the tangential speed of each layer (by g_k²/‖v_k‖²), and Lyu & Li's monotonicity argument
 *         uses the radial part alone. This replaces "WN's normalized margin ≥ 80% of plain GD's
 *         after 300 steps", a fixed threshold on a finite-t ratio that a flake audit failed (seed
 *         492469559: 57% on 7 points in 3-d, init scale 0.5, where WN's small g_k slow its turn by
 *         (g_k/‖v_k‖)²); the ratio is still printed. Like C5's deep-linear check, this one cannot
 *         tell the SVM from a direction 0.05 rad off at these ρ (the bound is ~0.1–0.4 rad); it
 *         fails on γ* halved (tried). Why ‖v_k‖ = 2 and not
 *         v_k = W_k: the direction of W_k moves g_k²/‖v_k‖² times as fast as under plain GD, ‖v_k‖
 *         stays put while g_k grows like ρ_k (×3–6 in 300 steps from a small init), and
 *         constant-step WN then passes its stability limit: runs from v_k = W_k, and from 1.5·W_k,
 *         spiked (‖v_k‖ jumped ×20, freezing a bad direction) or diverged, even at s = 0.25–0.5; from
 *         ‖v_k‖ = 3 the direction starts nearly frozen and 2 of 100 runs had not fitted at s ≤ 1;
 *         ‖v_k‖ = 2 with s ≥ 1 had neither in 400 runs. Precondition: η·curvatureScale ≤ 10
 *         (common.ts), i.e. the init is not badly misfit: from e^{−q} ≫ 1 plain GD with this constant
 *         step diverged (from η·curvatureScale = 19.6 up, 6 of 400 draws); ~11% of draws are skipped
 *         (the test prints the count). (A flow-schedule run of plain GD, printed for reference until
 *         2026-12-03, was dropped to save its 300 steps per case: WN was typically within 5–20% of
 *         its margin, as a constant step only gains O(1/log t).)
 * Exploratory (the memo's conjecture that SGD's stationary points are mostly convex minima of the
 * normalized network): after 3,000 SGD steps (η = 0.5/max‖x‖², batches of 1–2) on a width-2–3 ReLU
 * net that fits its data, the Riemannian Hessian of F(V) = L(ρ_1V_1, …, ρ_KV_K) on the product of
 * unit spheres (ρ_k held), by float64 central differences, has λ_min ≥ −0.1·max|λ|; the spectra
 * are printed. Measured on ~35 fitted runs: λ_min/max|λ| ≥ −0.047, ≥ −0.01 in most, ≥ 0 in about
 * half (the Riemannian gradient is not yet 0 there: these are ends of runs, not certified
 * stationary points). Runs that stay on a dead-ReLU plateau are skipped through fc.pre (about a
 * third; they used to be skipped by a return that counted as a pass), as are badly misfit inits
 * (the precondition of (iii)). Asserted for a majority of 5 fitted runs, as the conjecture says
 * "most": once plateau runs no longer counted, a fresh-seed flake audit found fitted runs with
 * λ_min/max|λ| = −0.155 (2 of 20 audit runs had one).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Dataset } from '../src/data.js';
import type { LossKind, LossSpec } from '../src/loss.js';
import { angle, dot, endToEnd, logLoss, logSumExp, margins, outputs, sumSquares } from '../src/measure.js';
import { initWeights, modelSpec, type ModelKind, type ModelSpec, type Weights } from '../src/model.js';
import { stream } from '../src/rng.js';
import { Trainer, train, type TrainRecord } from '../src/train.js';
import { WeightNormTrainer, weightNormOf, type WeightNormOptions } from '../src/weightnorm.js';
import { buildExperiment, curvatureScale, expectChecked, expTypeLossArb, geometricSteps, gridReal, linearGapArb, linearGapData, maxRowNormSq, reductionArb, runs, settingArb, U32 } from './common.js';
import { deepDirectionFailure, symmetricEigenvalues } from '../src/checks.js';
import { assertProperty, checkProperty, reportTrajectory } from './store.js';

// ---------------------------------------------------------------------------------------------
// SGD on a linear model

const T = 10_000;
const SGD_SLOPE = 0.2; // × ‖ŵ‖
const SGD_DEFICIT = 0.6;
const SGD_VS_GD = 0.05;
/** The end angle may exceed the largest angle of the first tenth of the run by this much (rad). */
const SGD_OVERSHOOT = 0.02;
/** float32 weights resolve an angle or a margin to ~1e-7 relative: below this, "equal". */
const FLOOR = 1e-5;

const sgdCaseArb = fc.record({ data: linearGapArb, batch: fc.integer({ min: 1, max: 3 }), lrScale: gridReal(0.5, 1) });
type SgdCase = typeof sgdCaseArb extends fc.Arbitrary<infer C> ? C : never;

/** Full-batch GD on the mean loss in float64 from w = 0: the angle to ŵ after `steps` steps. */
function gdAngle64(data: Dataset, eta: number, steps: number, wHat: number[]): number {
  const Z = data.X.map((x, n) => x.map((v) => v * data.y[n]));
  let w = new Array<number>(Z[0].length).fill(0);
  for (let k = 0; k < steps; k++) {
    const g = new Array<number>(w.length).fill(0);
    for (const z of Z) {
      const e = Math.exp(-dot(z, w)) / Z.length;
      z.forEach((v, i) => (g[i] += e * v));
    }
    w = w.map((v, i) => v + eta * g[i]);
  }
  return angle(w, wHat);
}

function sgdRun(c: SgdCase, loss: LossKind) {
  const { data, svm } = linearGapData(c.data);
  const N = data.X.length;
  // the squared loss has curvature 2‖x‖²: half the step keeps it as stable as the exp loss
  const eta = (loss === 'squared' ? 0.5 : 1) * c.lrScale / maxRowNormSq(data.X);
  const { records } = train(data, [[new Array(c.data.d).fill(0)]], {
    model: modelSpec('linear'), loss, reduction: 'mean', schedule: 'constant', lr: eta,
    batchSize: Math.max(1, Math.min(c.batch, N - 1)), seed: c.data.seed,
  }, {
    steps: T, record: [...geometricSteps(T, 1.5), T / 100, T / 10],
    annotate: (w, rec) => { rec.angleToSvm = angle(w[0][0], svm.w); },
  });
  return { records, svm, data, eta };
}

interface SgdStats { slope: number; deficit: number; angle: number; earlyAngle: number }

function sgdStats(records: TrainRecord[], gammaStar: number): SgdStats {
  const at = (step: number) => records.find((r) => r.step === step)!;
  const [end, tenth, hundredth] = [at(T), at(T / 10), at(T / 100)];
  const ang = (r: TrainRecord) => r.angleToSvm as number;
  return {
    slope: ((end.norm - tenth.norm) / (end.logFlowTime - tenth.logFlowTime)) * gammaStar,
    deficit: (gammaStar - end.smoothedMargin) / Math.max(gammaStar - hundredth.smoothedMargin, FLOOR * gammaStar),
    angle: ang(end),
    earlyAngle: Math.max(...records.filter((r) => r.step > 0 && r.step <= T / 10).map(ang)),
  };
}

/** The direction checks (the squared-loss control must fail them); null when they hold. */
function directionFailure(s: SgdStats): string | null {
  if (s.deficit > SGD_DEFICIT) return `smoothed-margin deficit shrank only to ${s.deficit} of its value at step ${T / 100} (need ≤ ${SGD_DEFICIT})`;
  if (s.angle > s.earlyAngle + SGD_OVERSHOOT) return `angle ${s.angle} at step ${T} above every angle of the first tenth (max ${s.earlyAngle}) by more than ${SGD_OVERSHOOT}`;
  return null;
}

describe('C6: minibatch SGD on a linear model turns to the SVM direction', () => {
  test('C6: minibatch SGD with a fixed small step turns a linear model to the SVM direction and ρ grows', () => {
    const worst = { slope: Infinity, deficit: 0, angle: 0, overshoot: -Infinity, vsGd: 0 };
    const ratios: number[] = [];
    let checked = 0;
    assertProperty({
      id: 'C6-sgd-direction',
      arb: sgdCaseArb,
      predicate: (c) => {
        const { records, svm, data, eta } = sgdRun(c, 'exp');
        checked++;
        reportTrajectory('C6-sgd', records, { gammaStar: svm.gamma });
        const s = sgdStats(records, svm.gamma);
        const vsGd = Math.abs(s.angle - gdAngle64(data, eta, T, svm.w));
        Object.assign(worst, {
          slope: Math.min(worst.slope, s.slope), deficit: Math.max(worst.deficit, s.deficit), angle: Math.max(worst.angle, s.angle),
          overshoot: Math.max(worst.overshoot, s.angle - s.earlyAngle), vsGd: Math.max(worst.vsGd, vsGd),
        });
        ratios.push(s.angle / Math.max(s.earlyAngle, FLOOR));
        expect(s.slope, 'slope of ‖w‖ in log t over the last decade, in units of ‖ŵ‖').toBeGreaterThanOrEqual(SGD_SLOPE);
        expect(directionFailure(s)).toBeNull();
        expect(vsGd, '|SGD angle − GD angle| at the end').toBeLessThanOrEqual(SGD_VS_GD);
      },
      params: { numRuns: runs(3) },
    });
    console.log(`C6 SGD worst run: slope ${worst.slope.toFixed(3)}‖ŵ‖ (≥ ${SGD_SLOPE}), deficit ratio ${worst.deficit.toFixed(3)} (≤ ${SGD_DEFICIT}), ` +
      `angle ${worst.angle.toFixed(3)} (not asserted), angle − largest early angle ${worst.overshoot.toFixed(4)} (≤ ${SGD_OVERSHOOT}; median end/early ratio ` +
      `${ratios.sort((a, b) => a - b)[ratios.length >> 1].toFixed(3)}), |SGD − GD| ${worst.vsGd.toFixed(4)} (≤ ${SGD_VS_GD})`);
    expectChecked('C6 SGD', checked, runs(3));
  });
});

describe('N-C6: the squared loss with SGD does not turn to the SVM', () => {
  test('N-C6: SGD on the squared loss ends away from the SVM direction (N ≥ d + 2)', () => {
    const arb = fc.limitShrink(sgdCaseArb.filter((c) => linearGapData(c.data).data.X.length >= c.data.d + 2), 2);
    const result = checkProperty({
      id: 'N-C6-sgd-squared',
      arb,
      predicate: (c) => {
        const { records, svm } = sgdRun(c, 'squared');
        return directionFailure(sgdStats(records, svm.gamma)) === null;
      },
      params: { numRuns: runs(3) },
    });
    expect(result.failed).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Weight normalization

const wnCaseArb = fc.record({
  // d ≥ 2: in 1-d the ReLU teacher of src/data.ts cannot meet the margin filter for ~1% of seeds (InputError)
  setting: settingArb({ kinds: ['linear', 'deep-linear', 'relu'], depth: [2, 3], width: [1, 4], n: [2, 8], d: [2, 4], initScale: [0.5, 2] }),
  loss: expTypeLossArb,
  reduction: reductionArb,
  lrScale: gridReal(0.1, 1),
});
type WnCase = typeof wnCaseArb extends fc.Arbitrary<infer C> ? C : never;

/** Data, a Gaussian init (also for the linear model: v = 0 has no direction) and the WN options. */
function wnExperiment(c: WnCase, controls: Partial<WeightNormOptions> = {}) {
  const { spec, data } = buildExperiment(c.setting);
  const init = initWeights(spec, c.setting.d, 'gaussian', c.setting.initScale, stream(c.setting.seed, 'init'));
  // a step the loss curvature at init allows (common.ts): an exp-loss step from a badly misfit init would overflow
  const opts: WeightNormOptions = { model: spec, loss: c.loss, reduction: c.reduction, lr: c.lrScale / curvatureScale(data, init, spec.kind, c.loss, c.reduction), ...controls };
  return { spec, data, init, opts };
}

/** ∂L/∂q_n in float64 (L the configured objective). */
function lossSlopes(q: number[], spec: LossSpec): number[] {
  const scale = spec.reduction === 'mean' ? 1 / q.length : 1;
  return q.map((v) => -scale * (spec.loss === 'exp' ? Math.exp(-v) : 1 / (1 + Math.exp(v))));
}

/** Σ_n ∂L/∂q_n q_n (= ⟨∇_{W_k}L, W_k⟩ for every k, Euler) and its absolute scale Σ|∂L/∂q_n|·|W_K|⋯|W_1||x_n|. */
function eulerTerm(W: Weights, data: Dataset, kind: ModelKind, spec: LossSpec): { value: number; scale: number } {
  const q = margins(W, data, kind);
  const s = lossSlopes(q, spec);
  const abs = outputs(W.map((M) => M.map((r) => r.map(Math.abs))), data.X.map((x) => x.map(Math.abs)), 'linear');
  return { value: q.reduce((a, v, n) => a + s[n] * v, 0), scale: abs.reduce((a, v, n) => a + Math.abs(s[n]) * v, 0) };
}

const G_REL = 1e-4;
const G_ABS = 64;

/**
 * ⟨∇_{W_k}L, V_k⟩ = ⟨∇_{W_k}L, W_k⟩/g_k (V_k = v_k/‖v_k‖ = W_k/g_k, either sign of g_k) from plain
 * GD's gradient (src/train.ts) at the given weights.
 */
function plainGradAlong(data: Dataset, W: Weights, g: number[], spec: ModelSpec, loss: LossSpec): number[] {
  const t = new Trainer(data, W, { model: spec, ...loss, schedule: 'constant', lr: 1 });
  try {
    const { grads } = t.gradient();
    return grads.map((G, k) => dot(G.flat(), W[k].flat()) / g[k]);
  } finally {
    t.dispose();
  }
}

/** The (ii) identity at one step, per layer: observed ‖v⁺‖² − ‖v‖², predicted η²‖∇_v L‖², and the float32 bound. */
function vNormChecks(v: Weights, v1: Weights, g: number[], gradG: number[], gradVNormSq: number[], eta: number) {
  return v.map((V, k) => {
    const before = sumSquares(V);
    const after = sumSquares(v1[k]);
    const m = V.length * V[0].length;
    const tol = (2 * U32 * (1 + U32)) / (1 - U32) ** 2 * after + 2 * eta * (m + 8) * U32 * Math.sqrt(g[k] ** 2 * gradG[k] ** 2 + before * gradVNormSq[k]);
    return { observed: after - before, predicted: eta * eta * gradVNormSq[k], tol };
  });
}

const WN_STEPS = 30;
const WN_MARGIN_STEPS = 300;
/** (iii) starts from g_k = ‖W_k‖ and v_k = 2·W_k/‖W_k‖: the same network; see the header. */
const WN_V_NORM = 2;
/** (iii) skips inits where η·curvatureScale (common.ts) exceeds this: plain GD diverged from 19.6 up. */
const WN_MAX_CURVATURE = 10;

/** Runs WN_STEPS steps; returns the worst |observed − predicted|/tol and how many checks had a big η² term. */
function vNormRun(c: WnCase, controls: Partial<WeightNormOptions> = {}, stopAtFailure = false) {
  const { data, init, opts } = wnExperiment(c, controls);
  const wn = new WeightNormTrainer(data, weightNormOf(init), opts);
  let worst = 0;
  let strong = 0;
  let checks = 0;
  try {
    let v = wn.v();
    for (let s = 0; s < WN_STEPS; s++) {
      const g = wn.g();
      const info = wn.step();
      const v1 = wn.v();
      for (const x of vNormChecks(v, v1, g, info.gradG, info.gradVNormSq, opts.lr)) {
        worst = Math.max(worst, Math.abs(x.observed - x.predicted) / x.tol);
        checks++;
        if (x.predicted >= 10 * x.tol) strong++;
      }
      if (stopAtFailure && worst > 1) break;
      v = v1;
    }
  } finally {
    wn.dispose();
  }
  return { worst, strong, checks };
}

describe('C6: weight normalization — per step ġ_k equals ρ̇_k of plain GD to float32 tolerance, and ‖v_{t+1}‖² = ‖v_t‖² + η²‖∇_v L‖² exactly', () => {
  test('C6: (i) ∂L/∂g_k = ⟨∇_{W_k}L, V_k⟩ at every step, so ġ_k = ρ̇_k (plain GD at the same weights and the float64 Euler form)', () => {
    let worst = 0;
    let checked = 0;
    assertProperty({
      id: 'C6-wn-scale-flow',
      arb: wnCaseArb,
      predicate: (c) => {
        checked++;
        const { spec, data, init, opts } = wnExperiment(c);
        const wn = new WeightNormTrainer(data, weightNormOf(init), opts);
        try {
          for (let s = 0; s <= 20; s++) {
            const W = wn.weights();
            const g = wn.g();
            const { gradG } = s < 20 ? wn.step() : wn.gradient();
            const e = eulerTerm(W, data, spec.kind, opts);
            // g_k ∂L/∂g_k = Σ_n ∂L/∂q_n q_n = ⟨∇_{W_k}L, W_k⟩ for every layer
            gradG.forEach((dg, k) => {
              const tol = G_REL * Math.abs(e.value / g[k]) + G_ABS * U32 * e.scale / Math.abs(g[k]);
              worst = Math.max(worst, Math.abs(dg - e.value / g[k]) / tol);
              expect(Math.abs(dg - e.value / g[k]), `step ${s} layer ${k}: ∂L/∂g = ${dg} vs Σ ℓ'q/g = ${e.value / g[k]}`).toBeLessThanOrEqual(tol);
            });
            if (s === 0 || s === 20) {
              // against plain GD: ⟨∇_W L, V⟩ from src/train.ts at the same weights; ġ = ρ̇ where g = ρ
              const along = plainGradAlong(data, W, g, spec, opts);
              gradG.forEach((dg, k) => {
                const tol = G_REL * Math.abs(along[k]) + G_ABS * U32 * e.scale / Math.abs(g[k]);
                worst = Math.max(worst, Math.abs(dg - along[k]) / tol);
                expect(Math.abs(dg - along[k]), `step ${s} layer ${k}: ∂L/∂g = ${dg} vs plain ⟨∇_W L, V⟩ = ${along[k]}`).toBeLessThanOrEqual(tol);
              });
            }
          }
        } finally {
          wn.dispose();
        }
      },
      params: { numRuns: runs(4) },
    });
    console.log(`C6 WN (i): worst |∂L/∂g − ⟨∇_W L, V⟩| = ${(100 * worst).toFixed(1)}% of the tolerance`);
    expectChecked('C6 WN (i)', checked, runs(4));
  });

  test('C6: (ii) ‖v_{t+1}‖² = ‖v_t‖² + η²‖∇_v L‖² at every step, to a float32 rounding bound', () => {
    let worst = 0;
    let strong = 0;
    let checks = 0;
    let cases = 0;
    assertProperty({
      id: 'C6-wn-v-norm',
      arb: wnCaseArb,
      predicate: (c) => {
        cases++;
        const r = vNormRun(c);
        worst = Math.max(worst, r.worst);
        strong += r.strong;
        checks += r.checks;
        expect(r.worst, '|Δ‖v‖² − η²‖∇_v L‖²| / float32 bound').toBeLessThanOrEqual(1);
      },
      params: { numRuns: runs(4) },
    });
    console.log(`C6 WN (ii): worst error ${(100 * worst).toFixed(1)}% of the bound; η² term ≥ 10× the bound in ${strong}/${checks} checks`);
    expect(strong, 'checks where the η² term is ≥ 10× the bound').toBeGreaterThanOrEqual(0.1 * checks);
    expectChecked('C6 WN (ii)', cases, runs(4));
  });

  test('C6: (iii) weight normalization turns a deep linear net towards the SVM: its end-to-end direction stays under a margin bound that shrinks', () => {
    const worst = { low: Infinity, high: -Infinity };
    let total = 0;
    let skipped = 0;
    let checkedMargin = 0;
    const caseArb = fc.record({ data: linearGapArb, width: fc.integer({ min: 2, max: 4 }), initScale: gridReal(0.5, 1), lrScale: gridReal(1, 1.5) });
    assertProperty({
      id: 'C6-wn-margin',
      arb: caseArb,
      predicate: (c) => {
        const { data, svm } = linearGapData(c.data);
        const spec = modelSpec('deep-linear', 2, c.width);
        const init = initWeights(spec, c.data.d, 'gaussian', c.initScale, stream(c.data.seed, 'init'));
        const perLayer = (W: Weights) => Math.min(...margins(W, data, spec.kind)) / W.reduce((p, M) => p * Math.sqrt(sumSquares(M)), 1);
        const eta = c.lrScale / maxRowNormSq(data.X);
        total++;
        // the init must not be badly misfit: a constant step from e^{−q} ≫ 1 makes plain GD diverge (common.ts)
        const misfit = eta * curvatureScale(data, init, spec.kind, 'exp', 'mean') > WN_MAX_CURVATURE;
        if (misfit) skipped++;
        fc.pre(!misfit);
        // the same network W, with ‖v_k‖ = WN_V_NORM (see the header)
        const p = weightNormOf(init);
        p.v = p.v.map((V, k) => V.map((row) => row.map((x) => (WN_V_NORM * x) / p.g[k])));
        const wn = new WeightNormTrainer(data, p, { model: spec, loss: 'exp', reduction: 'mean', lr: eta });
        let wnMargin: number;
        // WN's trajectory in function space: ρ, log of the sum loss and the end-to-end angle to the SVM
        const path: { step: number; rho: number; logSum: number; angle: number }[] = [];
        try {
          for (let s = 0; s <= WN_MARGIN_STEPS; s++) {
            if (s > 0) wn.step();
            const W = wn.weights();
            path.push({ step: s, rho: W.reduce((r, M) => r * Math.sqrt(sumSquares(M)), 1), logSum: logSumExp(margins(W, data, spec.kind).map((q) => -q)), angle: angle(endToEnd(W), svm.w) });
          }
          wnMargin = perLayer(wn.weights());
        } finally {
          wn.dispose();
        }
        const fit = path.findIndex((r) => r.logSum < 0);
        fc.pre(fit >= 0 && fit < WN_MARGIN_STEPS / 2); // claims start at L < 1, with half the run left
        checkedMargin++;
        expect(deepDirectionFailure(path, fit, path.map((r) => r.angle), path.map((r) => r.logSum), svm.gamma), 'WN: end-to-end direction under the margin bound, which shrinks').toBeNull();
        const plain = train(data, init, { model: spec, loss: 'exp', reduction: 'mean', schedule: 'constant', lr: eta }, { steps: WN_MARGIN_STEPS }).weights;
        const plainMargin = perLayer(plain);
        worst.low = Math.min(worst.low, wnMargin / plainMargin - 1);
        worst.high = Math.max(worst.high, wnMargin / plainMargin - 1);
        expect(plainMargin, 'unconstrained margin').toBeGreaterThan(0);
      },
      params: { numRuns: runs(3) },
    });
    console.log(`C6 WN (iii): WN margin / plain GD margin − 1 in [${(100 * worst.low).toFixed(1)}%, ${(100 * worst.high).toFixed(1)}%] (not asserted: a finite-t ratio); ` +
      `${skipped} of ${total} draws skipped (misfit init)`);
    expectChecked('C6 WN (iii)', checkedMargin, runs(3));
  });
});

describe('N-C6: where the weight-normalization identity fails', () => {
  for (const [name, controls] of [['weight decay on v', { vWeightDecay: 0.05 }], ['v stepped along ∇_W L (no projection)', { unprojected: true }]] as const) {
    test(`N-C6: ${name} breaks ‖v⁺‖² = ‖v‖² + η²‖∇_v L‖²`, () => {
      const result = checkProperty({
        id: `N-C6-wn-${'vWeightDecay' in controls ? 'decay' : 'unprojected'}`,
        arb: wnCaseArb,
        predicate: (c) => vNormRun(c, controls, true).worst <= 1,
        params: { numRuns: runs(4) },
      });
      expect(result.failed).toBe(true);
      const s = result.counterexample![0].setting;
      expect(s.n * s.d * s.width).toBeLessThanOrEqual(2 * 2 * 1); // the smallest setting the arbitrary draws
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Exploratory: curvature of the normalized network at the end of a long SGD run

/**
 * The Riemannian Hessian at V (‖V_k‖ = 1) of F(V) = L(ρ_1V_1, …, ρ_KV_K)/L(W), the loss with the
 * layer scales held, on the product of unit spheres: P(∇²F − Σ_k ⟨∇_{V_k}F, V_k⟩ I_k)P on the
 * tangent space {U : ⟨U_k, V_k⟩ = 0}, by float64 central differences (h = 1e-4 on unit-norm V:
 * truncation and rounding both ~1e-8 of F). Returns its eigenvalues.
 */
function sphereHessianSpectrum(W: Weights, data: Dataset, kind: ModelKind): number[] {
  const rho = W.map((M) => Math.sqrt(sumSquares(M)));
  const shapes = W.map((M) => [M.length, M[0].length]);
  const x0 = W.flatMap((M, k) => M.flat().map((v) => v / rho[k]));
  const layerOf = shapes.flatMap(([r, c], k) => new Array<number>(r * c).fill(k));
  const toWeights = (x: number[]): Weights => {
    let o = 0;
    return shapes.map(([r, c], k) => Array.from({ length: r }, () => Array.from({ length: c }, () => rho[k] * x[o++])));
  };
  const spec: LossSpec = { loss: 'exp', reduction: 'sum' };
  const logL0 = logLoss(margins(W, data, kind), spec);
  const F = (x: number[]) => Math.exp(logLoss(margins(toWeights(x), data, kind), spec) - logL0);
  const h = 1e-4;
  const shift = (x: number[], i: number, s: number) => x.map((v, j) => (j === i ? v + s : v));
  const p = x0.length;
  const grad = x0.map((_, i) => (F(shift(x0, i, h)) - F(shift(x0, i, -h))) / (2 * h));
  const H = x0.map(() => new Array<number>(p).fill(0));
  for (let i = 0; i < p; i++) {
    for (let j = i; j < p; j++) {
      const [pp, pm, mp, mm] = [[h, h], [h, -h], [-h, h], [-h, -h]].map(([a, b]) => F(shift(shift(x0, i, a), j, b)));
      H[i][j] = H[j][i] = (pp - pm - mp + mm) / (4 * h * h);
    }
  }
  // sphere curvature: −⟨∇_{V_k}F, V_k⟩ on each layer's block
  const radial = W.map((_, k) => x0.reduce((s, v, i) => s + (layerOf[i] === k ? v * grad[i] : 0), 0));
  for (let i = 0; i < p; i++) H[i][i] -= radial[layerOf[i]];
  // orthonormal basis of the tangent space: per layer, Gram–Schmidt of e_i against V_k
  const basis: number[][] = [];
  for (let k = 0; k < W.length; k++) {
    const block = [x0.map((v, i) => (layerOf[i] === k ? v : 0))];
    for (let i = 0; i < p; i++) {
      if (layerOf[i] !== k) continue;
      let u: number[] = x0.map((_, j) => (j === i ? 1 : 0));
      for (const b of block) {
        const c = dot(u, b);
        u = u.map((v, j) => v - c * b[j]);
      }
      const n = Math.hypot(...u);
      if (n > 1e-8) block.push(u.map((v) => v / n));
    }
    basis.push(...block.slice(1));
  }
  const HB = basis.map((b) => H.map((row) => dot(row, b)));
  return symmetricEigenvalues(basis.map((bi) => HB.map((hbj) => dot(bi, hbj))));
}

const HESS_TOL = 0.1;
const HESS_STEPS = 3000;

describe('C6: (exploratory) SGD ends near convex minima of the normalized network', () => {
  test('C6: (exploratory) the Hessian of the loss restricted to the product of unit spheres has min eigenvalue ≥ −tol·‖H‖ at the end of a long run', () => {
    const caseArb = fc.record({
      setting: settingArb({ kinds: ['relu'], depth: [2, 2], width: [2, 3], n: [4, 6], d: [2, 3], initScale: [0.75, 1.25] }),
      batch: fc.integer({ min: 1, max: 2 }),
    });
    const lines: string[] = [];
    let convex = 0;
    let total = 0;
    assertProperty({
      id: 'C6-sphere-hessian',
      arb: caseArb,
      predicate: (c) => {
        total++;
        const { spec, data, init } = buildExperiment(c.setting);
        const lr = 0.5 / maxRowNormSq(data.X);
        // as in (iii): not from a badly misfit init, where this step diverges (1 of 150 draws did)
        fc.pre(lr * curvatureScale(data, init, spec.kind, 'exp', 'mean') <= WN_MAX_CURVATURE);
        const { weights, records } = train(data, init, {
          model: spec, loss: 'exp', reduction: 'mean', schedule: 'constant', lr, batchSize: c.batch, seed: c.setting.seed,
        }, { steps: HESS_STEPS });
        // a run stuck on a dead-ReLU plateau is at no minimum of interest
        fc.pre(records.at(-1)!.logLoss + Math.log(data.X.length) < 0);
        const ev = sphereHessianSpectrum(weights, data, spec.kind);
        const norm = Math.max(...ev.map(Math.abs));
        lines.push(`n=${data.X.length} d=${c.setting.d} width=${c.setting.width}: λ_min/‖H‖ = ${(ev[0] / norm).toFixed(4)}, spectrum/‖H‖ [${ev.map((v) => (v / norm).toFixed(3)).join(' ')}]`);
        if (ev[0] >= -HESS_TOL * norm) convex++;
      },
      params: { numRuns: runs(5) },
    });
    console.log(`C6 (exploratory) sphere Hessian after ${HESS_STEPS} SGD steps, ${lines.length} of ${total} draws fitted (the rest skipped or on a plateau):\n  ${lines.join('\n  ')}`);
    expectChecked('C6 sphere Hessian (exploratory)', lines.length, runs(5));
    // The conjecture is about MOST stationary points: a majority of the fitted runs, not each one.
    expect(convex, `λ_min ≥ −${HESS_TOL}·‖H‖ in only ${convex} of ${lines.length} fitted runs`).toBeGreaterThan(lines.length / 2);
  });
});
