import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, test } from 'vitest';
import { compareBaseline, type BaselineFile } from '../src/baseline/compare.js';
import { runBaseline } from '../src/baseline/run.js';

const file = fileURLToPath(new URL('../baseline/figures.json', import.meta.url));
const base = JSON.parse(readFileSync(file, 'utf8')) as BaselineFile;

// The committed figures were measured on one backend; on another only the structure is compared.
describe.runIf(tf.getBackend() === base.backend)('the baseline of key figures guards the dynamics', () => {
  test('the stepper as built reproduces every figure of baseline/figures.json within its tolerance', () => {
    const moved = compareBaseline(base, runBaseline()).filter((c) => c.moved);
    expect(moved).toEqual([]);
  });

  test('a 1% larger step moves the norms, slopes, margins and angles beyond their tolerances', () => {
    const moved = compareBaseline(base, runBaseline({ stepMultiplier: 1.01 })).filter((c) => c.moved).map((c) => c.name);
    for (const name of ['linear GD: ‖w‖ at step 2000', 'linear GD: slope of ‖w‖ in log t, steps 1000–2000', 'deep linear flow: ρ at step 300', 'ReLU flow: final normalized margin γ̄', 'SGD (batch 2): final angle to the SVM (rad)']) {
      expect(moved).toContain(name);
    }
    // The SVM figures do not depend on the step: they must not be reported as moved.
    expect(moved).not.toContain('SVM: γ*');
  });
});

test('a figure missing from a run, or new in it, counts as moved', () => {
  const b: BaselineFile = { schemaVersion: 1, backend: 'wasm', tfjs: '', method: '', figures: { a: { value: 1, tolerance: 0.1, source: 'measured spread', spread: 0 } } };
  expect(compareBaseline(b, { a: 1.05 }).map((c) => c.moved)).toEqual([false]);
  expect(compareBaseline(b, { a: 1.2 }).map((c) => c.moved)).toEqual([true]);
  expect(compareBaseline(b, { b: 1 }).map((c) => [c.name, c.moved])).toEqual([['a', true], ['b', true]]);
  expect(compareBaseline(b, { a: NaN })[0].moved).toBe(true);
});
