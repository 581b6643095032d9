/**
 * The loss-based schedule (src/schedule.ts): α's updates, the linear model's fixed α and its bound,
 * and the Trainer's undo — an undone step leaves the weights bit-identical and adds no flow time,
 * and a kept retry is bit-identical to a first step taken with its α. Small models only: each case
 * is a few kernels per step.
 */
import { describe, expect, test } from 'vitest';
import { reluTeacherData, type Dataset } from '../src/data.js';
import { DivergenceError, InputError } from '../src/errors.js';
import { initWeights, modelSpec, type Weights } from '../src/model.js';
import { stream } from '../src/rng.js';
import { AdaptiveAlpha, LOSS_BASED_DOWN, LOSS_BASED_UP, makeSchedule } from '../src/schedule.js';
import { train, Trainer, type TrainOptions } from '../src/train.js';
import { WeightNormTrainer, weightNormOf } from '../src/weightnorm.js';
import { thrown } from './harness.js';

const relu = modelSpec('relu', 2, 4);
const data: Dataset = reluTeacherData(stream(3, 'data'), 10, 3, 3, 0.1);
const init: Weights = initWeights(relu, 3, 'gaussian', 1, stream(3, 'init'));
const lossBased = (lr: number): TrainOptions => ({ model: relu, loss: 'exp', reduction: 'mean', schedule: 'loss-based', lr });

function withTrainer<T>(d: Dataset, w: Weights, opts: TrainOptions, f: (t: Trainer) => T): T {
  const t = new Trainer(d, w, opts);
  try {
    return f(t);
  } finally {
    t.dispose();
  }
}

describe('α of the loss-based schedule', () => {
  test('× 2^{1/5} after a step that lowered the loss, unchanged (and kept) after one that left it equal, ÷ 2^{1/10} after one that raised it or was not finite', () => {
    const a = new AdaptiveAlpha(1);
    expect(a.undoes).toBe(true);
    expect(a.accept(0, -1)).toBe(true);
    expect(a.alpha).toBe(LOSS_BASED_UP);
    expect(a.accept(-1, -1.5)).toBe(true);
    expect(a.alpha).toBe(LOSS_BASED_UP * LOSS_BASED_UP);
    expect(a.accept(-1.5, -1.5)).toBe(true);
    expect(a.alpha).toBe(LOSS_BASED_UP * LOSS_BASED_UP);
    expect(a.accept(-1, -0.5)).toBe(false);
    expect(a.alpha).toBe((LOSS_BASED_UP * LOSS_BASED_UP) / LOSS_BASED_DOWN);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const b = new AdaptiveAlpha(1);
      expect(b.accept(0, bad)).toBe(false);
      expect(b.alpha).toBe(1 / LOSS_BASED_DOWN);
    }
    expect(LOSS_BASED_UP).toBeCloseTo(2 ** 0.2, 15);
    expect(LOSS_BASED_DOWN).toBeCloseTo(2 ** 0.1, 15);
    expect(a.coefficient()).toBe(a.alpha);
  });

  test('every architecture but the linear model adapts α; the linear model keeps it fixed and never undoes', () => {
    const ctx = { K: 2, n: 10, linear: false, maxRowNormSq: 4, minibatch: false };
    const spec = { schedule: 'loss-based' as const, lr: 0.3, loss: 'exp' as const, reduction: 'sum' as const };
    expect(makeSchedule(spec, ctx)).toBeInstanceOf(AdaptiveAlpha);
    const fixed = makeSchedule(spec, { ...ctx, K: 1, linear: true });
    expect(fixed.undoes).toBe(false);
    expect(fixed.coefficient(5)).toBe(0.3);
    expect(fixed.coefficient(-500)).toBe(0.3);
    expect(fixed.accept(0, 10)).toBe(true);
  });
});

