import { CLAIMS } from './claims.js';
import type { Figure, RunData, StoredCase, TestEvidence } from './data.js';
import { gapFigures, trajectoryFigures } from './figures.js';

/**
 * The report as data (what report.json holds; docs/report.schema.json describes every field).
 * Claims are grouped from the test titles: a test named "C<k>: …" is evidence for claim C<k>, a
 * test named "N-C<k>: …" is one negative control of it.
 */
export const SCHEMA_VERSION = 1;

export type Verdict = 'holds' | 'violated' | 'inconclusive' | 'fails-as-predicted' | 'unexpectedly-holds' | 'not-run';

export interface TestOutcome {
  title: string;
  status: string;
  seconds: number;
  failure?: string;
}

export interface Evidence {
  tests: number;
  cases: number;
  skipped: number;
  shrinks: number;
  replicates: number;
  checks: number;
  steps: number;
  trainings: number;
  maxRho: number | null;
  maxLogT: number | null;
  seconds: number;
}

export interface CounterexampleRef {
  property: string;
  id: string;
  file: string;
  replay: string;
  failure: string;
}

export interface ControlEntry {
  id: string;
  name: string;
  verdict: Verdict;
  evidence: Evidence;
  tests: TestOutcome[];
  counterexamples: CounterexampleRef[];
}

export interface ClaimEntry {
  id: string;
  title: string;
  statement: string;
  verdict: Verdict;
  evidence: Evidence;
  figures: (Figure & { key: boolean })[];
  tests: TestOutcome[];
  storeIds: string[];
  counterexamples: CounterexampleRef[];
  controls: ControlEntry[];
}

export interface Report {
  schemaVersion: number;
  generatedAt: string;
  ok: boolean;
  profile: string;
  seeds: number[];
  backend: string;
  shards: number;
  seconds: number;
  claims: ClaimEntry[];
}

/** "C<k>" (synthetic claims) or "R" (every claim on real data, properties/real/). */
const TITLE = /^(N-)?(C\d+|R)\b[^:]*:\s*/;
const claimOrder = (id: string) => (id === 'R' ? Infinity : Number(id.slice(1)));
const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').split('-').slice(0, 5).join('-');

export const replayCommand = (file: string) => `npm run --silent theory3 -- replay ${file} --plot replay.svg`;

function evidenceOf(outcomes: TestOutcome[], data: RunData): Evidence {
  const ev: TestEvidence[] = outcomes.flatMap((o) => data.tests.filter((t) => t.title === o.title));
  const max = (xs: (number | null)[]) => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length ? Math.max(...v) : null;
  };
  const sum = (k: 'cases' | 'skipped' | 'shrinks' | 'replicates' | 'checks' | 'steps' | 'trainings') => ev.reduce((s, t) => s + t[k], 0);
  return {
    tests: outcomes.length,
    cases: sum('cases'),
    skipped: sum('skipped'),
    shrinks: sum('shrinks'),
    replicates: sum('replicates'),
    checks: sum('checks'),
    steps: sum('steps'),
    trainings: sum('trainings'),
    maxRho: max(ev.map((t) => t.maxRho)),
    maxLogT: max(ev.map((t) => t.maxLogT)),
    seconds: outcomes.reduce((s, t) => s + t.seconds, 0),
  };
}

function storeRunsOf(outcomes: TestOutcome[], data: RunData) {
  return outcomes.flatMap((o) => data.tests.filter((t) => t.title === o.title).flatMap((t) => t.storeRuns));
}

function counterexamplesOf(outcomes: TestOutcome[], data: RunData): CounterexampleRef[] {
  const found = storeRunsOf(outcomes, data).filter((r) => r.counterexample);
  return found.flatMap((r) => {
    const c: StoredCase | undefined = data.counterexamples.find((x) => x.property === r.id && x.id === r.counterexample);
    return c ? [{ property: c.property, id: c.id, file: c.file, replay: replayCommand(c.file), failure: c.content.failure }] : [];
  });
}

export function buildReport(outcomes: TestOutcome[], data: RunData, run: { profile: string; seeds: number[]; backend: string; shards: number; seconds: number }): Report {
  const byClaim = new Map<string, { tests: TestOutcome[]; controls: TestOutcome[] }>();
  for (const t of outcomes) {
    const m = TITLE.exec(t.title);
    if (!m) continue;
    const entry = byClaim.get(m[2]) ?? { tests: [], controls: [] };
    (m[1] ? entry.controls : entry.tests).push(t);
    byClaim.set(m[2], entry);
  }
  const claims: ClaimEntry[] = [...byClaim.keys()].sort((a, b) => claimOrder(a) - claimOrder(b)).map((id) => {
    const { tests, controls } = byClaim.get(id)!;
    const failed = tests.filter((t) => t.status !== 'passed');
    const verdict: Verdict =
      tests.length === 0 ? 'not-run'
      : failed.length === 0 ? 'holds'
      : failed.every((t) => /inconclusive/i.test(t.failure ?? '')) ? 'inconclusive'
      : 'violated';
    const titles = new Set(tests.map((t) => t.title));
    const own = (test?: string) => !test || titles.has(test) || test === '';
    const claimOf = (dataId: string) => dataId.split('-')[0] === id;
    const figures: Figure[] = [
      ...tests.flatMap((t) => data.tests.filter((e) => e.title === t.title).flatMap((e) => e.figures)),
      ...data.trajectories.filter((t) => claimOf(t.id) && own(t.test)).flatMap(trajectoryFigures),
      ...data.gaps.filter((g) => claimOf(g.id) && own(g.test)).flatMap(gapFigures),
    ];
    const key = CLAIMS[id]?.key;
    const keyIndex = Math.max(0, key ? figures.findIndex((f) => f.name.includes(key)) : 0);
    return {
      id,
      title: CLAIMS[id]?.title ?? id,
      statement: CLAIMS[id]?.statement ?? '',
      verdict,
      evidence: evidenceOf(tests, data),
      figures: figures.map((f, i) => ({ ...f, key: i === keyIndex })),
      tests,
      storeIds: [...new Set(storeRunsOf(tests, data).map((r) => r.id))],
      counterexamples: counterexamplesOf(failed, data),
      controls: controls.map((c) => {
        const storeId = storeRunsOf([c], data)[0]?.id;
        const name = c.title.replace(TITLE, '');
        return {
          id: storeId ?? `N-${id}-${slug(name)}`,
          name,
          verdict: c.status === 'passed' ? ('fails-as-predicted' as const) : ('unexpectedly-holds' as const),
          evidence: evidenceOf([c], data),
          tests: [c],
          counterexamples: counterexamplesOf([c], data),
        };
      }),
    };
  });
  const ok = claims.length > 0 && claims.every((c) => c.verdict === 'holds' && c.controls.every((n) => n.verdict === 'fails-as-predicted'));
  return { schemaVersion: SCHEMA_VERSION, generatedAt: new Date().toISOString(), ok, ...run, claims };
}
