import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { resolveProfile } from '../profile.js';
import { InputError } from '../errors.js';
import type { RunInfo } from '../report/data.js';
import type { Report, TestOutcome } from '../report/model.js';
import { parseOptions } from './args.js';

/**
 * The report's modules (vega among them: ~0.6 s of CPU to import) load only when a report is
 * written, so that a bad option or THEORY3_* variable is refused at once.
 */
const reportModules = async () => {
  const [data, html, model, plots, violations] = await Promise.all([
    import('../report/data.js'), import('../report/html.js'), import('../report/model.js'), import('../report/plots.js'), import('../report/violations.js'),
  ]);
  return { ...data, ...html, ...model, ...plots, ...violations };
};

export const VERIFY_USAGE = `theory3 verify [--report DIR] [--shard I/N] [vitest filters…]
  theory3 verify --merge DIR [--report OUT]
  theory3 verify --baseline FILE [--step-multiplier M]
  theory3 verify --update-baseline [--baseline FILE]`;

interface VitestJson {
  testResults: { assertionResults: { title: string; status: string; duration?: number | null; failureMessages?: string[] }[] }[];
}

const VITEST = join('node_modules', 'vitest', 'vitest.mjs');

function runVitest(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise<number>((done, fail) => {
    const child = spawn(process.execPath, [VITEST, ...args], { env, stdio: ['ignore', process.stderr, process.stderr] });
    child.on('error', fail);
    child.on('close', (c) => done(c ?? 1));
  });
}

function readOutcomes(jsonFile: string, code: number): TestOutcome[] {
  if (!existsSync(jsonFile)) throw new InputError(`the test run wrote no results (exit ${code}); see the messages above`);
  const json = JSON.parse(readFileSync(jsonFile, 'utf8')) as VitestJson;
  return json.testResults.flatMap((f) =>
    f.assertionResults.map((a) => ({ title: a.title, status: a.status, seconds: (a.duration ?? 0) / 1000, ...(a.failureMessages?.length ? { failure: a.failureMessages.join('\n') } : {}) })),
  );
}

/**
 * The main job: runs every claim and negative control (the vitest suite of properties/), with
 * vitest's progress on stderr, and writes DIR/report.json and DIR/index.html (default: report/).
 * With --shard I/N it runs one shard and also leaves vitest's blob report beside its data, for
 * --merge, which builds the one report of all shards. --baseline and --update-baseline check or
 * rewrite the baseline of key figures instead (src/baseline/). Exit 0 iff every claim holds and
 * every negative control fails as predicted (or the baseline did not move).
 */
export async function runVerify(argv: string[]): Promise<void> {
  const { values, positionals } = parseOptions(argv, ['report', 'shard', 'merge', 'baseline', 'step-multiplier', 'profile'], 'verify', ['update-baseline']);
  // --profile P is THEORY3_PROFILE=P for this run (real: the real-data runs of properties/real/)
  if (values.profile !== undefined) process.env.THEORY3_PROFILE = values.profile;
  if (values['update-baseline'] || values.baseline !== undefined) {
    const { runBaselineCommand } = await import('../baseline/command.js');
    await runBaselineCommand({ file: values.baseline, update: values['update-baseline'] === 'true', stepMultiplier: values['step-multiplier'] });
    return;
  }
  const dir = resolve(values.report ?? 'report');
  if (values.merge !== undefined) return mergeShards(resolve(values.merge), dir);
  const shard = values.shard;
  if (shard !== undefined && !/^[1-9]\d*\/[1-9]\d*$/.test(shard)) throw new InputError(`--shard must be I/N with 1 ≤ I ≤ N, got "${shard}"`);
  if (shard !== undefined && Number(shard.split('/')[0]) > Number(shard.split('/')[1])) throw new InputError(`--shard must be I/N with 1 ≤ I ≤ N, got "${shard}"`);
  const work = join(dir, 'data');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  let profile: ReturnType<typeof resolveProfile>;
  try {
    profile = resolveProfile(process.env);
  } catch (e) {
    throw new InputError((e as Error).message);
  }
  const started = Date.now();
  const jsonFile = join(work, 'vitest.json');
  const shardArgs = shard ? [`--shard=${shard}`, '--reporter=blob', `--outputFile.blob=${join(dir, `blob-${shard.replace('/', '-')}.json`)}`] : [];
  const code = await runVitest(
    ['run', ...(positionals.length ? positionals : ['properties/']), '--reporter=default', '--reporter=json', `--outputFile.json=${jsonFile}`, ...shardArgs],
    // The profile's seed is passed on, so that the report names the seed every worker used.
    { ...process.env, THEORY3_SEED: String(profile.seed), THEORY3_REPORT_DIR: work },
  );
  const outcomes = readOutcomes(jsonFile, code);
  const run: RunInfo = { profile: profile.name, seed: profile.seed, backend: profile.backend, shard: shard ?? null, seconds: (Date.now() - started) / 1000 };
  writeFileSync(join(work, 'run.json'), JSON.stringify(run) + '\n');
  await writeReport(dir, outcomes, [work], [run]);
}

