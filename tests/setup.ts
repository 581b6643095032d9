import fc from 'fast-check';
import { afterEach, beforeEach, inject } from 'vitest';
import { collectEvidence } from '../properties/evidence.js';
import { useBackend } from '../src/backend.js';

// Every test file runs in its own worker: configure fast-check and the tfjs backend there.
const profile = inject('theory3');
fc.configureGlobal({
  seed: profile.seed,
  ...(profile.runsOverride ? { numRuns: profile.runsOverride } : {}),
  // explore: stop drawing new cases after the budget; the runs done so far still count
  ...(profile.timeBudgetMs ? { interruptAfterTimeLimit: profile.timeBudgetMs, markInterruptAsFailure: false } : {}),
});
await useBackend(profile.backend);
// Under `npm run verify`: count what every test ran, for the report.
collectEvidence({ beforeEach, afterEach });
