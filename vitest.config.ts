import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts', 'properties/**/*.prop.ts'],
    globalSetup: ['./tests/global-setup.ts'],
    setupFiles: ['./tests/setup.ts'],
    // Training loops are synchronous and cannot be interrupted: properties size their runs to
    // finish well inside this.
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
