/**
 * `train` and `svm` on the data formats besides JSON: the options --classes, --n, --labels and
 * --label-column reach the loader, the job records them, the shipped Fashion-MNIST subset runs
 * through both commands, and a bad data file exits with one line naming it.
 */
import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTrainJob } from '../src/cli/train.js';
import { runSvm } from '../src/cli/svm.js';
import { certificateWorst } from '../src/svm.js';
import { InputError } from '../src/errors.js';
import { inMutationRun, thrown } from './harness.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const trainImages = join(root, 'data/fashion-mnist/train-images-idx3-ubyte.gz');
const linear = ['--model', 'linear', '--loss', 'exp', '--lr', '0.01', '--steps', '3'];

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'theory3-cli-data-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('cli: --data beyond JSON', () => {
  test('train on the shipped IDX subset: --classes 1,8 --n 50 gives 50 + 50 images of 784 pixels, recorded in the config', () => {
    const job = parseTrainJob(['--data', trainImages, '--classes', '1,8', '--n', '50', ...linear]);
    expect(job.config).toMatchObject({ data: trainImages, classes: [1, 8], perClass: 50, n: 100, d: 784 });
    expect(job.dataset.y.filter((v) => v === 1).length).toBe(50);
    expect(Object.keys(job.dataset)).toEqual(['X', 'y']);
    expect(job.shape).toEqual([28, 28, 1]);
  });

  test('svm on the shipped subset: trouser/bag, 2 × 100 images, separable through the origin with a certificate', () => {
    const { result } = runSvm(['--data', trainImages, '--classes', '1,8', '--n', '100']);
    expect(result.gamma).toBeGreaterThan(0);
    expect(certificateWorst(result.certificate)).toBeLessThan(1e-10);
    expect(result.alpha.length).toBe(200);
  });

  test('CSV with --label-column and .npy with --labels reach their loaders; bad values are refused', () => {
    const csv = join(dir, 'd.csv');
    writeFileSync(csv, 'a,b,class\n1,0,3\n0,1,5\n2,0,3\n0,2,5\n');
    const job = parseTrainJob(['--data', csv, '--label-column', 'class', '--classes', '3,5', ...linear]);
    expect(job.dataset).toEqual({ X: [[1, 0], [0, 1], [2, 0], [0, 2]], y: [-1, 1, -1, 1] });
    expect(job.config).toMatchObject({ labelColumn: 'class', classes: [3, 5], n: 4, d: 2 });
    const npy = join(root, 'fixtures/npy');
    expect(parseTrainJob(['--data', join(npy, 'x-f8.npy'), '--labels', join(npy, 'y-i8.npy'), '--classes', '3,7', ...linear]).config).toMatchObject({ n: 4, d: 3 });
    for (const [args, pattern] of [
      [['--classes', '1'], /--classes must be two labels A,B/],
      [['--classes', '1,8', '--n', '0'], /--n must be an integer in 1\.\./],
      [['--classes', '1,8', '--n', '2001'], /train-labels-idx1-ubyte\.gz: asked for 2001 examples of class 1, there are only 2000/],
      [['--classes', '1,2'], /class 2 is not present \(present: 0,1,5,6,7,8\)/],
      [[], /label 0 is not -1 or \+1; pick two classes with --classes A,B/],
    ] as const) {
      const e = thrown(() => parseTrainJob(['--data', trainImages, ...args, ...linear]));
      expect(e).toBeInstanceOf(InputError);
      expect(e.message).toMatch(pattern);
    }
  });

  test.skipIf(inMutationRun)('the command line: a truncated IDX file exits 1 with one line naming it', async () => {
    const images = join(dir, 'cut-images-idx3-ubyte');
    writeFileSync(images, Uint8Array.of(0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 7));
    writeFileSync(join(dir, 'cut-labels-idx1-ubyte'), Uint8Array.of(0, 0, 8, 1, 0, 0, 0, 2, 1, 8));
    const { THEORY3_DEBUG: _debug, ...env } = process.env;
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      execFile(join(root, 'node_modules/.bin/tsx'), ['src/cli.ts', 'svm', '--data', images, '--classes', '1,8'], { cwd: root, env }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
      ),
    );
    expect(r.stdout).toBe('');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`theory3: ${images}: truncated: dimensions 2×1×1 need 2 bytes of data, the file has 1\n`);
  });
});
