import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gapChart, renderSvg, trajectoryCharts } from '../plot.js';
import type { TrainRecord } from '../train.js';
import { CLAIMS } from './claims.js';

export type Verdict = 'holds' | 'violated' | 'inconclusive' | 'fails-as-predicted' | 'unexpectedly-holds';

export interface TestOutcome {
  title: string;
  status: 'passed' | 'failed' | string;
  seconds: number;
  failure?: string;
}

export interface ClaimEntry {
  id: string;
  title: string;
  verdict: Verdict;
  runs: number;
  seed: number;
  seconds: number;
  figures: Record<string, number | string>;
  tests: TestOutcome[];
}

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').split('-').slice(0, 6).join('-');

/**
 * One entry per claim C1…C7 (all of its `C<k>:` tests) and one per negative control test
 * (`N-C<k>:`). A claim holds when every test passes; a control "fails as predicted" when its test
 * (which asserts that the claim fails there) passes.
 */
export function claimEntries(tests: TestOutcome[], seed: number, reportDir: string): ClaimEntry[] {
  const runs = readRuns(reportDir);
  const entries: ClaimEntry[] = [];
  const byClaim = new Map<string, TestOutcome[]>();
  for (const t of tests) {
    const m = /^(N-)?(C\d):/.exec(t.title);
    if (!m) continue;
    if (m[1]) {
      const id = `N-${m[2]}-${slug(t.title.slice(m[0].length))}`;
      entries.push({
        id, title: t.title, verdict: t.status === 'passed' ? 'fails-as-predicted' : 'unexpectedly-holds',
        runs: runsFor(runs, `N-${m[2]}`), seed, seconds: t.seconds, figures: {}, tests: [t],
      });
    } else {
      byClaim.set(m[2], [...(byClaim.get(m[2]) ?? []), t]);
    }
  }
  for (const [id, ts] of [...byClaim].sort()) {
    const failed = ts.filter((t) => t.status !== 'passed');
    const verdict: Verdict = failed.length === 0 ? 'holds' : failed.every((t) => /inconclusive/i.test(t.failure ?? '')) ? 'inconclusive' : 'violated';
    entries.unshift({
      id, title: CLAIMS[id]?.title ?? id, verdict, runs: runsFor(runs, id), seed,
      seconds: ts.reduce((s, t) => s + t.seconds, 0), figures: readFigures(reportDir, id), tests: ts,
    });
  }
  return entries.sort((a, b) => order(a.id) - order(b.id) || a.id.localeCompare(b.id));
}

const order = (id: string) => Number(/C(\d)/.exec(id)?.[1] ?? 9) * 2 + (id.startsWith('N-') ? 1 : 0);

function readRuns(dir: string): { id: string; runs: number }[] {
  const file = join(dir, 'runs.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

function runsFor(runs: { id: string; runs: number }[], prefix: string): number {
  return runs.filter((r) => r.id === prefix || r.id.startsWith(prefix + '-')).reduce((s, r) => s + r.runs, 0);
}

function readTrajectory(dir: string, id: string): { records: TrainRecord[]; figures: Record<string, number> } | null {
  const file = join(dir, `trajectory-${id}.json`);
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
}

/** Key numbers of a claim's representative run. */
function readFigures(dir: string, id: string): Record<string, number> {
  const gaps = join(dir, `gaps-${id}.json`);
  if (existsSync(gaps)) {
    const g = JSON.parse(readFileSync(gaps, 'utf8')) as { points: { n: number; gap: number; which: string }[] };
    return Object.fromEntries(g.points.map((p) => [`mean ${p.which} at N=${p.n}`, p.gap]));
  }
  const t = readTrajectory(dir, id);
  if (!t) return {};
  const last = t.records.at(-1);
  return {
    ...t.figures,
    ...(last ? { finalRho: last.rho, finalLogFlowTime: last.logFlowTime, finalSmoothedMargin: last.smoothedMargin, steps: last.step } : {}),
    ...(last && typeof last.angleToSvm === 'number' ? { finalAngleToSvm: last.angleToSvm } : {}),
  };
}

/** The SVG plots of each claim that left a trajectory. */
export async function claimPlots(dir: string): Promise<Record<string, string>> {
  const plots: Record<string, string> = {};
  if (!existsSync(dir)) return plots;
  for (const f of readdirSync(dir).filter((n) => n.startsWith('trajectory-'))) {
    const t = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { id: string; records: TrainRecord[] };
    if (t.records.length > 1) plots[t.id] = await renderSvg(trajectoryCharts(t.records, `${t.id}: a representative run`));
  }
  for (const f of readdirSync(dir).filter((n) => n.startsWith('gaps-'))) {
    const g = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { id: string; points: { n: number; gap: number; which: string }[] };
    if (g.points.every((p) => p.gap > 0)) plots[g.id] = await renderSvg(gapChart(g.points, `${g.id}: mean gap of the normalized network against N`));
  }
  return plots;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const COLORS: Record<Verdict, string> = {
  holds: '#1a7f37', 'fails-as-predicted': '#1a7f37', violated: '#cf222e', 'unexpectedly-holds': '#cf222e', inconclusive: '#9a6700',
};

export function reportHtml(report: { claims: ClaimEntry[]; seed: number; profile: string; backend: string; seconds: number }, plots: Record<string, string>): string {
  const sections = report.claims.map((c) => {
    const statement = CLAIMS[c.id]?.statement ?? '';
    const figures = Object.entries(c.figures).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${typeof v === 'number' ? v.toPrecision(6) : esc(String(v))}</td></tr>`).join('');
    const tests = c.tests.map((t) => `<li>${t.status === 'passed' ? '✓' : '✗'} ${esc(t.title)} <small>(${t.seconds.toFixed(1)} s)</small>${t.failure ? `<pre>${esc(t.failure.slice(0, 2000))}</pre>` : ''}</li>`).join('');
    return `<section id="${esc(c.id)}">
<h2>${esc(c.id)} — ${esc(c.title)} <span class="verdict" style="background:${COLORS[c.verdict]}">${c.verdict}</span></h2>
${statement ? `<p>${esc(statement)}</p>` : ''}
<p>${c.runs} runs · seed ${c.seed} · ${c.seconds.toFixed(1)} s</p>
<ul>${tests}</ul>
${figures ? `<table>${figures}</table>` : ''}
${plots[c.id] ? `<div class="plot">${plots[c.id]}</div>` : ''}
</section>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>theory3 verification report</title>
<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}
.verdict{color:white;border-radius:4px;padding:2px 8px;font-size:0.7em;vertical-align:middle}
table{border-collapse:collapse}td{border:1px solid #ddd;padding:2px 8px}pre{white-space:pre-wrap;background:#f6f8fa;padding:6px}
section{border-top:1px solid #ddd;margin-top:1.5em}</style></head>
<body><h1>Theory III verification report</h1>
<p>profile ${esc(report.profile)} · fast-check seed ${report.seed} · backend ${esc(report.backend)} · ${report.seconds.toFixed(1)} s</p>
${sections.join('\n')}
</body></html>
`;
}
