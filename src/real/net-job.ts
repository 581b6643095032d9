import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labelsPathFor, readIdx } from '../data/idx.js';
import type { IdxArray } from '../data/idx.js';
import { InputError } from '../errors.js';
import { sizeOf } from '../nn/layer.js';
import { buildNetwork, initParams, type NetSpec } from '../nn/network.js';
import type { ArraySet } from '../nn/trainer.js';
import { stream } from '../rng.js';
import { KEEP_EVERY } from './net-checks.js';
import { trainNet, type NetRun } from './net-run.js';

/** Real images by position in an IDX file of the repository (a stored job's data). */
export interface ImagePositions {
  /** An IDX images file, relative to the repository root (or absolute). */
  path: string;
  classes: [number, number];
  /** 0-based positions in the file; class classes[0] is labelled −1, classes[1] +1. */
  index: number[];
}

/**
 * A network run on real images that a stored counterexample carries (`theory3 replay` re-runs
 * it): the images as their positions in an IDX file of the repository (data/fashion-mnist/), not
 * their pixels, so that a case of a few images stays a few numbers; the network; the init seed;
 * the loss-based run (exp loss, sum, α₀ = 1/max‖x‖²); and the check to apply (NET_CHECKS).
 */
export interface NetJob {
  kind: 'net';
  images: ImagePositions;
  spec: NetSpec;
  initSeed: number;
  /** At most this many kept steps: the run ends earlier if the outputs near the float32 range. */
  steps: number;
  /** Per-layer step multipliers (a negative control of C1). */
  layerLr?: number[];
  check: string;
}

/** A stored job as read from a file: each field checked, one line naming the first bad one. */
export function checkNetJob(job: unknown, source: string): NetJob {
  const j = job as Partial<NetJob> | null;
  const bad = (what: string) => new InputError(`${source}: ${what}`);
  if (typeof j !== 'object' || j === null || j.kind !== 'net') throw bad('netJob.kind must be "net"');
  checkImagePositions(j.images, 'netJob', bad);
  const spec = j.spec as Partial<NetSpec> | undefined;
  const sizes = spec?.kind === 'cnn' ? spec.channels : spec?.kind === 'mlp' ? spec.widths : undefined;
  if (!Array.isArray(sizes) || !sizes.every((v) => Number.isInteger(v) && v >= 1)) throw bad('netJob.spec must be a cnn with channels or an mlp with widths (positive integers)');
  if (!Number.isInteger(j.initSeed)) throw bad('netJob.initSeed must be an integer');
  if (!Number.isInteger(j.steps) || j.steps! < 1 || j.steps! > 1e8) throw bad(`netJob.steps must be an integer in 1..100000000, got ${j.steps}`);
  if (j.layerLr !== undefined && !(Array.isArray(j.layerLr) && j.layerLr.every((v) => Number.isFinite(v) && v > 0))) throw bad('netJob.layerLr must be positive numbers');
  if (typeof j.check !== 'string') throw bad('netJob.check must name a check');
  return j as NetJob;
}

/** Throws bad(…) naming the first malformed field of a job's `images`. */
export function checkImagePositions(im: Partial<ImagePositions> | undefined, job: string, bad: (what: string) => Error): void {
  if (typeof im?.path !== 'string') throw bad(`${job}.images.path must be the path of an IDX images file`);
  if (!Array.isArray(im.classes) || im.classes.length !== 2 || !im.classes.every(Number.isInteger)) throw bad(`${job}.images.classes must be two class labels`);
  if (!Array.isArray(im.index) || im.index.length === 0 || !im.index.every(Number.isInteger)) throw bad(`${job}.images.index must be a non-empty list of image positions`);
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const files = new Map<string, { images: IdxArray; labels: IdxArray }>();

function idxFile(path: string): { images: IdxArray; labels: IdxArray } {
  const full = isAbsolute(path) ? path : join(ROOT, path);
  let f = files.get(full);
  if (!f) {
    f = { images: readIdx(full), labels: readIdx(labelsPathFor(full)) };
    files.set(full, f);
  }
  return f;
}

/** The images at the job's positions, pixels ÷ 255, labelled ±1 by their class, and max‖x‖² in float64. */
export function jobImages(job: { images: ImagePositions }): ArraySet & { maxSq: number } {
  const { images, labels } = idxFile(job.images.path);
  const shape = images.dims.length === 3 ? [images.dims[1], images.dims[2], 1] : images.dims.slice(1);
  const d = sizeOf(shape);
  const [a, b] = job.images.classes;
  const X = new Float32Array(job.images.index.length * d);
  let maxSq = 0;
  const y = job.images.index.map((i, n) => {
    if (!Number.isInteger(i) || i < 0 || i >= images.dims[0]) throw new InputError(`${job.images.path}: image position ${i} is outside 0..${images.dims[0] - 1}`);
    const c = labels.data[i];
    if (c !== a && c !== b) throw new InputError(`${job.images.path}: image ${i} is of class ${c}, not ${a} or ${b}`);
    let sq = 0;
    for (let j = 0; j < d; j++) {
      const v = images.data[i * d + j] / 255;
      X[n * d + j] = v;
      sq += v * v;
    }
    maxSq = Math.max(maxSq, sq);
    return c === a ? -1 : 1;
  });
  return { X, shape, y, maxSq };
}

/** File positions of the first `n` images of each class, in file order (for drawing subsets). */
export function classPositions(path: string, classes: [number, number], n: number): [number[], number[]] {
  const { labels } = idxFile(path);
  const out: [number[], number[]] = [[], []];
  for (let i = 0; i < labels.data.length; i++) {
    const k = classes.indexOf(labels.data[i]);
    if (k >= 0 && out[k].length < n) out[k].push(i);
  }
  return out;
}

/** Trains the job's network on its images, measured at every step (src/real/net-run.ts). */
export function runNetJob(job: NetJob, onStep?: (step: number) => void, float32Bound = false): { run: NetRun; K: number } {
  const data = jobImages(job);
  const net = buildNetwork({ ...job.spec, inShape: data.shape });
  const run = trainNet(net, { X: data.X, shape: data.shape, y: data.y }, initParams(net, stream(job.initSeed, 'init')), {
    steps: job.steps, lr: 1 / data.maxSq, stopBeforeOverflow: true, float32Bound, keepEvery: KEEP_EVERY, ...(job.layerLr ? { layerLr: job.layerLr } : {}), ...(onStep ? { onStep } : {}),
  });
  return { run, K: net.degree };
}
