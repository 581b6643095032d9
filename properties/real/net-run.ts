/** The measured network run lives in src/real/net-run.ts, where `theory3 replay` reaches it too. */
export * from '../../src/real/net-run.js';
