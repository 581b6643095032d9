import { existsSync, writeFileSync } from 'node:fs';
import { useBackend, type BackendName } from '../backend.js';
import { backpropFanIn, CHECKS, stepSquaresAnnotator } from '../checks.js';
import { storedFilesOf, storeDir, type Counterexample } from '../counterexamples.js';
import { parseDataset, readJsonFile } from '../data.js';
import { DivergenceError, InputError } from '../errors.js';
import { checkWeights } from '../model.js';
import { train, type TrainRecord } from '../train.js';
import { parseOptions } from './args.js';
import { emit, toJson } from './output.js';
import type { LinearJob } from '../real/linear-job.js';
import type { NetJob } from '../real/net-job.js';

export const REPLAY_USAGE = 'theory3 replay FILE|ID [--out TRAJ.json] [--plot OUT.svg]';

/**
 * `replay`: re-runs a stored counterexample's training job on the backend it was found on, says
 * which claim it violates and by how much, writes the trajectory in the `train` output format and
 * plots it. Exit 0 when the violation reproduces, 1 when it does not.
 */
export async function runReplay(argv: string[]): Promise<void> {
  const { values, positionals } = parseOptions(argv, ['out', 'plot'], 'replay');
  if (positionals.length !== 1) throw new InputError(`replay needs exactly one counterexample file or id (${REPLAY_USAGE})`);
  const file = resolveStored(positionals[0]);
  const c = readJsonFile(file, 'counterexample') as Partial<Counterexample> | null;
  if (typeof c !== 'object' || c === null || typeof c.property !== 'string') throw new InputError(`${file} is not a counterexample file (no "property")`);
  if (c.netJob) return replayNetJob(file, c as Counterexample & { netJob: NetJob }, values);
  if (c.linearJob) return replayLinearJob(file, c as Counterexample & { linearJob: LinearJob }, values);
  if (!c.job) throw new InputError(`${file}: property ${c.property} stored no training job; rerun it with THEORY3_SEED=${c.seed} instead`);
  const job = c.job;
  const check = CHECKS[job.check];
  if (!check) throw new InputError(`${file}: unknown check "${job.check}"`);
  const data = parseDataset(job.data, `${file} job.data`);
  const init = checkWeights(job.init, job.options.model, data.X[0].length, `${file} job.init`);
  const backend = (c.backend ?? 'wasm') as BackendName;
  await useBackend(backend);

  let run: ReturnType<typeof train>;
  try {
    run = train(data, init, job.options, { steps: job.steps, record: job.record, ...(check.needsStepSquares ? { annotate: stepSquaresAnnotator() } : {}) });
  } catch (e) {
    if (!(e instanceof DivergenceError)) throw e;
    // A run that leaves the finite numbers violates every claim about it; there is no trajectory to write.
    process.stdout.write(`${c.property}: violates ${check.claim} (${job.check}): training diverged: ${e.message}\n`);
    if (values.out !== undefined || values.plot !== undefined) process.stderr.write('theory3: warning: no trajectory to write or plot: the run diverged\n');
    return;
  }
  const { records, weights } = run;
  const verdict = check.run(records, { ...job.options, n: data.X.length, fanIn: backpropFanIn(data.X.length, job.options.model.width, data.X[0].length) });
  const trajectory = { config: { ...job.options, steps: job.steps, record: job.record, replayOf: file }, backend, records, weights };
  if (values.out !== undefined) emit(toJson(trajectory), values.out);
  if (values.plot !== undefined) {
    await writePlot(values.plot, records, `${c.property} (${job.check})`);
  }
  const line = verdict
    ? `${c.property}: violates ${check.claim} (${job.check}): ${verdict}`
    : `${c.property}: does NOT reproduce: ${check.claim} (${job.check}) holds on this run (stored failure: ${c.failure})`;
  // With --out the trajectory owns no stdout; the verdict goes to stdout either way, as one line.
  process.stdout.write(line + '\n');
  if (!verdict) process.exitCode = 1;
}

/** A counterexample's file: the argument itself, or, for an id (12 hex digits) that is not a file, `<store>/<property>/<id>.json`. */
function resolveStored(arg: string): string {
  if (!/^[0-9a-f]{12}$/.test(arg) || existsSync(arg)) return arg;
  const found = storedFilesOf(arg);
  if (found.length === 0) throw new InputError(`no counterexample ${arg} in ${storeDir()} (give its file, or set THEORY3_STORE)`);
  if (found.length > 1) throw new InputError(`counterexample id ${arg} is stored under several properties: ${found.join(', ')}; give the file`);
  return found[0];
}

