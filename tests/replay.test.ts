/**
 * The counterexample store and `theory3 replay`: a failing property stores its shrunk case with
 * the training job behind it; the next run tries the stored case first; replay re-runs the job,
 * names the violated claim, and writes a trajectory that is byte-identical from run to run and
 * equal to training the job in-process.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { marginDecreaseBeforeFit, fittedIndex } from '../src/checks.js';
import { storedFilesOf, type Counterexample, type StoredJob } from '../src/counterexamples.js';
import { modelSpec } from '../src/model.js';
import { train } from '../src/train.js';
import { checkProperty } from '../properties/store.js';
import { replayOutput } from '../properties/real/real-data.js';
import { runReplay } from '../src/cli/replay.js';
import { InputError } from '../src/errors.js';
import { readIdx } from '../src/data/idx.js';
import { fixturePath, inMutationRun } from './harness.js';

const root = fileURLToPath(new URL('..', import.meta.url));
let store = '';
let stored = '';

/** Two points in 1-d and a linear model started on the wrong side: γ̃ falls before L < 1. */
function jobOf(x: number): StoredJob {
  return {
    data: { X: [[x], [-0.5]], y: [1, -1] },
    init: [[[-1]]],
    options: { model: modelSpec('linear'), loss: 'exp', reduction: 'sum', schedule: 'constant', lr: 0.05 },
    steps: 30,
    record: Array.from({ length: 31 }, (_, i) => i),
    check: 'C4/smoothed-margin-before-fit',
  };
}

function violates(x: number): boolean {
  const job = jobOf(x);
  const { records } = train(job.data, job.init, job.options, { steps: job.steps, record: job.record });
  return marginDecreaseBeforeFit(records, fittedIndex(records, 2, job.options)) !== null;
}

