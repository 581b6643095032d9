/**
 * properties/common.ts trainFarPastFit: loss-based steps take the small cases the claim properties
 * draw far past fitting — ρ ≥ 10× its value at the first step with L < 1, and log t ≥ 50 — in a few
 * hundred steps, with every kept step recorded and nothing non-finite. Its stop rule is checked on
 * the records it returns; a run cut short (maxSteps) says it did not get there.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { buildExperiment, settingArb, trainFarPastFit } from '../properties/common.js';
import { fittedThreshold } from '../src/loss.js';

const caseArb = fc.record({
  setting: settingArb({ kinds: ['linear', 'deep-linear', 'relu'], n: [2, 8], d: [1, 4] }),
  loss: fc.constantFrom('exp' as const, 'logistic' as const),
  reduction: fc.constantFrom('sum' as const, 'mean' as const),
});

describe('trainFarPastFit', () => {
  test('reaches ρ ≥ 10·ρ(fit) and log t ≥ 50 within 1,000 kept steps, records every step, all finite', () => {
    let fitted = 0;
    let total = 0;
    const steps: number[] = [];
    fc.assert(
      fc.property(caseArb, (c) => {
        const exp = buildExperiment(c.setting);
        const run = trainFarPastFit(exp, { loss: c.loss, reduction: c.reduction, maxSteps: 1000 });
        total++;
        const { records, fitIndex } = run;
        expect(records.map((r) => r.step)).toEqual(records.map((_, i) => i));
        for (const r of records) expect([r.logLoss, r.rho, r.logFlowTime, r.undone].every((v) => !Number.isNaN(v)), `step ${r.step}`).toBe(true);
        if (fitIndex < 0) return; // a dead ReLU never fits: counted below
        fitted++;
        const logThreshold = Math.log(fittedThreshold(c.loss)) - (c.reduction === 'mean' ? Math.log(exp.data.X.length) : 0);
        expect(records[fitIndex].logLoss).toBeLessThan(logThreshold);
        if (fitIndex > 0) expect(records[fitIndex - 1].logLoss).toBeGreaterThanOrEqual(logThreshold);
        expect(run.reached).toBe(true);
        const last = records.at(-1)!;
        expect(last.rho).toBeGreaterThanOrEqual(10 * run.rhoAtFit);
        expect(last.logFlowTime).toBeGreaterThanOrEqual(50);
        // it stops at the first record that meets both goals
        const before = records.at(-2)!;
        expect(before.rho >= 10 * run.rhoAtFit && before.logFlowTime >= 50 && records.length - 2 >= fitIndex).toBe(false);
        steps.push(last.step + last.undone);
      }),
      { numRuns: 15 },
    );
    expect(fitted / total).toBeGreaterThan(0.5);
    steps.sort((a, b) => a - b);
    // cheap: the median run takes a few hundred tries (kept + undone) at most
    expect(steps[steps.length >> 1]).toBeLessThan(500);
  });

  test('a run cut short by maxSteps reports that it did not get there', () => {
    const exp = buildExperiment({ kind: 'deep-linear', depth: 2, width: 2, n: 4, d: 2, gap: 0.3, initScale: 1, seed: 7 });
    const run = trainFarPastFit(exp, { loss: 'exp', reduction: 'sum', maxSteps: 3 });
    expect(run.reached).toBe(false);
    expect(run.records.length).toBe(4);
  });
});