/**
 * A linear model on real images: the images are read from the IDX file the job names, by position,
 * the SVM of those images is solved again, and the run is checked as the property did
 * (src/real/linear-job.ts) against the prediction the job names (the SVM, or its wrong oracle).
 */
async function replayLinearJob(file: string, c: Counterexample & { linearJob: LinearJob }, values: { out?: string; plot?: string }): Promise<void> {
  const { LINEAR_CHECKS, checkLinearJob, runLinearJob } = await import('../real/linear-job.js');
  const job = checkLinearJob(c.linearJob, file);
  const check = LINEAR_CHECKS[job.check];
  if (!check) throw new InputError(`${file}: unknown check "${job.check}"`);
  const backend = (c.backend ?? 'wasm') as BackendName;
  await useBackend(backend);
  const run = runLinearJob(job);
  const verdict = check.run(run);
  if (values.out !== undefined) emit(toJson({ config: { ...job, replayOf: file }, backend, gammaStar: run.svm.gamma, svm: run.svm.w, records: run.records, weights: run.weights.at(-1) }), values.out);
  if (values.plot !== undefined) await writePlot(values.plot, run.records, `${c.property} (${job.check})`);
  reportImagesVerdict(c, check.claim, job, verdict);
}

/**
 * A network run on real images: the images are read from the IDX file the job names, by position,
 * and the run is measured and checked as the property did (src/real/net-checks.ts).
 */
async function replayNetJob(file: string, c: Counterexample & { netJob: NetJob }, values: { out?: string; plot?: string }): Promise<void> {
  const [{ NET_CHECKS, analyseNetRun }, { checkNetJob, runNetJob }] = await Promise.all([import('../real/net-checks.js'), import('../real/net-job.js')]);
  const job = checkNetJob(c.netJob, file);
  const check = NET_CHECKS[job.check];
  if (!check) throw new InputError(`${file}: unknown check "${job.check}"`);
  const backend = (c.backend ?? 'wasm') as BackendName;
  await useBackend(backend);
  const { run, K } = runNetJob(job, undefined, check.float32Bound);
  const verdict = check.run(analyseNetRun(run, K));
  if (values.out !== undefined) {
    // Figures a record does not have yet are left out, not written as NaN: the stationarity gap and
    // the loss before the step at step 0, the KKT slackness before L < 1.
    const undefinedYet = new Set(['stationarityGap', 'slackness', 'logLossBefore']);
    const records = run.records.map((r) => Object.fromEntries(Object.entries(r).filter(([k, v]) => !(undefinedYet.has(k) && Number.isNaN(v)))));
    const params = run.params.map((W) => Array.from(W));
    emit(toJson({ config: { ...job, replayOf: file }, backend, degree: K, records, params }), values.out);
  }
  if (values.plot !== undefined) {
    await writePlot(values.plot, run.records, `${c.property} (${job.check})`);
  }
  reportImagesVerdict(c, check.claim, job, verdict);
}

/** The replay's one line for a job on real images; exit code 1 when the stored failure does not reproduce. */
function reportImagesVerdict(c: Counterexample, claim: string, job: { check: string; images: { path: string; index: number[] } }, verdict: string | null): void {
  const images = `${job.images.index.length} images (${job.images.path} positions ${job.images.index.join(',')})`;
  const line = verdict
    ? `${c.property}: violates ${claim} (${job.check}) on ${images}: ${verdict}`
    : `${c.property}: does NOT reproduce: ${claim} (${job.check}) holds on ${images} (stored failure: ${c.failure})`;
  process.stdout.write(line + '\n');
  if (!verdict) process.exitCode = 1;
}

/** The trajectory's plots as one SVG file; vega (~0.6 s of CPU to import) loads only for --plot. */
async function writePlot(path: string, records: TrainRecord[], title: string): Promise<void> {
  const { renderSvg, trajectoryCharts } = await import('../plot.js');
  const svg = await renderSvg(trajectoryCharts(records, title));
  try {
    writeFileSync(path, svg);
  } catch (e) {
    throw new InputError(`cannot write --plot ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
