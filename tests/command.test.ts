/**
 * The `theory3` command as a user meets it (bin/theory3.mjs, what `npx theory3` runs): help for
 * the command and every subcommand on stdout with exit 0, the version, and a bad THEORY3_*
 * variable reported as the user's mistake (one line, exit 1), not as an internal error (exit 3).
 * Help and the environment checks import neither tfjs nor vitest, so each spawn is quick.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { COMMAND_HELP, HELP } from '../src/cli/usage.js';
import { inMutationRun } from './harness.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string; bin: Record<string, string> };

interface Spawned { code: number | null; stdout: string; stderr: string }

function theory3(args: string[], env: Record<string, string> = {}): Promise<Spawned> {
  const { THEORY3_DEBUG: _d, THEORY3_PROFILE: _p, THEORY3_SEED: _s, THEORY3_RUNS: _r, THEORY3_BACKEND: _b, THEORY3_TIME_BUDGET: _t, ...base } = process.env;
  return new Promise((resolve) => {
    execFile(process.execPath, [pkg.bin.theory3, ...args], { cwd: root, env: { ...base, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe.skipIf(inMutationRun)('the theory3 command', () => {
  test('package.json names bin/theory3.mjs as the theory3 command', () => {
    expect(pkg.bin).toEqual({ theory3: 'bin/theory3.mjs' });
  });

  test('--help, -h and <command> --help print usage on stdout and exit 0; --version prints the version', async () => {
    const runs = await Promise.all([
      theory3(['--help']), theory3(['-h']), theory3(['--version']),
      theory3(['train', '--help']), theory3(['svm', '--help']), theory3(['replay', '-h']), theory3(['verify', '--help']),
      // help wins over other options, even incomplete ones
      theory3(['train', '--data', 'missing.json', '--help']),
    ]);
    const [help, h, version, train, svm, replay, verify, trainLate] = runs;
    for (const r of runs) {
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
    }
    expect(help.stdout).toMatch(/^usage: theory3 <command> \[options\]\n/);
    for (const c of ['train', 'svm', 'replay', 'verify']) expect(help.stdout).toMatch(new RegExp(`\\n  ${c} `));
    expect(help.stdout).toBe(`${HELP}\n`);
    expect(h.stdout).toBe(help.stdout);
    expect(Object.keys(COMMAND_HELP)).toEqual(['train', 'svm', 'replay', 'verify']);
    [train, svm, replay, verify].forEach((r, i) => expect(r.stdout).toBe(`${Object.values(COMMAND_HELP)[i]}\n`));
    expect(version.stdout).toBe(`${pkg.version}\n`);
    expect(train.stdout).toMatch(/^usage: theory3 train --data FILE/);
    for (const flag of ['--data', '--model', '--depth', '--width', '--loss', '--reduction', '--schedule', '--lr', '--steps', '--init', '--init-scale', '--seed', '--record', '--batch-size', '--backend', '--out']) {
      expect(train.stdout).toContain(`\n  ${flag} `);
    }
    expect(trainLate.stdout).toBe(train.stdout);
    expect(svm.stdout).toMatch(/^usage: theory3 svm --data FILE/);
    expect(replay.stdout).toMatch(/^usage: theory3 replay FILE/);
    expect(verify.stdout).toMatch(/^usage: theory3 verify/);
  });

  test('no command: the usage on stderr and exit 2; an unknown command: one line, exit 1', async () => {
    const [none, unknown] = await Promise.all([theory3([]), theory3(['trian'])]);
    expect(none.code).toBe(2);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/^usage: theory3 <command>/);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('theory3: unknown command "trian" (expected train, svm, replay or verify; see theory3 --help)\n');
  });

  // Two variables through the real command (each spawn loads the report's modules, ~1 s of CPU);
  // every variable and value is checked in-process in profile.test.ts.
  test('a bad THEORY3_* variable for verify: one line naming the variable and what it accepts, exit 1', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ THEORY3_PROFILE: 'bogus' }, 'THEORY3_PROFILE must be ci, explore or real, got "bogus"'],
      [{ THEORY3_SEED: 'abc' }, 'THEORY3_SEED must be an integer, got "abc"'],
    ];
    const runs = await Promise.all(cases.map(([env]) => theory3(['verify', '--report', 'unused-report-dir'], env)));
    // --profile P is THEORY3_PROFILE=P, checked the same way
    cases.push([{}, 'THEORY3_PROFILE must be ci, explore or real, got "bogus"']);
    runs.push(await theory3(['verify', '--profile', 'bogus', '--report', 'unused-report-dir'], {}));
    runs.forEach((r, i) => {
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`theory3: ${cases[i][1]}\n`);
      expect(r.code).toBe(1);
    });
  });
});
