import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts', 'properties/**/*.prop.ts'],
    globalSetup: ['./tests/global-setup.ts'],
    setupFiles: ['./tests/setup.ts'],
    // Training loops are synchronous and cannot be interrupted: properties size their runs to
    // finish well inside this; the explore profile runs 10× the cases within a per-property
    // time budget (src/profile.ts).
    testTimeout: process.env.THEORY3_PROFILE === 'explore' ? 30 * 60_000 : 120_000,
    // vitest picks one worker on 2 cores; test files are independent and CPU-bound, so use both.
    maxWorkers: 2,
    // Test files share their worker's modules: tfjs and its wasm backend load once per worker
    // (~2 s each) instead of once per file. Files keep no global state beyond what setup sets.
    isolate: false,
    hookTimeout: 60_000,
  },
});
