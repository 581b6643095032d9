import type { TestProject } from 'vitest/node';
import { InputError } from '../src/errors.js';
import { resolveProfile, type Profile } from '../src/profile.js';

/**
 * Runs once per `vitest` invocation: picks the fast-check seed for every worker (fixed in the ci
 * profile, fresh in explore unless THEORY3_SEED is given) and prints it, so any run can be replayed.
 */
export default function setup(project: TestProject) {
  let profile: Profile;
  try {
    profile = resolveProfile(process.env);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    // A bad THEORY3_* variable is the user's mistake: one line, as the command line gives it,
    // rather than vitest's "Unhandled Error" with a stack into its own internals.
    process.stderr.write(`theory3: ${e.message}\n`);
    process.exit(1);
  }
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
