import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resolveProfile } from '../profile.js';
import { InputError } from '../errors.js';
import { claimEntries, claimPlots, reportHtml, type TestOutcome } from '../report/report.js';
import { parseOptions } from './args.js';

interface VitestJson {
  testResults: { assertionResults: { title: string; status: string; duration?: number; failureMessages?: string[] }[] }[];
}

/**
 * The main job: runs every claim and negative control (the vitest suite of properties/), with
 * vitest's progress on stderr, and writes DIR/report.json and DIR/index.html (default: report/).
 * Exit 0 iff every claim holds and every negative control fails as predicted.
 */
export async function runVerify(argv: string[]): Promise<void> {
  const { values, positionals } = parseOptions(argv, ['report'], 'verify');
  const dir = resolve(values.report ?? 'report');
  const work = join(dir, 'data');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const profile = resolveProfile(process.env);
  const started = Date.now();
  const jsonFile = join(work, 'vitest.json');
  const code = await new Promise<number>((done, fail) => {
    const child = spawn(
      process.execPath,
      [join('node_modules', 'vitest', 'vitest.mjs'), 'run', 'properties/', ...positionals, '--reporter=default', '--reporter=json', `--outputFile.json=${jsonFile}`],
      // The profile's seed is passed on, so that the report names the seed every worker used.
      { env: { ...process.env, THEORY3_SEED: String(profile.seed), THEORY3_REPORT_DIR: work }, stdio: ['ignore', process.stderr, process.stderr] },
    );
    child.on('error', fail);
    child.on('close', (c) => done(c ?? 1));
  });
  if (!existsSync(jsonFile)) throw new InputError(`the test run wrote no results (exit ${code}); see the messages above`);
  const json = JSON.parse(readFileSync(jsonFile, 'utf8')) as VitestJson;
  const tests: TestOutcome[] = json.testResults.flatMap((f) =>
    f.assertionResults.map((a) => ({ title: a.title, status: a.status, seconds: (a.duration ?? 0) / 1000, failure: a.failureMessages?.join('\n') || undefined })),
  );
  const claims = claimEntries(tests, profile.seed, work);
  const report = { claims, seed: profile.seed, profile: profile.name, backend: profile.backend, seconds: (Date.now() - started) / 1000 };
  writeFileSync(join(dir, 'report.json'), JSON.stringify({ ...report, claims: claims.map(({ tests: _t, ...c }) => c) }, null, 1) + '\n');
  writeFileSync(join(dir, 'index.html'), reportHtml(report, await claimPlots(work)));
  const ok = claims.length > 0 && claims.every((c) => c.verdict === 'holds' || c.verdict === 'fails-as-predicted');
  for (const c of claims) process.stderr.write(`${c.verdict.padEnd(19)} ${c.id}\n`);
  process.stderr.write(`theory3: report written to ${join(dir, 'index.html')} and report.json: ${ok ? 'every claim holds and every control fails as predicted' : 'NOT all claims verified'}\n`);
  if (!ok) process.exitCode = 1;
}
