import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** Path of a file in the repository's fixtures/ folder. */
export function fixturePath(name: string): string {
  return join(fileURLToPath(new URL('../fixtures', import.meta.url)), name);
}

/**
 * True inside a mutation-testing run (vitest.mutate.config.ts). A child process runs the code
 * without the mutant under test (Stryker switches mutants in the test process), so tests that spawn
 * the real command cannot kill a mutant there and only cost time: they skip.
 */
export const inMutationRun = process.env.THEORY3_MUTATION === '1';

/** The error `f` throws; fails the test if it returns normally. */
export function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}
