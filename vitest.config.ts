import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts', 'properties/**/*.prop.ts'],
    globalSetup: ['./tests/global-setup.ts'],
    setupFiles: ['./tests/setup.ts'],
    // Training loops are synchronous and cannot be interrupted: properties size their runs to
    // finish well inside this.
    // The explore profile runs 10× the cases within a per-property time budget (src/profile.ts).
    testTimeout: process.env.THEORY3_PROFILE === 'explore' ? 30 * 60_000 : 120_000,
    // vitest picks one worker on 2 cores; test files are independent and CPU-bound, so use both.
    maxWorkers: 2,
    hookTimeout: 60_000,
  },
});
