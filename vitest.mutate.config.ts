import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

// Mutation testing (npm run mutate, stryker.config.mjs) runs the suite once per mutant. Every run
// must draw the same cases, or a mutant "survives" by luck of the draw: the ci profile's fixed seed,
// whatever the caller's environment says.
process.env.THEORY3_PROFILE = 'ci';
delete process.env.THEORY3_SEED;
delete process.env.THEORY3_RUNS;
process.env.THEORY3_MUTATION = '1';

export default mergeConfig(
  base,
  defineConfig({
    test: {
      // A mutated loop bound or step can make a training run endless or 100× slower; such a
      // mutant is a timeout (counted as detected), not a wait of the full 120 s.
      testTimeout: 30_000,
      hookTimeout: 30_000,
    },
  }),
);
