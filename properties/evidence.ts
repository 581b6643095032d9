import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { Trainer } from '../src/train.js';
import { WeightNormTrainer } from '../src/weightnorm.js';
import type { Weights } from '../src/model.js';
import type { Figure, StoreRun, TestEvidence } from '../src/report/data.js';

/**
 * What each test actually ran, for the verification report (`npm run verify` sets
 * THEORY3_REPORT_DIR). Counted without the properties' help: every fast-check run reports its
 * cases through a global plugin, and every trainer its steps, flow time and ρ through a wrapper of
 * its step. What only a property knows (replicates, checks, its own figures and the store ids of
 * its runs) it adds with the functions of properties/store.ts. One line per test goes to
 * `tests.jsonl` in the report folder when the test ends.
 */

export type { Figure, StoreRun, TestEvidence };

const fresh = (title = '', file = ''): TestEvidence => ({
  title, file, cases: 0, skipped: 0, shrinks: 0, steps: 0, trainings: 0, maxRho: null, maxLogT: null, replicates: 0, checks: 0, storeRuns: [], figures: [],
});

/**
 * The account of the running test, and what is already instrumented, kept on globalThis: setup
 * files run once per test file, and the counters must be installed once per worker and write to
 * one account even if a module is loaded twice.
 */
const shared = ((globalThis as { theory3Evidence?: { current: TestEvidence; installed: WeakSet<object> } }).theory3Evidence ??= {
  current: fresh(),
  installed: new WeakSet(),
});

export const reportDir = (): string | undefined => process.env.THEORY3_REPORT_DIR || undefined;

/** The evidence of the running test; properties/store.ts adds to it. */
export function currentEvidence(): TestEvidence {
  return shared.current;
}

const rhoOf = (w: Weights) => w.reduce((p, W) => p * Math.sqrt(W.reduce((s, r) => s + r.reduce((a, v) => a + v * v, 0), 0)), 1);
const isPowerOfTwo = (k: number) => k > 0 && (k & (k - 1)) === 0;

function seen(rho: number | null, logT: number | null): void {
  if (rho !== null && Number.isFinite(rho)) shared.current.maxRho = Math.max(shared.current.maxRho ?? -Infinity, rho);
  if (logT !== null && Number.isFinite(logT)) shared.current.maxLogT = Math.max(shared.current.maxLogT ?? -Infinity, logT);
}

const once = (key: object) => !shared.installed.has(key) && !!shared.installed.add(key);

function installCounters(): void {
  if (once(fc.installGlobalPlugin)) fc.installGlobalPlugin(() => ({
    onAllRunsComplete: (d: fc.RunDetails<unknown>) => {
      shared.current.cases += d.numRuns;
      shared.current.skipped += d.numSkips;
      shared.current.shrinks += d.numShrinks;
    },
  }));
  for (const Cls of [Trainer, WeightNormTrainer] as const) {
    const proto = Cls.prototype as unknown as { step: () => unknown; dispose: () => void; weights: () => Weights; stepCount: number; logFlowTime?: number };
    if (!once(proto)) continue;
    const step = proto.step;
    const dispose = proto.dispose;
    proto.step = function (this: typeof proto) {
      const out = step.call(this);
      shared.current.steps++;
      // ρ needs the weights on the host: read them at steps 1, 2, 4, … only (a few reads per run).
      seen(isPowerOfTwo(this.stepCount) ? rhoOf(this.weights()) : null, this.logFlowTime ?? null);
      return out;
    };
    proto.dispose = function (this: typeof proto) {
      shared.current.trainings++;
      try {
        seen(rhoOf(this.weights()), this.logFlowTime ?? null);
      } catch {
        // a trainer disposed twice has no weights left; its ρ was counted the first time
      }
      dispose.call(this);
    };
  }
}

/** Per test file (from tests/setup.ts): start a fresh account per test, write it when the test ends. */
export function collectEvidence(hooks: {
  beforeEach: (f: (ctx: { task: { name: string; file?: { name: string } } }) => void) => void;
  afterEach: (f: (ctx: { task: { name: string; file?: { name: string } } }) => void) => void;
}): void {
  const dir = reportDir();
  if (!dir) return;
  installCounters();
  hooks.beforeEach(({ task }) => {
    shared.current = fresh(task.name, task.file?.name ?? '');
  });
  hooks.afterEach(() => {
    mkdirSync(dir, { recursive: true });
    appendFileSync(join(dir, 'tests.jsonl'), JSON.stringify(shared.current) + '\n');
    shared.current = fresh();
  });
}
