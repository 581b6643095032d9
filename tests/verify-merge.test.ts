import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import type { Report } from '../src/report/model.js';
import { inMutationRun } from './harness.js';

/**
 * An explore run split over machines, made small: two shards of two small property files (the
 * ci run counts), each `verify --shard I/2` with its own report folder, then `verify --merge` of both.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
// Two of the cheapest property files (each ~1 s of training at the ci counts): what is tested here
// is the sharding and the merge, not the claims, which the suite checks on its own run of them.
const FILES = ['properties/c3-linear-rate.prop.ts', 'properties/c1-balance-identity.prop.ts'];
const dir = mkdtempSync(join(tmpdir(), 'theory3-merge-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function verify(args: string[]): Promise<{ code: number; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, THEORY3_STORE: join(dir, 'store'), THEORY3_PROFILE: 'ci', THEORY3_SEED: '20190314' };
  delete env.THEORY3_REPORT_DIR;
  return new Promise((done) => {
    execFile(join(root, 'node_modules/.bin/tsx'), ['src/cli.ts', 'verify', ...args], { cwd: root, env, maxBuffer: 64 << 20 }, (err, _out, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr });
    });
  });
}

const json = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Report;

describe.skipIf(inMutationRun)('verify --merge: shards of an explore run give one report', () => {
  test('two shards merged hold every claim and control of the subset exactly once, with the union of their runs', async () => {
    const shards = await Promise.all([1, 2].map((i) => verify(['--shard', `${i}/2`, '--report', join(dir, 'shards', `shard-${i}`), ...FILES])));
    for (const s of shards) expect(s.code, s.stderr.slice(-2000)).toBe(0);
    const parts = [1, 2].map((i) => json(join(dir, 'shards', `shard-${i}`, 'report.json')));
    // vitest shards by file: each shard ran one of the two files
    expect(parts.map((p) => p.claims.map((c) => c.id).sort())).toEqual(expect.arrayContaining([['C1'], ['C3']]));

    const merged = await verify(['--merge', join(dir, 'shards'), '--report', join(dir, 'merged')]);
    expect(merged.code, merged.stderr.slice(-2000)).toBe(0);
    const report = json(join(dir, 'merged', 'report.json'));
    expect(report.schemaVersion).toBe(1);
    expect(report.shards).toBe(2);
    expect(report.claims.map((c) => c.id)).toEqual(['C1', 'C3']);
    const ids = report.claims.flatMap((c) => [c.id, ...c.controls.map((n) => n.id)]);
    expect(new Set(ids).size).toBe(ids.length);
    const shardIds = parts.flatMap((p) => p.claims.flatMap((c) => [c.id, ...c.controls.map((n) => n.id)]));
    expect([...ids].sort()).toEqual([...shardIds].sort());
    // the union of the runs: every count of the merged report is the sum over the shards
    const total = (r: Report, k: 'cases' | 'steps' | 'tests') => r.claims.reduce((s, c) => s + c.evidence[k] + c.controls.reduce((t, n) => t + n.evidence[k], 0), 0);
    for (const k of ['cases', 'steps', 'tests'] as const) expect(total(report, k)).toBe(total(parts[0], k) + total(parts[1], k));
    expect(report.claims.every((c) => c.evidence.cases > 0 && c.evidence.steps > 0)).toBe(true);
    // counterexamples found on a shard travel with the merged report, and their replay command points at them
    const ce = report.claims.flatMap((c) => c.controls.flatMap((n) => n.counterexamples));
    expect(ce.length).toBeGreaterThan(0);
    for (const c of ce) expect(existsSync(join(root, c.file)) || existsSync(c.file)).toBe(true);
    const html = readFileSync(join(dir, 'merged', 'index.html'), 'utf8');
    expect(html).toContain('2 shards merged');
    expect(html).toContain('id="summary"');
  }, 120_000);
});
