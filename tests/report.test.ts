import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { saveCounterexample } from '../src/counterexamples.js';
import { modelSpec } from '../src/model.js';
import { readRunData, type TestEvidence } from '../src/report/data.js';
import { formatNumber } from '../src/report/format.js';
import { reportHtml } from '../src/report/html.js';
import { buildReport, SCHEMA_VERSION, type TestOutcome } from '../src/report/model.js';
import { plotsOf } from '../src/report/plots.js';
import { violationViews } from '../src/report/violations.js';

const dir = mkdtempSync(join(tmpdir(), 'theory3-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const evidence = (title: string, e: Partial<TestEvidence>): TestEvidence => ({
  title, file: 'x', cases: 0, skipped: 0, shrinks: 0, steps: 0, trainings: 0, maxRho: null, maxLogT: null, replicates: 0, checks: 0, storeRuns: [], figures: [], ...e,
});

/** A run where C4 is violated (with a stored, replayable counterexample) and C7 holds. */
function violatedRun() {
  const data = join(dir, 'data');
  mkdirSync(join(data, 'counterexamples'), { recursive: true });
  const file = saveCounterexample({
    property: 'C4-smoothed-margin', claim: 'C4', seed: 1, path: '0', counterexample: [{ n: 2 }], failure: 'γ̃ dropped',
    job: { data: { X: [[1], [-0.5]], y: [1, -1] }, init: [[[-1]]], options: { model: modelSpec('linear'), loss: 'exp', reduction: 'sum', schedule: 'constant', lr: 0.1 }, steps: 20, record: [0, 1, 2, 5, 10, 20], check: 'C4/smoothed-margin-before-fit' },
  }, join(data, 'counterexamples'));
  const id = file.split('/').at(-1)!.replace('.json', '');
  const tests = [
    evidence('C4: margin never decreases', { cases: 3, steps: 600, maxRho: 2.5, maxLogT: 4, storeRuns: [{ id: 'C4-smoothed-margin', runs: 3, failed: true, counterexample: id }] }),
    evidence('N-C4: before L < 1 it can decrease', { cases: 2, steps: 40, storeRuns: [{ id: 'N-C4-before-fit', runs: 2, failed: true }] }),
    evidence('C7: the gap shrinks', { cases: 1, replicates: 420, steps: 9000, figures: [{ name: 'mean loss-gap difference gap(N) − gap(4N)', value: 0.055, predicted: '> 0 at α = 0.001' }] }),
  ];
  writeFileSync(join(data, 'tests.jsonl'), tests.map((t) => JSON.stringify(t)).join('\n') + '\n');
  writeFileSync(join(data, 'gaps-C7.json'), JSON.stringify({ id: 'C7', test: 'C7: the gap shrinks', points: [
    { n: 4, gap: 0.08, which: 'loss gap', lower: 0.07, upper: 0.09, bound: 9 }, { n: 16, gap: 0.03, which: 'loss gap', lower: 0.025, upper: 0.035, bound: 4.5 },
  ] }));
  const outcomes: TestOutcome[] = [
    { title: 'C4: margin never decreases', status: 'failed', seconds: 1, failure: 'Property failed' },
    { title: 'N-C4: before L < 1 it can decrease', status: 'passed', seconds: 0.5 },
    { title: 'C7: the gap shrinks', status: 'passed', seconds: 6 },
  ];
  return { data: readRunData([data], dir), outcomes, id };
}

