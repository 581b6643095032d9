/**
 * Loss-based steps in NetTrainer (src/nn): the adaptive α of src/schedule.ts with undo, on a small
 * CNN and on a ReLU MLP. An undone step leaves the parameters bit-identical and adds no flow time;
 * a kept retry is bit-identical to a first step taken with its α; kept steps never raise the loss;
 * the linear network keeps α fixed below its descent bound, as src/train.ts's Trainer does.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, test } from 'vitest';
import { DivergenceError, InputError } from '../src/errors.js';
import { buildNetwork, initParams, type NetSpec } from '../src/nn/network.js';
import { trainNetwork } from '../src/nn/records.js';
import { NetTrainer, type NetTrainOptions } from '../src/nn/trainer.js';
import { stream } from '../src/rng.js';
import { AdaptiveAlpha, LOSS_BASED_DOWN } from '../src/schedule.js';
import { thrown } from './harness.js';

const CNN: NetSpec = { kind: 'cnn', inShape: [6, 6, 1], channels: [2, 3], kernel: 3, pool: 'avg', poolSize: 2, padding: 'same' };
const MLP: NetSpec = { kind: 'mlp', inShape: [4], widths: [5, 5], relu: true };

function problem(spec: NetSpec, n: number, seed: number) {
  const net = buildNetwork(spec);
  const rng = stream(seed, 'data');
  const d = spec.inShape.reduce((a, b) => a * b, 1);
  const X = Float32Array.from({ length: n * d }, () => rng.uniform() - 0.3);
  const y = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 1 : -1));
  return { net, data: { X, shape: spec.inShape, y }, init: initParams(net, stream(seed, 'init')) };
}

const lossBased = (lr: number, loss: 'exp' | 'logistic' = 'exp'): NetTrainOptions => ({ loss, reduction: 'sum', schedule: 'loss-based', lr });

function withTrainer<T>(p: ReturnType<typeof problem>, opts: NetTrainOptions, f: (t: NetTrainer) => T): T {
  const t = new NetTrainer(p.net, p.data, p.init, opts);
  try {
    return f(t);
  } finally {
    t.dispose();
  }
}

const copy = (params: Float32Array[]) => params.map((W) => Float32Array.from(W));

describe('loss-based steps in NetTrainer', () => {
  test('a kept retry is bit-identical to a first step with its α; flow time counts only the kept step', () => {
    const p = problem(CNN, 6, 3);
    // α₀ = 1e4 raises the loss: tries are undone until α₀/DOWN^u descends
    const retried = withTrainer(p, lossBased(1e4), (t) => {
      const info = t.step();
      return { info, params: copy(t.params), logFlowTime: t.logFlowTime, undone: t.undone, steps: t.stepCount };
    });
    expect(retried.info.undone).toBeGreaterThan(0);
    expect(retried.undone).toBe(retried.info.undone);
    expect(retried.steps).toBe(1);
    const alpha = 1e4 / LOSS_BASED_DOWN ** retried.info.undone;
    expect(retried.info.coefficient).toBeCloseTo(alpha, 6);
    expect(retried.info.stepSize).toBeCloseTo(retried.info.coefficient / Math.exp(retried.info.logLoss), 6);
    const direct = withTrainer(p, lossBased(retried.info.coefficient), (t) => {
      const info = t.step();
      return { info, params: copy(t.params), logFlowTime: t.logFlowTime };
    });
    expect(direct.info.undone).toBe(0);
    expect(retried.params).toEqual(direct.params);
    expect(retried.logFlowTime).toBe(direct.logFlowTime);
  });

  test('an undone step leaves the parameters bit-identical and adds no flow time; 500 in a row stop the run', () => {
    withTrainer(problem(CNN, 6, 4), lossBased(0.1), (t) => {
      for (let s = 0; s < 5; s++) t.step();
      const before = copy(t.params);
      const logT = t.logFlowTime;
      const undoneBefore = t.undone;
      (t.schedule as AdaptiveAlpha).accept = () => false;
      const e = thrown(() => t.step());
      expect(e).toBeInstanceOf(DivergenceError);
      expect(e.message).toMatch(/^loss-based steps: 500 steps in a row from step 5 raised the loss \(log L \S+\), the last with α = \S+; the weights are those of step 5$/);
      expect(t.params).toEqual(before);
      expect(t.logFlowTime).toBe(logT);
      expect(t.stepCount).toBe(5);
      expect(t.undone).toBe(undoneBefore + 500);
    });
  });

  test('undo() after a loss-based step puts back the parameters, step count and flow time', () => {
    withTrainer(problem(MLP, 8, 5), lossBased(1), (t) => {
      t.step();
      const before = { params: copy(t.params), logT: t.logFlowTime };
      t.step();
      expect(t.params).not.toEqual(before.params);
      t.undo();
      expect(t.params).toEqual(before.params);
      expect(t.logFlowTime).toBe(before.logT);
      expect(t.stepCount).toBe(1);
    });
  });

  test('every kept step has a loss no higher than the one before, undos happen, the loss falls far past the fit (CNN exp, MLP logistic)', () => {
    for (const [spec, loss] of [[CNN, 'exp'], [MLP, 'logistic']] as const) {
      withTrainer(problem(spec, 8, 6), lossBased(1, loss), (t) => {
        const logs: number[] = [];
        for (let s = 0; s < 120; s++) logs.push(t.step().logLoss);
        logs.push(t.evaluate().value);
        for (let s = 1; s < logs.length; s++) expect(logs[s], `step ${s}`).toBeLessThanOrEqual(logs[s - 1]);
        expect(t.undone).toBeGreaterThan(0);
        // past the fit and far on: measured log L −61 (CNN) and −208 (MLP) after 120 steps from ~2
        expect(logs.at(-1)!).toBeLessThan(-20);
      });
    }
  });

  test('records count the undone steps; no tensor leaks over kept and undone steps', () => {
    const p = problem(CNN, 6, 7);
    const baseline = tf.memory().numTensors;
    const { records } = trainNetwork(p.net, p.data, p.init, lossBased(50), { steps: 40, record: [0, 20] });
    expect(records.map((r) => r.step)).toEqual([0, 20, 40]);
    expect(records[2].undone).toBeGreaterThan(0);
    expect(records[2].undone).toBeGreaterThanOrEqual(records[1].undone);
    expect(tf.memory().numTensors).toBe(baseline);
  });

  test('a linear network keeps α fixed (no undo) and refuses α above 2/max‖x‖²', () => {
    const spec: NetSpec = { kind: 'mlp', inShape: [4], widths: [], relu: false };
    const p = problem(spec, 8, 8);
    withTrainer(p, lossBased(0.5), (t) => {
      expect(t.schedule.undoes).toBe(false);
      for (let s = 0; s < 10; s++) expect(t.step().coefficient).toBe(0.5);
    });
    const e = thrown(() => new NetTrainer(p.net, p.data, p.init, lossBased(100)));
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toMatch(/^lr \(α of loss-based steps on a linear model\) must be below 2\/max‖x‖²/);
  });
});
