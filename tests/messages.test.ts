/**
 * How the core reports mistakes and divergence, whoever calls it: its messages speak of its own
 * parameters (lr, steps, depth, …), never of command-line flags, and the command line renames them
 * in one place (src/cli/flags.ts); every trainer reports a non-finite loss in the one format that
 * nonFiniteLoss builds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { PARAMETER_FLAGS, userMessage } from '../src/cli/flags.js';
import { DivergenceError, InputError, nonFiniteLoss, parameterError } from '../src/errors.js';
import { initWeights, modelSpec } from '../src/model.js';
import { buildNetwork } from '../src/nn/network.js';
import { NetTrainer } from '../src/nn/trainer.js';
import { stream } from '../src/rng.js';
import { Trainer, type TrainOptions } from '../src/train.js';
import { WeightNormTrainer, weightNormOf } from '../src/weightnorm.js';
import { thrown } from './harness.js';

const CLI_FLAGS = /--(lr|steps|depth|width|init|init-scale|batch-size|record|model|loss|seed|data|out|backend|schedule|reduction|plot|report)\b/;

/** Source text without comments (a comment may mention a flag; a message may not). */
function code(path: string): string {
  return readFileSync(path, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
}

describe('core messages name core parameters', () => {
  test('no file of the core (src/*.ts except the command line) names a command-line flag', () => {
    const dir = new URL('../src/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'cli.ts');
    expect(files).toEqual(expect.arrayContaining(['train.ts', 'model.ts', 'step.ts', 'weightnorm.ts', 'backend.ts']));
    for (const f of files) expect(code(new URL(f, dir).pathname).match(CLI_FLAGS)?.[0], f).toBeUndefined();
  });

  test('the scan sees a flag in a message (it can fail)', () => {
    const sample = "throw new InputError(`--lr must be positive`); // --steps in a comment is fine";
    expect(sample.replace(/(^|[^:])\/\/.*$/gm, '$1').match(CLI_FLAGS)?.[0]).toBe('--lr');
  });

  test('the command line renames each parameter to its flag, once, at the start of the message', () => {
    for (const [parameter, flag] of Object.entries(PARAMETER_FLAGS)) {
      const e = parameterError(parameter, 'must be fine, got 0');
      expect(e).toBeInstanceOf(InputError);
      expect(e.parameter).toBe(parameter);
      expect(e.message).toBe(`${parameter} must be fine, got 0`);
      expect(userMessage(e)).toBe(`${flag} must be fine, got 0`);
    }
    // messages without a parameter, or naming one the command line does not have, pass unchanged
    expect(userMessage(new InputError('lr is not named here'))).toBe('lr is not named here');
    expect(userMessage(parameterError('layerLr', 'needs 2 multipliers'))).toBe('layerLr needs 2 multipliers');
    expect(userMessage(new DivergenceError('steps diverged'))).toBe('steps diverged');
  });
});

describe('one format for a non-finite loss', () => {
  test('nonFiniteLoss: the step and log L before the previous step', () => {
    expect(nonFiniteLoss({ loss: Infinity, step: 1, logLossBefore: NaN }).message).toBe('training produced a non-finite loss (Infinity) at step 1');
    expect(nonFiniteLoss({ loss: NaN, step: 3, logLossBefore: 812.5 }).message).toBe('training produced a non-finite loss (NaN) at step 3 (log L was 812.5 before step 2)');
    expect(nonFiniteLoss({ loss: Infinity, step: 1 })).toBeInstanceOf(DivergenceError);
  });

  // A 2-layer ReLU net on three points with a step far too large (η = 1e6): the weights overflow
  // float32 and the loss is NaN at step 3 in every trainer (measured).
  const data = { X: [[1, 0], [0, 1], [-1, 0.5]], y: [1, 1, -1] };
  const model = modelSpec('relu', 2, 3);
  const init = initWeights(model, 2, 'gaussian', 1, stream(3, 'init'));
  const opts: TrainOptions = { model, loss: 'exp', reduction: 'sum', schedule: 'constant', lr: 1e6 };
  const FORMAT = /^training produced a non-finite loss \((Infinity|NaN)\) at step (\d+)() \(log L was (\S+) before step (\d+)\)$/;

  function divergence(step: () => unknown): Error {
    return thrown(() => {
      for (let i = 0; i < 1000; i++) step();
    });
  }

  test('Trainer, NetTrainer and WeightNormTrainer diverge with the same message', () => {
    const plain = new Trainer(data, init, opts);
    const single = divergence(() => plain.step());
    plain.dispose();
    const net = buildNetwork({ kind: 'mlp', inShape: [2], widths: [3], relu: true });
    const layered = new NetTrainer(net, { X: Float32Array.from(data.X.flat()), shape: [2], y: data.y }, init.map((W) => Float32Array.from(W.flat())), opts);
    const viaLayers = divergence(() => layered.step());
    layered.dispose();
    const wn = new WeightNormTrainer(data, weightNormOf(init), opts);
    const normalized = divergence(() => wn.step());
    wn.dispose();

    for (const e of [single, viaLayers, normalized]) {
      expect(e).toBeInstanceOf(DivergenceError);
      const m = FORMAT.exec(e.message);
      expect(m, e.message).not.toBeNull();
      expect(Number(m![2])).toBeGreaterThan(1); // diverges after a finite step, so "log L was" is there
      expect(Number(m![5])).toBe(Number(m![2]) - 1);
      expect(Number.isFinite(Number(m![4]))).toBe(true);
    }
  });
});