function replay(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(join(root, 'node_modules/.bin/tsx'), ['src/cli.ts', 'replay', ...args], { cwd: root }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? -1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(() => {
  store = mkdtempSync(join(tmpdir(), 'theory3-store-'));
  process.env.THEORY3_STORE = store;
});
afterAll(() => {
  delete process.env.THEORY3_STORE;
  rmSync(store, { recursive: true, force: true });
});

describe('counterexample store and replay', () => {
  test('a failing property stores its shrunk case with the job that reproduces it', () => {
    expect(violates(1)).toBe(true); // the case is a real violation, not a test artefact
    const result = checkProperty({ id: 'N-C4-test', arb: fc.double({ min: 0.5, max: 2, noNaN: true }), predicate: (x) => !violates(x), job: jobOf, params: { numRuns: 5 } });
    expect(result.failed).toBe(true);
    const files = readdirSync(join(store, 'N-C4-test'));
    expect(files).toHaveLength(1);
    stored = join(store, 'N-C4-test', files[0]);
    const c = JSON.parse(readFileSync(stored, 'utf8')) as Counterexample;
    expect(c.claim).toBe('N-C4');
    expect(c.counterexample).toEqual(result.counterexample);
    expect(c.job?.check).toBe('C4/smoothed-margin-before-fit');
    expect(c.backend).toBe('wasm');
    expect(typeof c.seed).toBe('number');
  });

  test('the next run tries the stored case first, even where the arbitrary would not reach it', () => {
    const x = (JSON.parse(readFileSync(stored, 'utf8')) as Counterexample).counterexample[0] as number;
    // An arbitrary confined to cases that hold: only the stored example can fail.
    const result = checkProperty({ id: 'N-C4-test', arb: fc.constant(3), predicate: (v) => v === 3 ? true : !violates(v), params: { numRuns: 1 } });
    expect(result.failed).toBe(true);
    expect(result.counterexample).toEqual([x]);
  });

  test.skipIf(inMutationRun)('replay names the violated claim and writes the same trajectory as training the job, byte for byte on every run', async () => {
    const out = (k: number) => join(store, `traj${k}.json`);
    const [a, b] = await Promise.all([replay([stored, '--out', out(1), '--plot', join(store, 'p.svg')]), replay([stored, '--out', out(2)])]);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/^N-C4-test: violates C4 \(C4\/smoothed-margin-before-fit\): dropped from .* at step \d+ \(relative .*\)\n$/);
    expect(readFileSync(out(1), 'utf8')).toBe(readFileSync(out(2), 'utf8'));
    const c = JSON.parse(readFileSync(stored, 'utf8')) as Counterexample;
    const { records } = train(c.job!.data, c.job!.init, c.job!.options, { steps: c.job!.steps, record: c.job!.record });
    const replayed = JSON.parse(readFileSync(out(1), 'utf8'));
    expect(replayed.records.map((r: { norm: number }) => r.norm)).toEqual(records.map((r) => r.norm));
    expect(readFileSync(join(store, 'p.svg'), 'utf8')).toMatch(/^<svg[\s\S]*ρ against log t[\s\S]*<\/svg>$/);
  });

  test('replay refuses a real-data job whose image is not of its classes, or whose network is malformed, naming the problem', async () => {
    const netJob = { kind: 'net', images: { path: 'data/fashion-mnist/train-images-idx3-ubyte.gz', classes: [1, 8], index: [0, 10] }, spec: { kind: 'cnn', inShape: [28, 28, 1], channels: [1], kernel: 3, pool: 'avg', poolSize: 2, padding: 'valid' }, initSeed: 1, steps: 1, check: 'R/steps' };
    const write = (job: unknown) => {
      const f = join(store, `net-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(f, JSON.stringify({ property: 'R-test', seed: 1, path: '', counterexample: [], netJob: job, failure: 'x' }));
      return f;
    };
    const labels = readIdx(join(root, 'data/fashion-mnist/train-labels-idx1-ubyte.gz')).data;
    expect([1, 8]).not.toContain(labels[0]); // position 0 holds another class
    await expect(runReplay([write(netJob)])).rejects.toThrow(new RegExp(`image 0 is of class ${labels[0]}, not 1 or 8`));
    await expect(runReplay([write({ ...netJob, spec: { kind: 'cnn', channels: [0] } })])).rejects.toThrow(/netJob\.spec must be a cnn with channels/);
    await expect(runReplay([write({ ...netJob, steps: 0 })])).rejects.toThrow(InputError);
  });

  test('replay refuses a malformed linear real-data job, naming the field', async () => {
    const linearJob = { kind: 'linear', images: { path: 'data/fashion-mnist/train-images-idx3-ubyte.gz', classes: [1, 8], index: [1, 2] }, steps: 10, check: 'R-C5/angle' };
    const write = (job: unknown) => {
      const f = join(store, `linear-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(f, JSON.stringify({ property: 'R-test', seed: 1, path: '', counterexample: [], linearJob: job, failure: 'x' }));
      return f;
    };
    await expect(runReplay([write({ ...linearJob, images: { ...linearJob.images, index: [] } })])).rejects.toThrow(/linearJob\.images\.index must be a non-empty list/);
    await expect(runReplay([write({ ...linearJob, untilLogT: -1 })])).rejects.toThrow(/linearJob\.untilLogT must be a positive number, got -1/);
    await expect(runReplay([write({ ...linearJob, wrongOracle: { gammaScale: 0 } })])).rejects.toThrow(/linearJob\.wrongOracle must be/);
    await expect(runReplay([write({ ...linearJob, check: 'R-C9/none' })])).rejects.toThrow(/unknown check "R-C9\/none"/);
  });

  test('replay re-runs a stored R-C5 linear job with a turned oracle and names the limit line it left (the stored format carries no check inputs)', async () => {
    // the first two trousers (positions 10, 13) and bags (14, 20) of the training file
    const linearJob = { kind: 'linear', images: { path: 'data/fashion-mnist/train-images-idx3-ubyte.gz', classes: [1, 8], index: [10, 13, 14, 20] }, steps: 8000, untilLogT: 150, wrongOracle: { rotate: 0.05 }, check: 'R-C5/angle' };
    const labels = readIdx(join(root, 'data/fashion-mnist/train-labels-idx1-ubyte.gz')).data;
    expect(linearJob.images.index.map((i) => labels[i]).sort()).toEqual([1, 1, 8, 8]);
    const f = join(store, `linear-turned-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(f, JSON.stringify({ property: 'N-R-test', seed: 1, path: '', counterexample: [], linearJob, failure: 'x' }));
    const out = await replayOutput([f]);
    expect(out).toMatch(/^N-R-test: violates R-C5 \(R-C5\/angle\) on 4 images .*R-C5: from half the final log t .*(limit line|support vectors' span|multiplier 0)/);
  });

  test('replay ID looks the file up in the store; an id stored nowhere is a one-line InputError', async () => {
    expect(storedFilesOf('0123456789ab', join(store, 'no-such-dir'))).toEqual([]);
    await expect(runReplay(['0123456789ab'])).rejects.toThrow(new RegExp(`^no counterexample 0123456789ab in ${store.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const id = stored.split('/').at(-1)!.replace(/\.json$/, '');
    const out = await replayOutput([id]);
    expect(out).toMatch(/^N-C4-test: violates C4 \(C4\/smoothed-margin-before-fit\)/);
  });

  test('replay refuses a file that is not a counterexample with an InputError naming it', async () => {
    const fixture = fixturePath('soudry2d.json');
    await expect(runReplay([fixture])).rejects.toThrow(InputError);
    await expect(runReplay([fixture])).rejects.toThrow(/soudry2d\.json is not a counterexample file/);
  });
});
