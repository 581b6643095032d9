/**
 * Replayability and resource hygiene of the training core (DESIGN.md: bit-identical runs on one
 * backend; `tf.tidy` around every step keeps memory flat): one seed fixes data, initial weights and
 * SGD batches, so two runs in one process agree bit for bit; a trainer holds a fixed set of tensors
 * for any number of steps and frees them all on dispose; a divergent run stops with a
 * DivergenceError that names the step.
 */
import { describe, test, expect } from 'vitest';
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { reluTeacherData, type Dataset } from '../src/data.js';
import { DivergenceError } from '../src/errors.js';
import { initWeights, modelSpec, type Weights } from '../src/model.js';
import { stream } from '../src/rng.js';
import { train, Trainer, type TrainOptions } from '../src/train.js';
import { runs } from './reference64.js';

/** Everything random in a run comes from `seed`: data, initial weights, minibatches. */
function setup(seed: number, N = 12, d = 3, width = 4): { data: Dataset; init: Weights; opts: TrainOptions } {
  const data = reluTeacherData(stream(seed, 'data'), N, d, 3, 0.1);
  const model = modelSpec('relu', 2, width);
  const init = initWeights(model, d, 'gaussian', 1, stream(seed, 'init'));
  return { data, init, opts: { model, loss: 'exp', reduction: 'mean', schedule: 'constant', lr: 0.05, batchSize: 4, seed } };
}

const run = (seed: number) => {
  const { data, init, opts } = setup(seed);
  return train(data, init, opts, { steps: 60, record: [0, 1, 2, 30, 59] });
};

describe('determinism', () => {
  test('same seed, same trajectory: records and final weights are bit-identical (SGD, twice in one process)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        const a = run(seed);
        const b = run(seed);
        expect(a.records.map((r) => r.step)).toEqual([0, 1, 2, 30, 59, 60]);
        expect(b).toStrictEqual(a);
        // …and the comparison has teeth: another seed (other data, init and batches) differs
        const other = run(seed + 1);
        expect(other.weights).not.toStrictEqual(a.weights);
        // the SGD batches alone change the trajectory
        const { data, init, opts } = setup(seed);
        const c = train(data, init, { ...opts, seed: seed + 1 }, { steps: 60 });
        expect(c.weights).not.toStrictEqual(a.weights);
      }),
      { numRuns: runs(2) },
    );
  });

  test('tensor count is flat over 10,000 Trainer steps and returns to the baseline on dispose', () => {
    // the cheapest full path (linear, exp, full batch) for the long run: ~0.4 ms a step
    const data: Dataset = { X: [[1, 0.5], [-0.3, -1], [0.2, 0.9]], y: [1, -1, 1] };
    const linear: TrainOptions = { model: modelSpec('linear'), loss: 'exp', reduction: 'sum', schedule: 'constant', lr: 0.1 };
    const before = tf.memory().numTensors;
    const trainer = new Trainer(data, [[[0, 0]]], linear);
    const afterConstruction = tf.memory().numTensors;
    expect(afterConstruction - before).toBe(3); // X, y and the one layer
    for (let i = 0; i < 10_000; i++) trainer.step();
    expect(trainer.stepCount).toBe(10_000);
    trainer.gradient();
    trainer.weights();
    expect(tf.memory().numTensors).toBe(afterConstruction);
    trainer.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('every other path is flat too: ReLU SGD, logistic, flow schedule, squared, weight decay, train()', () => {
    const { data, init, opts } = setup(11, 6, 2, 3);
    const variants: [TrainOptions, Weights][] = [
      [opts, init], // relu, exp, mean, minibatches
      [{ ...opts, loss: 'logistic', reduction: 'sum', batchSize: undefined }, init],
      [{ ...opts, model: modelSpec('deep-linear', 3, 2), batchSize: undefined }, initWeights(modelSpec('deep-linear', 3, 2), 2, 'gaussian', 1, stream(11, 'init'))],
      [{ ...opts, schedule: 'flow', batchSize: undefined }, init],
      [{ ...opts, loss: 'squared', weightDecay: 0.01, layerLr: [1, 0.5] }, init],
    ];
    const before = tf.memory().numTensors;
    for (const [o, w] of variants) {
      const trainer = new Trainer(data, w, o);
      const held = tf.memory().numTensors;
      expect(held - before).toBe(2 + w.length);
      for (let i = 0; i < 100; i++) trainer.step();
      trainer.gradient();
      expect(tf.memory().numTensors).toBe(held);
      trainer.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
    train(data, init, opts, { steps: 20, record: [0, 1, 5] });
    expect(tf.memory().numTensors).toBe(before);
  });

  test('loss-based steps hold one kept forward pass between steps (flat), and dispose frees it', () => {
    const { data, init, opts } = setup(11, 6, 2, 3);
    const before = tf.memory().numTensors;
    // α₀ = 50 is far above what descends: the first steps are undone and retried
    const trainer = new Trainer(data, init, { ...opts, schedule: 'loss-based', lr: 50, batchSize: undefined });
    for (let i = 0; i < 50; i++) trainer.step();
    const held = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) trainer.step();
    trainer.gradient();
    expect(trainer.undone).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(held);
    trainer.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('a divergent run (huge step) throws DivergenceError naming the step, and leaks no tensors', () => {
    const { data, init, opts } = setup(5);
    const huge: TrainOptions = { ...opts, lr: 1e6, batchSize: undefined };
    const before = tf.memory().numTensors;
    const trainer = new Trainer(data, init, huge);
    let error: unknown;
    try {
      for (let i = 0; i < 100; i++) trainer.step();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DivergenceError);
    // the step that failed is the one after the last completed step
    expect((error as Error).message).toContain(`at step ${trainer.stepCount + 1}`);
    expect(trainer.stepCount).toBeLessThan(100);
    trainer.dispose();
    expect(tf.memory().numTensors).toBe(before);

    // through train(): the same step, and the last finite record is named
    let viaTrain: unknown;
    try {
      train(data, init, huge, { steps: 100, record: [1] });
    } catch (e) {
      viaTrain = e;
    }
    expect(viaTrain).toBeInstanceOf(DivergenceError);
    expect((viaTrain as Error).message).toMatch(new RegExp(`at step ${trainer.stepCount + 1}\\b.*last finite record: step 1`));
    expect(tf.memory().numTensors).toBe(before);
  });
});
