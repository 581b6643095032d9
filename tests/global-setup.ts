import type { TestProject } from 'vitest/node';
import { resolveProfile } from '../src/profile.js';

/**
 * Runs once per `vitest` invocation: picks the fast-check seed for every worker (fixed in the ci
 * profile, fresh in explore unless THEORY3_SEED is given) and prints it, so any run can be replayed.
 */
export default function setup(project: TestProject) {
  const profile = resolveProfile(process.env);
  project.provide('theory3', profile);
  process.stderr.write(
    `theory3: profile ${profile.name}, fast-check seed ${profile.seed} (replay: THEORY3_SEED=${profile.seed}), backend ${profile.backend}\n`,
  );
}

declare module 'vitest' {
  export interface ProvidedContext {
    theory3: import('../src/profile.js').Profile;
  }
}
