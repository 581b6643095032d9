import fc from 'fast-check';
import type { NetSpec } from '../../src/nn/network.js';
import { classPositions, type ImagePositions, type NetJob } from '../../src/real/net-job.js';

/**
 * The drawn cases of nets.prop.ts: a Fashion-MNIST pair, a few of its training images, a small
 * CNN or MLP, a number of loss-based steps, an init seed — and their stored form for replay.
 */
export const TRAIN = 'data/fashion-mnist/train-images-idx3-ubyte.gz';

/** One experiment: images as positions among the first images of each class of the pair (class-relative, so that shrinking keeps both classes). */
export interface NetCase {
  pair: [number, number];
  neg: number[];
  pos: number[];
  kind: 'cnn' | 'mlp';
  /** Channels per conv layer, or widths of the hidden layers. */
  widths: number[];
  steps: number;
  seed: number;
}

/** Drawn cases shrink towards trouser/bag, one image of each class, one conv layer of one channel, one step, seed 1. */
export const netCaseArb: fc.Arbitrary<NetCase> = fc.record({
  pair: fc.constantFrom<[number, number]>([1, 8], [5, 7], [0, 6]),
  neg: fc.uniqueArray(fc.nat({ max: 99 }), { minLength: 1, maxLength: 16 }),
  pos: fc.uniqueArray(fc.nat({ max: 99 }), { minLength: 1, maxLength: 16 }),
  kind: fc.constantFrom<'cnn' | 'mlp'>('cnn', 'mlp'),
  widths: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 2 }),
  steps: fc.integer({ min: 1, max: 300 }),
  seed: fc.integer({ min: 1, max: 1000 }),
});

export const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const specOf = (c: NetCase): NetSpec =>
  c.kind === 'cnn'
    ? { kind: 'cnn', inShape: [28, 28, 1], channels: c.widths, kernel: 3, pool: 'avg', poolSize: 2, padding: 'valid' }
    : { kind: 'mlp', inShape: [784], widths: c.widths, relu: true };

/** Class-relative image choices as positions in the IDX file, in file order (a stored job's images). */
export function imagePositions(c: { pair: [number, number]; neg: number[]; pos: number[] }): ImagePositions {
  const [neg, pos] = classPositions(TRAIN, c.pair, Math.max(...c.neg, ...c.pos) + 1);
  const index = [...c.neg.map((i) => neg[i]), ...c.pos.map((i) => pos[i])].sort((a, b) => a - b);
  return { path: TRAIN, classes: c.pair, index };
}

/** The stored, replayable form of a case: its images as positions in the IDX file, in file order. */
export function netJob(c: NetCase, check: string, layerLr?: number[]): NetJob {
  return { kind: 'net', images: imagePositions(c), spec: specOf(c), initSeed: c.seed, steps: c.steps, ...(layerLr ? { layerLr } : {}), check };
}

