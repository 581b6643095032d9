import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Counterexample } from '../counterexamples.js';
import type { TrainRecord } from '../train.js';

/**
 * The data a verification run leaves in its report folder (THEORY3_REPORT_DIR, see
 * properties/store.ts and properties/evidence.ts), read back for the report; a sharded run leaves
 * one such folder per shard and the report reads them all.
 *   tests.jsonl           one line per test: what it ran (TestEvidence)
 *   trajectory-<id>.json  a claim's representative training run
 *   gaps-<id>.json        mean gaps against N (C7)
 *   scatter-<id>.json     points in series, drawn with their least-squares line (Memo 091)
 *   images-<id>.json      small grayscale images with captions (support vectors on real data)
 *   counterexamples/<property>/<id>.json   counterexamples stored during the run
 *   run.json              profile, seed, backend, shard, seconds of the run
 */

export interface StoreRun { id: string; runs: number; failed: boolean; counterexample?: string }
export interface Figure { name: string; value: number; predicted?: string; unit?: string }
export interface TestEvidence {
  title: string;
  file: string;
  cases: number;
  skipped: number;
  shrinks: number;
  steps: number;
  trainings: number;
  maxRho: number | null;
  maxLogT: number | null;
  replicates: number;
  checks: number;
  storeRuns: StoreRun[];
  figures: Figure[];
}
export interface Trajectory { id: string; test?: string; records: TrainRecord[]; figures: Record<string, number> }
export interface GapPoint { n: number; gap: number; which: string; lower?: number; upper?: number; bound?: number; replicates?: number }
export interface GapSet { id: string; test?: string; points: GapPoint[] }
export interface ScatterSet { id: string; test?: string; title: string; xTitle: string; yTitle: string; points: { x: number; y: number; series: string }[] }
export interface ImageSet { id: string; test?: string; title: string; shape: [number, number]; images: { pixels: number[]; caption: string }[] }
export interface StoredCase { property: string; id: string; file: string; content: Counterexample }
export interface RunInfo { profile: string; seed: number; backend: string; shard: string | null; seconds: number }

export interface RunData {
  tests: TestEvidence[];
  trajectories: Trajectory[];
  gaps: GapSet[];
  scatters: ScatterSet[];
  images: ImageSet[];
  counterexamples: StoredCase[];
  runs: RunInfo[];
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

/** Reads one or several data folders; `base` makes the counterexample paths relative (for replay commands). */
export function readRunData(dirs: string[], base = process.cwd()): RunData {
  const data: RunData = { tests: [], trajectories: [], gaps: [], scatters: [], images: [], counterexamples: [], runs: [] };
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    const names = readdirSync(dir).sort();
    const tests = join(dir, 'tests.jsonl');
    if (existsSync(tests)) {
      data.tests.push(...readFileSync(tests, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as TestEvidence));
    }
    for (const n of names) {
      // A claim's file runs on one shard only, so the same id from two folders means the same run reported twice: keep the first.
      if (n.startsWith('trajectory-')) {
        const t = readJson<Trajectory>(join(dir, n));
        if (!data.trajectories.some((x) => x.id === t.id)) data.trajectories.push(t);
      } else if (n.startsWith('gaps-')) {
        const g = readJson<GapSet>(join(dir, n));
        if (!data.gaps.some((x) => x.id === g.id)) data.gaps.push(g);
      } else if (n.startsWith('scatter-')) {
        const g = readJson<ScatterSet>(join(dir, n));
        if (!data.scatters.some((x) => x.id === g.id)) data.scatters.push(g);
      } else if (n.startsWith('images-')) {
        const g = readJson<ImageSet>(join(dir, n));
        if (!data.images.some((x) => x.id === g.id)) data.images.push(g);
      }
    }
    if (existsSync(join(dir, 'run.json'))) data.runs.push(readJson<RunInfo>(join(dir, 'run.json')));
    const store = join(dir, 'counterexamples');
    if (existsSync(store)) {
      for (const property of readdirSync(store).sort()) {
        for (const f of readdirSync(join(store, property)).filter((x) => x.endsWith('.json')).sort()) {
          const file = join(store, property, f);
          data.counterexamples.push({ property, id: f.replace(/\.json$/, ''), file: relative(base, file) || file, content: readJson<Counterexample>(file) });
        }
      }
    }
  }
  return data;
}
