/**
 * `theory3 train --model cnn`, in-process (parseNetJob / runTrain): the image shape from the option
 * or the data file, one-line errors naming the problem, and a short run whose records and
 * parameters have the documented form and whose loss falls while the margin grows.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTrain } from '../src/cli/train.js';
import { parseNetJob } from '../src/cli/train-net.js';
import { toJson } from '../src/cli/output.js';
import { InputError } from '../src/errors.js';
import { stream } from '../src/rng.js';
import { thrown } from './harness.js';

let dir: string;
const file = (name: string, value: unknown) => {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify(value));
  return p;
};

/** 6×6 images: +1 has a bright vertical bar, −1 a horizontal one, plus noise. */
function bars(n: number) {
  const rng = stream(3, 'data');
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 2 ? 1 : -1;
    X.push(Array.from({ length: 36 }, (_, j) => ((label > 0 ? j % 6 === 2 : Math.floor(j / 6) === 2) ? 0.8 : 0) + 0.2 * rng.uniform()));
    y.push(label);
  }
  return { X, y };
}

let plain: string;
let withShape: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'theory3-cnn-'));
  plain = file('bars.json', bars(12));
  withShape = file('bars-shape.json', { ...bars(12), shape: [6, 6, 1] });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = ['--model', 'cnn', '--loss', 'exp', '--lr', '0.05', '--steps', '3', '--channels', '2', '--padding', 'same'];
const err = (argv: string[]) => {
  const e = thrown(() => parseNetJob(argv));
  expect(e).toBeInstanceOf(InputError);
  expect(e.message).not.toContain('\n');
  return e.message;
};

describe('train --model cnn', () => {
  test('the image shape comes from --image-shape or the file\'s "shape"', () => {
    expect(parseNetJob([...base, '--data', plain, '--image-shape', '6,6,1']).data.shape).toEqual([6, 6, 1]);
    expect(parseNetJob([...base, '--data', withShape]).data.shape).toEqual([6, 6, 1]);
    const job = parseNetJob([...base, '--data', withShape, '--channels', '3,2', '--kernel', '2', '--pool', 'max']);
    expect(job.net.layers.map((l) => l.kind)).toEqual(['conv2d', 'maxpool', 'conv2d', 'maxpool', 'dense']);
    expect(job.net.degree).toBe(3);
    expect(job.config.threads).toBe(1);
    // two threads are checked against one in tests/nn-threads.test.ts (a worker costs ~2 s to start)
    expect(parseNetJob([...base, '--data', withShape, '--threads', '2']).config.threads).toBe(2);
  });

  test('IDX images (the shipped Fashion-MNIST subset): --classes and --n pick them, the shape comes from the file', () => {
    const idx = ['--data', 'data/fashion-mnist/train-images-idx3-ubyte.gz', '--classes', '1,8', '--n', '5'];
    const job = parseNetJob([...base, ...idx]);
    expect(job.data.shape).toEqual([28, 28, 1]);
    expect(job.config.n).toBe(10);
    expect(Array.from(job.data.y).sort()).toEqual([-1, -1, -1, -1, -1, 1, 1, 1, 1, 1]);
    expect(job.data.X.length).toBe(10 * 784);
    expect(err([...base, ...idx, '--image-shape', '14,56,1'])).toBe('--image-shape 14,56,1 disagrees with the shape 28,28,1 in data/fashion-mnist/train-images-idx3-ubyte.gz');
    // loss-based without --lr: α₀ = 1/max‖x‖² over the images picked
    const noLr = [...base.filter((a, i) => a !== '--lr' && base[i - 1] !== '--lr'), ...idx, '--schedule', 'loss-based'];
    const maxSq = Math.max(...Array.from({ length: 10 }, (_, i) => job.data.X.subarray(i * 784, (i + 1) * 784).reduce((s, v) => s + v * v, 0)));
    expect(parseNetJob(noLr).config.lr).toBeCloseTo(1 / maxSq, 6);
    expect(err([...base.filter((a, i) => a !== '--lr' && base[i - 1] !== '--lr'), ...idx])).toBe('--lr is required');
  });

  test('bad input: one line naming the problem', () => {
    expect(err([...base, '--data', plain])).toBe(`--model cnn needs the image shape: --image-shape H,W,C or a "shape" field in ${plain}`);
    expect(err([...base, '--data', plain, '--image-shape', '5,5,1'])).toBe(`${plain}: rows have 36 values, an image of shape 5×5×1 has 25`);
    expect(err([...base, '--data', withShape, '--image-shape', '6,3,2'])).toBe(`--image-shape 6,3,2 disagrees with the shape 6,6,1 in ${withShape}`);
    expect(err([...base, '--data', plain, '--image-shape', '6,6'])).toBe('--image-shape must be three positive integers height,width,channels, got "6,6"');
    expect(err([...base, '--data', withShape, '--channels', '2,0'])).toBe('--channels must be an integer in 1..4096, got 0');
    expect(err([...base, '--data', withShape, '--pool', 'sum'])).toBe('--pool must be one of avg|max|none, got "sum"');
    expect(err([...base, '--data', withShape, '--padding', 'valid', '--kernel', '7'])).toBe("a 7×7 'valid' convolution does not fit a 6×6 input");
    expect(err([...base, '--data', withShape, '--batch-size', '4'])).toBe("train: Unknown option '--batch-size'");
    expect(err([...base, '--data', withShape, '--threads', '3'])).toBe('--threads must be an integer in 1..2, got 3');
  });

  test('a short run: records with the metrics, parameters as shapes and values, loss falling', async () => {
    const { result } = await runTrain([...base, '--data', withShape, '--steps', '40', '--record', '0,20', '--schedule', 'flow']);
    const r = JSON.parse(toJson(result));
    expect(r.records.map((x: { step: number }) => x.step)).toEqual([0, 20, 40]);
    expect(r.params.map((p: { shape: number[] }) => p.shape)).toEqual([[3, 3, 1, 2], [1, 3, 3, 2]]);
    expect(r.params[0].values).toHaveLength(18);
    const [first, , last] = r.records;
    expect(last.logLoss).toBeLessThan(first.logLoss);
    expect(last.minMargin).toBeGreaterThan(first.minMargin);
    for (const k of ['logLoss', 'norm', 'rho', 'minMargin', 'normalizedMargin', 'smoothedMargin', 'flowTime']) expect(Number.isFinite(last[k]), k).toBe(true);
  });
});
