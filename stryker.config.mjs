// Mutation testing of the training core: `npm run mutate`. Reports go to reports/mutation/.

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts' },
  mutate: ['src/model.ts', 'src/loss.ts', 'src/train.ts', 'src/step.ts', 'src/run.ts', 'src/measure.ts', 'src/svm.ts', 'src/stats.ts', 'src/nn/dense.ts', 'src/nn/dense-chain.ts', 'src/nn/pool.ts', 'src/nn/relu.ts'],
  // Each mutant runs only the tests that reached it in the first (coverage) run.
  coverageAnalysis: 'perTest',
  concurrency: 2,
  // A mutant whose tests take this much longer than unmutated ones is a timeout (detected).
  timeoutFactor: 1.5,
  timeoutMS: 5_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 85, break: null },
  // A rerun tests only the mutants whose code or covering tests changed since the last run.
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  tempDirName: '.stryker-tmp',
  // Not copied into the sandbox: focused runs (other tempDirNames) and local outputs.
  ignorePatterns: ['/.stryker-tmp*', '/reports', '/report', '/scratch', '/.counterexamples'],
  cleanTempDir: true,
};
