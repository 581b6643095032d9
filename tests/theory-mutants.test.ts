/**
 * A test of the tests: each claim's own check, run on the same training runs as its property,
 * must pass on the theory's prediction and FAIL on deliberately wrong ones. A check that also
 * accepted a wrong limit, rate or network would not be testing the claim.
 *
 *   C5 (linear)  the SVM direction rotated by ±0.05 rad, on runs that end below 0.01 rad from
 *                the SVM; γ* off by +2% and by −2% (src/checks.ts linearDirectionFailure)
 *   C3           the exponent 2 − 2/K of log t in 1/L replaced by 0 and by 4; the exponent 1 of
 *                log t in ρ replaced by 0.5 and by 2 (normGrowthFailure), on runs with K ≥ 2
 *                (for K = 1, 2 − 2/K is 0 itself)
 *   C2           a run whose first layer steps 5% larger than the others, judged by the claim's
 *                prediction of equal steps (etaSquaredDriftFailure: ρ_0² − ρ_1² must drift by exactly the
 *                accumulated η² term): it must fail; judged by the right
 *                multipliers it must pass
 *   C4 (far)     the step's derived allowance replaced by none (the flow's monotonicity, 1e-6):
 *                every loss-based run of a deep linear or ReLU net that dips fails it. (Halving
 *                the allowance is not rejected case by case: dips reach 0.70 of it at worst over
 *                36 runs, 0.04 on the ci seed's.)
 *   C7           the unnormalized network in place of the normalized one: the gap check
 *                (src/generalization.ts generalizationGap, the function the C7 property uses)
 *                refuses it, because its premise |f(V; x)| ≤ B fails. Not its betting test: on
 *                the raw network the statistic gap(N) − gap(4N) is positive too (0.11 ± 0.01 at
 *                first fit, measured), so the premise is the part of the check that has teeth.
 *                The rate statistic gap(N) − 2·gap(4N) does separate the raw network, on random
 *                labels: that control is N-C7 in properties/c7-generalization.prop.ts, a
 *                sequential test over ~60 paired replicates rather than a check per case, so it
 *                does not fit this file's pattern (truth passes, wrong theory fails, case by case).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { c3Truth, etaSquaredDriftFailure, recordedStepSquares, C4_TOL, linearDirectionFailure, marginDipFailure, normGrowthFailure, type SvmPrediction } from '../src/checks.js';
import { reluTeacher } from '../src/data.js';
import { generalizationGap, normalizeLayers, sphereTeacherData } from '../src/generalization.js';
import { rotated } from '../src/measure.js';
import { initWeights, modelSpec } from '../src/model.js';
import { stream } from '../src/rng.js';
import { train } from '../src/train.js';
import { buildExperiment, linearGapArb, runs, seedArb } from '../properties/common.js';
import { c2CaseArb, c2Run, c3CaseArb, c3Eligible, c3Run, C2_STEPS, farRun, linearFlowRun } from '../properties/runs.js';

describe('wrong theories are rejected by the checks of C5, C3 and C2', () => {
  test('C5 (linear): the check passes on the SVM and fails on its direction rotated by ±0.05 rad and on γ* off by ±2%', () => {
    let checked = 0;
    fc.assert(
      fc.property(linearGapArb, (s) => {
        const r = linearFlowRun(s);
        fc.pre(r.angle < 0.01); // well below the 0.05 rad of the wrong direction
        checked++;
        const check = (p: SvmPrediction) => linearDirectionFailure(r.Z, r.mid, r.end, r.margin, p);
        expect(check(r.truth), 'the truth').toBeNull();
        for (const eps of [0.05, -0.05]) expect(check({ ...r.truth, direction: rotated(r.truth.direction, eps) }), `direction rotated by ${eps}`).not.toBeNull();
        for (const f of [1.02, 0.98]) expect(check({ ...r.truth, gamma: f * r.truth.gamma }), `γ* × ${f}`).not.toBeNull();
      }),
      { numRuns: runs(8) },
    );
    expect(checked).toBeGreaterThanOrEqual(runs(8));
  });

  test('C3: the check passes on 2 − 2/K and 1, and fails on the loss exponent 0 or 4 and the ρ exponent 0.5 or 2', () => {
    let checked = 0;
    fc.assert(
      fc.property(c3CaseArb, (c) => {
        fc.pre(c.setting.kind !== 'linear');
        const { records, fitted } = c3Run(c);
        fc.pre(c3Eligible(records, fitted));
        checked++;
        const truth = c3Truth(records[0].layerNorms.length);
        expect(normGrowthFailure(records, fitted, truth), 'the truth').toBeNull();
        for (const lossExponent of [0, 4]) expect(normGrowthFailure(records, fitted, { ...truth, lossExponent }), `loss exponent ${lossExponent}`).not.toBeNull();
        for (const rhoExponent of [0.5, 2]) expect(normGrowthFailure(records, fitted, { ...truth, rhoExponent }), `ρ exponent ${rhoExponent}`).not.toBeNull();
      }),
      { numRuns: runs(6) },
    );
    expect(checked).toBeGreaterThanOrEqual(runs(6));
  });

  test('C2: a 5% per-layer step mismatch fails the balance check of equal steps (and passes the check of the right multipliers)', () => {
    let checked = 0;
    const m = [1.05, 1, 1];
    fc.assert(
      fc.property(c2CaseArb, (c) => {
        const { records, fitted, fanIn } = c2Run(c, { layerLr: m });
        fc.pre(fitted >= 0 && records[fitted].step <= C2_STEPS / 4);
        checked++;
        const K = records[0].layerNorms.length;
        const sq = recordedStepSquares(records);
        expect(etaSquaredDriftFailure(records, fitted, sq, fanIn, m.slice(0, K)), 'judged by the multipliers it ran with').toBeNull();
        expect(etaSquaredDriftFailure(records, fitted, sq, fanIn), 'judged by equal steps').not.toBeNull();
      }),
      { numRuns: runs(6) },
    );
    expect(checked).toBeGreaterThanOrEqual(runs(6));
  });
});

describe('wrong allowances are rejected by the check of C4 far past fitting', () => {
  test('C4: the derived allowance passes; no allowance fails every run that dips', () => {
    let checked = 0;
    fc.assert(
      fc.property(c3CaseArb, (c) => {
        fc.pre(c.setting.kind !== 'linear');
        const run = farRun(buildExperiment(c.setting), { reduction: 'sum' });
        fc.pre(run.fitted >= 0 && run.reached);
        const dips = run.records.some((r, i) => i > run.fitted && run.records[i - 1].logLoss < 0 && r.smoothedMargin < run.records[i - 1].smoothedMargin * (1 - C4_TOL));
        fc.pre(dips);
        checked++;
        const K = run.records[0].layerNorms.length;
        const thetas = run.weights.map((w) => w.flat(2));
        expect(marginDipFailure(run.records, run.fitted, thetas, K), 'the truth').toBeNull();
        expect(marginDipFailure(run.records, run.fitted, thetas, K, 0), 'no allowance').not.toBeNull();
      }),
      { numRuns: runs(8) },
    );
    expect(checked).toBeGreaterThanOrEqual(runs(8));
  });
});

describe('wrong networks are rejected by the check of C7', () => {
  test('C7: the gap check accepts the normalized network and refuses the unnormalized one in its place', () => {
    let checked = 0;
    fc.assert(
      fc.property(seedArb, fc.integer({ min: 3, max: 5 }), (seed, d) => {
        // C7's setting: a width-3 ReLU teacher on the unit sphere, 16 training points, a width-8 net trained to L < 1
        const rng = stream(seed, 'data');
        const teacher = reluTeacher(rng, d, 3);
        const trainSet = sphereTeacherData(rng, teacher, 16, 0.1);
        const testSet = sphereTeacherData(stream(seed, 'test'), teacher, 500, 0.1);
        const spec = modelSpec('relu', 2, 8);
        const init = initWeights(spec, d, 'gaussian', 1, stream(seed, 'init'));
        const { records, weights } = train(trainSet, init, { model: spec, loss: 'exp', reduction: 'mean', schedule: 'flow', lr: 1 }, { steps: 80 });
        fc.pre(records.at(-1)!.minMargin > 0); // fitted: every training margin positive
        checked++;
        expect(Number.isFinite(generalizationGap(weights, trainSet, testSet, 'relu', normalizeLayers).loss), 'the normalized network').toBe(true);
        expect(() => generalizationGap(weights, trainSet, testSet, 'relu', (w) => w), 'the unnormalized network').toThrow(/not normalized/);
      }),
      { numRuns: runs(8) },
    );
    expect(checked).toBeGreaterThanOrEqual(runs(8));
  });
});
