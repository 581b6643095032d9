/**
 * Flake audit: runs the property suite N times with fresh fast-check seeds and tabulates every
 * failure with its seed (replay one with THEORY3_SEED=<seed> npx vitest -t "<test>").
 * Usage: npm run audit:flake -- --runs N   (writes report/flake-audit.json)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  process.stderr.write(`theory3: --runs must be a positive integer, got ${values.runs}\n`);
  process.exit(1);
}

interface Failure { run: number; seed: number; test: string; message: string }
const failures: Failure[] = [];
const seeds: number[] = [];
const json = join(tmpdir(), `theory3-audit-${process.pid}.json`);
for (let run = 1; run <= runs; run++) {
  const seed = 1 + Math.floor(Math.random() * 2 ** 31);
  seeds.push(seed);
  process.stderr.write(`run ${run}/${runs}, seed ${seed} … `);
  // Empty store: stored counterexamples would replay old failures instead of drawing fresh cases.
  const store = join(tmpdir(), `theory3-audit-store-${process.pid}-${run}`);
  spawnSync(process.execPath, [join('node_modules', 'vitest', 'vitest.mjs'), 'run', 'properties/', '--reporter=json', `--outputFile.json=${json}`], {
    env: { ...process.env, THEORY3_SEED: String(seed), THEORY3_STORE: store },
    stdio: 'ignore',
  });
  rmSync(store, { recursive: true, force: true });
  let result: { numFailedTests: number; testResults: { assertionResults: { title: string; status: string; failureMessages: string[] }[] }[] };
  try {
    result = JSON.parse(readFileSync(json, 'utf8'));
  } catch {
    failures.push({ run, seed, test: '(the suite did not run)', message: '' });
    process.stderr.write('no result\n');
    continue;
  }
  const failed = result.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status === 'failed'));
  for (const a of failed) failures.push({ run, seed, test: a.title, message: (a.failureMessages[0] ?? '').split('\n')[0].slice(0, 200) });
  process.stderr.write(failed.length === 0 ? 'all passed\n' : `${failed.length} failed\n`);
}
rmSync(json, { force: true });
mkdirSync('report', { recursive: true });
writeFileSync(join('report', 'flake-audit.json'), JSON.stringify({ runs, seeds, failures }, null, 1) + '\n');
console.log(`| run | seed | test | message |\n|---|---|---|---|`);
for (const f of failures) console.log(`| ${f.run} | ${f.seed} | ${f.test} | ${f.message.replace(/\|/g, '\\|')} |`);
console.log(`\n${runs} runs, ${failures.length} failures`);
process.exitCode = failures.length === 0 ? 0 : 1;