describe('loss-based steps in the Trainer', () => {
  test('a kept retry is bit-identical to a first step with its α, flow time counts only kept steps, undone steps are counted', () => {
    // α₀ = 200 raises the loss: steps are undone until α₀/DOWN^u descends
    const [first, retried] = withTrainer(data, init, lossBased(200), (t) => {
      const info = t.step();
      return [info, { weights: t.weights(), logFlowTime: t.logFlowTime, undone: t.undone, steps: t.stepCount }];
    });
    expect(first.undone).toBeGreaterThan(0);
    expect(retried.undone).toBe(first.undone);
    expect(retried.steps).toBe(1);
    const alpha = 200 / LOSS_BASED_DOWN ** first.undone;
    // η_t of the kept step = α/L
    expect(first.stepSize).toBeCloseTo(alpha / Math.exp(first.logLoss), 12);
    const direct = withTrainer(data, init, lossBased(alpha), (t) => {
      const info = t.step();
      return { info, weights: t.weights(), logFlowTime: t.logFlowTime, undone: t.undone };
    });
    expect(direct.info.undone).toBe(0);
    expect(direct.undone).toBe(0);
    expect(retried.weights).toEqual(direct.weights);
    expect(retried.logFlowTime).toBe(direct.logFlowTime);
  });

  test('an undone step leaves the weights bit-identical to before it and adds no flow time', () => {
    withTrainer(data, init, lossBased(0.1), (t) => {
      for (let s = 0; s < 5; s++) t.step();
      const before = t.weights();
      const logT = t.logFlowTime;
      const undoneBefore = t.undone;
      // a schedule that refuses every step: the trainer undoes them until it gives up
      const schedule = t.schedule as AdaptiveAlpha;
      schedule.accept = () => false;
      const e = thrown(() => t.step());
      expect(e).toBeInstanceOf(DivergenceError);
      expect(e.message).toMatch(/^loss-based steps: 500 steps in a row from step 5 raised the loss \(log L \S+\), the last with α = \S+; the weights are those of step 5$/);
      expect(t.weights()).toEqual(before);
      expect(t.logFlowTime).toBe(logT);
      expect(t.stepCount).toBe(5);
      expect(t.undone).toBe(undoneBefore + 500);
    });
  });

  test('every kept step has a loss no higher than the step before (ReLU, deep linear; exp and logistic)', () => {
    for (const [model, loss] of [[relu, 'exp'], [modelSpec('deep-linear', 3, 3), 'logistic']] as const) {
      const w = initWeights(model, 3, 'gaussian', 1, stream(4, 'init'));
      withTrainer(data, w, { ...lossBased(1), model, loss }, (t) => {
        const logs: number[] = [];
        for (let s = 0; s < 150; s++) logs.push(t.step().logLoss);
        logs.push(t.gradient().logLoss);
        for (let s = 1; s < logs.length; s++) expect(logs[s], `step ${s}`).toBeLessThanOrEqual(logs[s - 1]);
        expect(t.undone).toBeGreaterThan(0); // the rule was exercised, not only α growing
      });
    }
  });

  test('on a few points the margins grow until the outputs near the float32 range: the run stops there with a DivergenceError, not at the edge of overflow', () => {
    const two: Dataset = { X: [[1, 0.5], [-0.5, -1]], y: [1, -1] };
    const w = initWeights(relu, 2, 'gaussian', 1, stream(5, 'init'));
    withTrainer(two, w, lossBased(1), (t) => {
      const e = thrown(() => {
        for (let s = 0; s < 5000; s++) t.step();
      });
      expect(e).toBeInstanceOf(DivergenceError);
      expect(e.message).toMatch(/^the outputs reached \|f\| = \S+ after step \d+, within a factor 256 of the float32 range \(3\.4e38\): the next step would overflow; stop earlier \(fewer steps\)$/);
      const f = Number(/\|f\| = (\S+) /.exec(e.message)![1]);
      expect(f).toBeGreaterThan(2 ** 120);
      expect(f).toBeLessThan(3.4e38);
      expect(t.stepCount).toBeLessThan(5000);
      expect(Number.isFinite(t.gradient('logLoss').logLoss)).toBe(true); // the weights of the last kept step
    });
  });

  test('train() records carry `undone`, counted apart from `step`', () => {
    const { records } = train(data, init, lossBased(200), { steps: 3, record: [0, 1, 3] });
    expect(records.map((r) => r.step)).toEqual([0, 1, 3]);
    expect(records[0].undone).toBe(0);
    expect(records[1].undone).toBeGreaterThan(0);
    expect(records[2].undone).toBeGreaterThanOrEqual(records[1].undone);
  });

  test('train() with untilLogFlowTime ends at the first step whose log t reaches it, and records that step', () => {
    const full = train(data, init, lossBased(0.5), { steps: 40, record: Array.from({ length: 41 }, (_, i) => i) }).records;
    const target = full[25].logFlowTime;
    const first = full.findIndex((r) => r.logFlowTime >= target);
    const { records } = train(data, init, lossBased(0.5), { steps: 40, record: [0, 10], untilLogFlowTime: target });
    expect(records.map((r) => r.step)).toEqual([0, 10, first]);
    expect(records.at(-1)!.logFlowTime).toBe(full[first].logFlowTime);
    // nothing asked for before the stop: the stopping step alone
    expect(train(data, init, lossBased(0.5), { steps: 40, record: [], untilLogFlowTime: target }).records.map((r) => r.step)).toEqual([first]);
    // a target never reached: the run takes all its steps
    expect(train(data, init, lossBased(0.5), { steps: 5, record: [0], untilLogFlowTime: 1e9 }).records.map((r) => r.step)).toEqual([0, 5]);
  });
});

