import { expect, inject } from 'vitest';
import { runReplay } from '../../src/cli/replay.js';
import type { Dataset } from '../../src/data.js';
import { loadData } from '../../src/data/load.js';

/**
 * The real-data runs (properties/real/) on the shipped Fashion-MNIST subset (data/fashion-mnist/,
 * pixels in [0, 1]). Full runs only in the real profile (THEORY3_PROFILE=real, or
 * `npm run verify -- --profile real`); each file also has a fast slice that runs in every profile.
 */
export const isReal = (): boolean => inject('theory3').name === 'real';

const TRAIN = 'data/fashion-mnist/train-images-idx3-ubyte.gz';
const TEST = 'data/fashion-mnist/t10k-images-idx3-ubyte.gz';

export const PAIR_NAMES: Record<string, string> = { '1,8': 'trouser/bag', '5,7': 'sandal/sneaker', '0,6': 't-shirt/shirt' };

/** The first n training (or test) images of each class of the pair, class a labelled −1, b +1. */
export function fashionPair(a: number, b: number, n: number, split: 'train' | 'test' = 'train'): Dataset & { shape: number[] } {
  const d = loadData({ path: split === 'train' ? TRAIN : TEST, classes: [a, b], perClass: n });
  return { X: d.X, y: d.y, shape: d.shape };
}

/** A progress line on stderr every tenth of a run (vitest shows it live). */
export function progress(label: string, total: number): (step: number) => void {
  const every = Math.max(1, Math.floor(total / 10));
  const started = Date.now();
  return (step) => {
    if (step % every === 0 || step === total) process.stderr.write(`theory3 real: ${label}: step ${step}/${total} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
  };
}


/** What `theory3 replay ARGS` prints on stdout, run in this process (the command's own code). */
export async function replayOutput(args: string[]): Promise<string> {
  const write = process.stdout.write;
  let out = '';
  process.stdout.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stdout.write;
  try {
    await runReplay(args);
  } finally {
    process.stdout.write = write;
  }
  expect(process.exitCode ?? 0).toBe(0);
  return out;
}
