import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from './data.js';
import type { LinearJob } from './real/linear-job.js';
import type { NetJob } from './real/net-job.js';
import type { Weights } from './model.js';
import type { TrainOptions } from './train.js';

/**
 * The counterexample store: when a property fails, its shrunk case is written to
 * `<store>/<property>/<id>.json`, and the next run of that property tries the stored cases first
 * (fast-check `examples`), like Hypothesis's example database. The store is `.counterexamples/`
 * in the working directory, or THEORY3_STORE.
 */

/** A training run that reproduces a case: the `train` command's inputs plus the check to apply. */
export interface StoredJob {
  data: Dataset;
  init: Weights;
  options: TrainOptions;
  steps: number;
  record: number[];
  /** A key of CHECKS in src/checks.ts. */
  check: string;
}

export interface Counterexample {
  property: string;
  claim: string;
  seed: number;
  path: string;
  /** The shrunk fast-check input, as given to the predicate. */
  counterexample: unknown[];
  job?: StoredJob;
  /** A network run on real images, by image position in a shipped IDX file (src/real/net-job.ts). */
  netJob?: NetJob;
  /** A linear model on real images, by image position, with its SVM oracle (src/real/linear-job.ts). */
  linearJob?: LinearJob;
  failure: string;
  backend: string;
  versions: Record<string, string>;
}

export function storeDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.THEORY3_STORE || join(process.cwd(), '.counterexamples');
}

/** The stored fast-check inputs of a property, oldest first; unreadable files are skipped with a warning. */
export function storedInputs(property: string, dir = storeDir()): unknown[][] {
  let files: string[];
  try {
    files = readdirSync(join(dir, property)).filter((f) => f.endsWith('.json')).sort();
  } catch {
    return [];
  }
  return files.flatMap((f) => {
    try {
      const c = JSON.parse(readFileSync(join(dir, property, f), 'utf8')) as Counterexample;
      return Array.isArray(c.counterexample) ? [c.counterexample] : [];
    } catch (e) {
      process.stderr.write(`theory3: warning: skipping unreadable counterexample ${f}: ${(e as Error).message}\n`);
      return [];
    }
  });
}

/**
 * The stored files named `<id>.json` (the hash saveCounterexample names a case by), under any
 * property of the store: for `theory3 replay ID`.
 */
export function storedFilesOf(id: string, dir = storeDir()): string[] {
  let properties: string[];
  try {
    properties = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch {
    return [];
  }
  return properties.map((p) => join(dir, p, `${id}.json`)).filter((f) => existsSync(f));
}

/** Writes a counterexample; its file name is a hash of the input, so a case is stored once. */
export function saveCounterexample(c: Omit<Counterexample, 'backend' | 'versions'>, dir = storeDir()): string {
  // the property is hashed too: one case can fail two properties (a claim and a control on the same draw)
  const id = createHash('sha1').update(JSON.stringify([c.property, c.counterexample])).digest('hex').slice(0, 12);
  const folder = join(dir, c.property);
  mkdirSync(folder, { recursive: true });
  const file = join(folder, `${id}.json`);
  if (existsSync(file)) return file; // a case found again (e.g. replayed from the store) is kept as first stored
  const full: Counterexample = {
    ...c,
    backend: tf.getBackend(),
    versions: { node: process.versions.node, tfjs: tf.version['tfjs-core'] },
  };
  writeFileSync(file, JSON.stringify(full, null, 1) + '\n');
  return file;
}
