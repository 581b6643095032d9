import { defineConfig, mergeConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import base from './vitest.config.js';

// Mutation testing (npm run mutate, stryker.config.mjs) runs the suite once per mutant. Every run
// must draw the same cases, or a mutant "survives" by luck of the draw: the ci profile's fixed seed,
// whatever the caller's environment says.
process.env.THEORY3_PROFILE = 'ci';
delete process.env.THEORY3_SEED;
delete process.env.THEORY3_RUNS;
process.env.THEORY3_MUTATION = '1';

/**
 * Quickest test files first. vitest runs the slowest first (to balance workers); a mutation run has
 * one worker and stops at the first failure, so a mutant that a quick unit test kills should not
 * wait for the 10 s statistical property.
 */
class QuickestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return (await super.sort(files)).reverse();
  }
}

export default mergeConfig(
  base,
  defineConfig({
    test: {
      // A mutated loop bound or step can make a training run endless or 100× slower; such a
      // mutant is a timeout (counted as detected), not a wait of the full 120 s.
      testTimeout: 30_000,
      hookTimeout: 30_000,
      sequence: { sequencer: QuickestFirst },
    },
  }),
);