describe('linear model: α fixed below the data bound 2/max‖x‖²', () => {
  // two points, y = ±1: z = [1, 0], [0, −2], max‖x‖² = 4, bound 0.5. At w = 0: L_sum = 2,
  // ∇ log L = ∇L/L = −(z₁ + z₂)/2 = [−1/2, 1], so one step with α = 0.25 is w₁ = [1/8, −1/4].
  const two: Dataset = { X: [[1, 0], [0, 2]], y: [1, -1] };
  const linear: TrainOptions = { model: modelSpec('linear'), loss: 'exp', reduction: 'sum', schedule: 'loss-based', lr: 0.25 };

  test('one step is w − α∇log L, with η = α/L on the sum and N times that on the mean loss', () => {
    for (const reduction of ['sum', 'mean'] as const) {
      withTrainer(two, [[[0, 0]]], { ...linear, reduction }, (t) => {
        const info = t.step();
        expect(t.weights()).toEqual([[[0.125, -0.25]]]);
        expect(info.undone).toBe(0);
        // L_sum = 2, L_mean = 1: η_sum = 0.125, η_mean = 0.25 = N·η_sum
        expect(info.stepSize).toBeCloseTo(reduction === 'sum' ? 0.125 : 0.25, 15);
        expect(t.logFlowTime).toBeCloseTo(Math.log(info.stepSize), 15);
      });
    }
  });

  test('the loss falls at every step, up to α just below the bound', () => {
    withTrainer(two, [[[0, 0]]], { ...linear, lr: 0.499 }, (t) => {
      let last = Infinity;
      for (let s = 0; s < 300; s++) {
        const { logLoss } = t.step();
        expect(logLoss).toBeLessThan(last);
        last = logLoss;
      }
      expect(t.undone).toBe(0);
    });
  });

  test('α at or above the bound is refused', () => {
    for (const lr of [0.5, 0.7]) {
      const e = thrown(() => new Trainer(two, [[[0, 0]]], { ...linear, lr }));
      expect(e).toBeInstanceOf(InputError);
      expect(e.message).toContain('(α of loss-based steps on a linear model) must be below 2/max‖x‖² = 0.5 to descend');
    }
  });
});

describe('bad options', () => {
  test('loss-based with the squared loss, with minibatches, or for weight normalization: one-line InputError', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => new Trainer(data, init, { ...lossBased(1), loss: 'squared' }), /the loss-based schedule needs an exponential-type loss \(exp or logistic\), not squared/],
      [() => new Trainer(data, init, { ...lossBased(1), batchSize: 3 }), /the loss-based schedule needs full-batch steps/],
      [() => new WeightNormTrainer(data, weightNormOf(init), { ...lossBased(1) }), /WeightNormTrainer takes constant steps only, not the loss-based schedule/],
      [() => new Trainer(data, init, { ...lossBased(1), schedule: 'fast' as never }), /schedule must be one of constant\|flow\|loss-based, got "fast"/],
    ];
    for (const [make, pattern] of cases) {
      const e = thrown(make);
      expect(e).toBeInstanceOf(InputError);
      expect(e.message).toMatch(pattern);
      expect(e.message).not.toContain('\n');
    }
  });
});
