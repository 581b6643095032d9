import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../backend.js';
import { InputError } from '../errors.js';
import { parseNumber } from '../cli/args.js';
import { resolveProfile } from '../profile.js';
import { compareBaseline, comparisonLine, measureBaseline, type BaselineFile } from './compare.js';
import { runBaseline } from './run.js';

export const DEFAULT_BASELINE = 'baseline/figures.json';

/**
 * `verify --baseline FILE`: re-runs the baseline's fixed-seed trainings and reports figure by
 * figure what moved beyond its tolerance (exit 1 if anything did). `verify --update-baseline`
 * rewrites the file on purpose, tolerances included.
 */
export async function runBaselineCommand(o: { file?: string; update: boolean; stepMultiplier?: string }): Promise<void> {
  const file = o.file ?? DEFAULT_BASELINE;
  const stepMultiplier = o.stepMultiplier === undefined ? 1 : parseNumber(o.stepMultiplier, 'step-multiplier');
  if (!(stepMultiplier > 0)) throw new InputError(`--step-multiplier must be a positive number, got ${o.stepMultiplier}`);
  let backend: 'wasm' | 'cpu';
  try {
    backend = resolveProfile(process.env).backend;
  } catch (e) {
    throw new InputError((e as Error).message);
  }
  await useBackend(backend);
  if (o.update) {
    if (stepMultiplier !== 1) throw new InputError('--update-baseline records the stepper as built: drop --step-multiplier');
    const measured = measureBaseline(backend, tf.version['tfjs-core']);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(measured, null, 1) + '\n');
    process.stderr.write(`theory3: baseline of ${Object.keys(measured.figures).length} figures written to ${file}\n`);
    return;
  }
  let base: BaselineFile;
  try {
    base = JSON.parse(readFileSync(file, 'utf8')) as BaselineFile;
  } catch (e) {
    throw new InputError(`cannot read baseline ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (typeof base?.figures !== 'object' || base.figures === null) throw new InputError(`${file} is not a baseline file (no "figures")`);
  if (base.backend !== backend) process.stderr.write(`theory3: warning: the baseline was measured on ${base.backend}, this run uses ${backend}\n`);
  const rows = compareBaseline(base, runBaseline({ stepMultiplier }));
  for (const r of rows) process.stdout.write(comparisonLine(r) + '\n');
  const moved = rows.filter((r) => r.moved);
  process.stderr.write(`theory3: ${moved.length === 0 ? `baseline holds: ${rows.length} figures within tolerance` : `${moved.length} of ${rows.length} figures moved beyond their tolerance`} (${file})\n`);
  if (moved.length) process.exitCode = 1;
}
