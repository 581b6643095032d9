import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { CHECKS } from '../src/checks.js';
import { saveCounterexample, storedInputs, type StoredJob } from '../src/counterexamples.js';
import type { TrainRecord } from '../src/train.js';

/**
 * fast-check with a memory: stored counterexamples of the property run first, and a new failure
 * is stored (with the training job that reproduces it, for `theory3 replay`).
 */
export interface ClaimProperty<T> {
  /** Store folder name, e.g. "C4-smoothed-margin"; starts with the claim id. */
  id: string;
  arb: fc.Arbitrary<T>;
  /** Returns false or throws when the case violates the claim. */
  predicate: (input: T) => boolean | void;
  /** The training run behind a case, so that `replay` can re-run and re-check it. */
  job?: (input: T) => StoredJob;
  params: fc.Parameters<[T]>;
}

/** Runs the property (stored cases first); on failure stores the shrunk case. */
export function checkProperty<T>(p: ClaimProperty<T>): fc.RunDetails<[T]> {
  const examples = storedInputs(p.id) as [T][];
  const details = fc.check(fc.property(p.arb, p.predicate), { ...p.params, examples: [...examples, ...(p.params.examples ?? [])] });
  reportRun(p.id, details);
  if (details.failed && details.counterexample) {
    const input = details.counterexample[0];
    const job = p.job?.(input);
    if (job && !(job.check in CHECKS)) throw new Error(`unknown check ${job.check}`);
    saveCounterexample({
      property: p.id,
      claim: p.id.split('-')[0] === 'N' ? p.id.split('-').slice(0, 2).join('-') : p.id.split('-')[0],
      seed: details.seed,
      path: details.counterexamplePath ?? '',
      counterexample: details.counterexample,
      ...(job ? { job } : {}),
      failure: details.errorInstance ? String((details.errorInstance as Error).message ?? details.errorInstance) : 'the predicate returned false',
    });
  }
  return details;
}

/** Like fc.assert: throws fast-check's report when the property fails. */
export function assertProperty<T>(p: ClaimProperty<T>): void {
  const details = checkProperty(p);
  if (details.failed) {
    const cause = details.errorInstance;
    const reason = cause instanceof Error ? cause.message : cause === undefined ? 'the predicate returned false' : String(cause);
    throw new Error(`${fc.defaultReportMessage(details)}\nCaused by: ${reason}`, { cause });
  }
}

/**
 * For `npm run verify`: when THEORY3_REPORT_DIR is set, a property leaves its run count and one
 * representative trajectory there, for the report's figures and plots.
 */
export function reportRun(id: string, details: { numRuns: number; seed: number; failed: boolean }): void {
  const dir = process.env.THEORY3_REPORT_DIR;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  appendFileSync(join(dir, 'runs.jsonl'), JSON.stringify({ id, runs: details.numRuns, seed: details.seed, failed: details.failed }) + '\n');
}

export function reportTrajectory(id: string, records: TrainRecord[], figures: Record<string, number> = {}): void {
  const dir = process.env.THEORY3_REPORT_DIR;
  if (!dir) return;
  const file = join(dir, `trajectory-${id}.json`);
  if (existsSync(file)) return; // the first run is the representative one
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, JSON.stringify({ id, records, figures }));
}

/** C7's mean gaps against N, for the report's log–log plot. */
export function reportGaps(id: string, points: { n: number; gap: number; which: string }[]): void {
  const dir = process.env.THEORY3_REPORT_DIR;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `gaps-${id}.json`), JSON.stringify({ id, points }));
}