describe('the report', () => {
  test('numbers: counts as integers, other values to 3 significant digits', () => {
    expect([600, 9000, 0.998, 1.0000001, 1.2e-7, -0.5].map(formatNumber)).toEqual(['600', '9,000', '0.998', '1.00', '1.2e-7', '-0.500']);
  });

  test('a violated claim shows its counterexample as a table, the exact replay command and the replayed run plotted; counts are what ran', async () => {
    const { data, outcomes, id } = violatedRun();
    const report = buildReport(outcomes, data, { profile: 'ci', seeds: [1], backend: 'wasm', shards: 1, seconds: 8 });
    expect(report.schemaVersion).toBe(SCHEMA_VERSION);
    expect(report.ok).toBe(false);
    const [c4, c7] = report.claims;
    expect([c4.id, c4.verdict, c7.id, c7.verdict]).toEqual(['C4', 'violated', 'C7', 'holds']);
    expect(c4.evidence).toMatchObject({ tests: 1, cases: 3, steps: 600, maxRho: 2.5 });
    expect(c7.evidence).toMatchObject({ cases: 1, replicates: 420, steps: 9000 });
    expect(c4.controls.map((n) => [n.id, n.name, n.verdict])).toEqual([['N-C4-before-fit', 'before L < 1 it can decrease', 'fails-as-predicted']]);
    expect(c4.counterexamples.map((c) => [c.property, c.id])).toEqual([['C4-smoothed-margin', id]]);
    expect(c4.counterexamples[0].replay).toBe(`npm run --silent theory3 -- replay data/counterexamples/C4-smoothed-margin/${id}.json --plot replay.svg`);
    expect(c7.figures.find((f) => f.key)).toMatchObject({ value: 0.055, predicted: '> 0 at α = 0.001' });

    const views = await violationViews(report, data);
    expect(views).toHaveLength(1);
    expect(views[0].rows.map(([k]) => k)).toEqual(['failure', 'fast-check seed / path', 'points', 'initial weights', 'options']);
    expect(views[0].plots.length).toBeGreaterThan(0);
    const plots = await plotsOf(data);
    expect(plots.map((p) => [p.claim, p.title])).toEqual([['C7', 'generalization gap against N (95% intervals)']]);
    expect(plots[0].svg).toContain('Rademacher bound');
    expect(plots[0].svg).toContain('fit c/√N');
    const html = reportHtml(report, plots, views);
    expect(html).toContain(c4.counterexamples[0].replay);
    expect(html).toMatch(/<div class="violation">[\s\S]*<svg/);
    expect(html.indexOf('id="summary"')).toBeLessThan(html.indexOf('<section'));
    expect(html).not.toMatch(/\b(src|href)="(https?:)?\/\//);
  });

  test('report.json carries every field the schema requires', () => {
    const { data, outcomes } = violatedRun();
    const report = buildReport(outcomes, data, { profile: 'ci', seeds: [1], backend: 'wasm', shards: 1, seconds: 8 }) as unknown as Record<string, unknown>;
    const schema = JSON.parse(readFileSync(new URL('../docs/report.schema.json', import.meta.url), 'utf8'));
    const has = (o: Record<string, unknown>, def: { required: string[] }) => def.required.filter((k) => !(k in o));
    expect(has(report, schema)).toEqual([]);
    for (const c of report.claims as Record<string, unknown>[]) {
      expect(has(c, schema.$defs.claim)).toEqual([]);
      expect(has(c.evidence as Record<string, unknown>, schema.$defs.evidence)).toEqual([]);
      for (const n of c.controls as Record<string, unknown>[]) expect(has(n, schema.$defs.control)).toEqual([]);
      for (const f of c.figures as Record<string, unknown>[]) expect(has(f, schema.$defs.figure)).toEqual([]);
    }
  });
});

describe('the real-data section', () => {
  test('tests titled "R: …" and "N-R: …" form claim R after the synthetic claims, with their trajectories and the KKT plot', async () => {
    const data = join(dir, 'real-data');
    mkdirSync(data, { recursive: true });
    const title = 'R: C1–C5 fast slice, a CNN';
    writeFileSync(join(data, 'tests.jsonl'), [evidence(title, { steps: 3 }), evidence('C3: rate', {}), evidence('N-R: C1 multipliers', {})].map((t) => JSON.stringify(t)).join('\n') + '\n');
    const records = [0, 1, 2, 3, 4].map((s) => ({
      step: s, flowTime: s, logFlowTime: Math.log(s + 1), undone: 0, logLoss: 1 - s, norm: 1 + s, rho: 1 + s, layerNorms: [1 + s, 1 + s], minMargin: s - 1,
      normalizedMargin: 0.1, smoothedMargin: 0.1, slackness: s > 1 ? 1 / s : NaN, stationarityGap: s > 0 ? 0.5 : NaN,
    }));
    writeFileSync(join(data, 'trajectory-R-C5-cnn.json'), JSON.stringify({ id: 'R-C5-cnn', test: title, records, figures: {} }));
    const outcomes: TestOutcome[] = [
      { title, status: 'passed', seconds: 1 },
      { title: 'C3: rate', status: 'passed', seconds: 1 },
      { title: 'N-R: C1 multipliers', status: 'passed', seconds: 1 },
    ];
    const run = readRunData([data], dir);
    const report = buildReport(outcomes, run, { profile: 'real', seeds: [1], backend: 'wasm', shards: 1, seconds: 3 });
    expect(report.claims.map((c) => c.id)).toEqual(['C3', 'R']);
    const real = report.claims[1];
    expect(real.title).toBe('The claims on real data (Fashion-MNIST)');
    expect(real.controls.map((c) => c.verdict)).toEqual(['fails-as-predicted']);
    expect(real.figures.some((f) => f.name === 'steps of the representative run')).toBe(true);
    const plots = await plotsOf(run);
    expect(plots.filter((p) => p.claim === 'R').map((p) => p.title)).toContain('KKT residuals against step (theory: → 0)');
  });
});