/** Every blob-*.json under `root`, each with the data folder beside it. */
function findShards(root: string, depth = 4): { blob: string; data: string }[] {
  if (depth < 0 || !existsSync(root)) return [];
  return readdirSync(root).sort().flatMap((n) => {
    const p = join(root, n);
    if (statSync(p).isDirectory()) return findShards(p, depth - 1);
    return /^blob-.*\.json$/.test(n) ? [{ blob: p, data: join(dirname(p), 'data') }] : [];
  });
}

async function mergeShards(root: string, dir: string): Promise<void> {
  const shards = findShards(root);
  if (shards.length === 0) throw new InputError(`--merge ${root}: no shard blob reports (blob-*.json) found there`);
  const work = join(dir, 'data');
  rmSync(work, { recursive: true, force: true });
  const blobs = join(work, 'blobs');
  mkdirSync(blobs, { recursive: true });
  // Each shard's run data travels with the report: copied under report/data/shard-<k>/.
  const dataDirs = shards.map((s, k) => {
    cpSync(s.blob, join(blobs, `${k + 1}-${basename(s.blob)}`));
    const to = join(work, `shard-${k + 1}`);
    if (existsSync(s.data)) cpSync(s.data, to, { recursive: true });
    return to;
  });
  const jsonFile = join(work, 'vitest.json');
  const code = await runVitest(['--merge-reports', blobs, '--reporter=json', `--outputFile.json=${jsonFile}`], process.env);
  const outcomes = readOutcomes(jsonFile, code);
  const runs = (await reportModules()).readRunData(dataDirs).runs;
  process.stderr.write(`theory3: merged ${shards.length} shard(s) from ${relative(process.cwd(), root) || root}: ${outcomes.length} tests\n`);
  await writeReport(dir, outcomes, dataDirs, runs);
}

async function writeReport(dir: string, outcomes: TestOutcome[], dataDirs: string[], runs: RunInfo[]): Promise<void> {
  const { readRunData, buildReport, plotsOf, violationViews, reportHtml } = await reportModules();
  const data = readRunData(dataDirs);
  const report: Report = buildReport(outcomes, data, {
    profile: [...new Set(runs.map((r) => r.profile))].join('+') || 'unknown',
    seeds: [...new Set(runs.map((r) => r.seed))],
    backend: [...new Set(runs.map((r) => r.backend))].join('+') || 'unknown',
    shards: Math.max(1, runs.length),
    seconds: runs.reduce((s, r) => Math.max(s, r.seconds), 0),
  });
  const plots = await plotsOf(data);
  const violations = await violationViews(report, data);
  writeFileSync(join(dir, 'report.json'), JSON.stringify(report, null, 1) + '\n');
  writeFileSync(join(dir, 'index.html'), reportHtml(report, plots, violations));
  for (const c of report.claims) {
    process.stderr.write(`${c.verdict.padEnd(19)} ${c.id}\n`);
    for (const n of c.controls) process.stderr.write(`${n.verdict.padEnd(19)}   ${n.id}\n`);
  }
  process.stderr.write(`theory3: report written to ${join(dir, 'index.html')} and report.json: ${report.ok ? 'every claim holds and every control fails as predicted' : 'NOT all claims verified'}\n`);
  if (!report.ok) process.exitCode = 1;
}
