/** The test profile from THEORY3_* variables: defaults, and every bad value as an InputError naming the variable. */
import { describe, expect, test } from 'vitest';
import { InputError } from '../src/errors.js';
import { resolveProfile } from '../src/profile.js';
import { thrown } from './harness.js';

describe('resolveProfile', () => {
  test('defaults: the ci profile with its fixed seed, wasm, no override, no time budget', () => {
    expect(resolveProfile({})).toEqual({ name: 'ci', seed: 20_190_314, runsOverride: null, runsFactor: 1, backend: 'wasm', timeBudgetMs: null });
    // an empty variable counts as unset
    expect(resolveProfile({ THEORY3_SEED: '', THEORY3_RUNS: '' }).seed).toBe(20_190_314);
  });

  test('explore: 10× the runs, a fresh seed unless given, the time budget in ms', () => {
    const p = resolveProfile({ THEORY3_PROFILE: 'explore', THEORY3_SEED: '-7', THEORY3_RUNS: '3', THEORY3_BACKEND: 'cpu', THEORY3_TIME_BUDGET: '5' });
    expect(p).toEqual({ name: 'explore', seed: -7, runsOverride: 3, runsFactor: 10, backend: 'cpu', timeBudgetMs: 5000 });
    expect(resolveProfile({ THEORY3_PROFILE: 'explore' }).timeBudgetMs).toBe(60_000);
    expect(resolveProfile({ THEORY3_RUNS: '1' }).runsOverride).toBe(1); // the smallest accepted
  });

  test('real: the ci profile\'s seed and run counts (the real-data runs are chosen by the name)', () => {
    expect(resolveProfile({ THEORY3_PROFILE: 'real' })).toEqual({ name: 'real', seed: 20_190_314, runsOverride: null, runsFactor: 1, backend: 'wasm', timeBudgetMs: null });
  });

  test('every bad value is an InputError whose one line names the variable and what it accepts', () => {
    const cases: [Record<string, string>, string][] = [
      [{ THEORY3_PROFILE: 'bogus' }, 'THEORY3_PROFILE must be ci, explore or real, got "bogus"'],
      [{ THEORY3_BACKEND: 'webgl' }, 'THEORY3_BACKEND must be wasm or cpu, got "webgl"'],
      [{ THEORY3_SEED: 'abc' }, 'THEORY3_SEED must be an integer, got "abc"'],
      [{ THEORY3_SEED: '1.5' }, 'THEORY3_SEED must be an integer, got "1.5"'],
      [{ THEORY3_SEED: ' ' }, 'THEORY3_SEED must be an integer, got " "'],
      [{ THEORY3_SEED: '1e20' }, 'THEORY3_SEED must be an integer, got "1e20"'],
      [{ THEORY3_RUNS: '0' }, 'THEORY3_RUNS must be an integer ≥ 1, got "0"'],
      [{ THEORY3_RUNS: 'ten' }, 'THEORY3_RUNS must be an integer ≥ 1, got "ten"'],
      [{ THEORY3_TIME_BUDGET: '0' }, 'THEORY3_TIME_BUDGET must be an integer ≥ 1 (seconds), got "0"'],
      [{ THEORY3_TIME_BUDGET: '1.5' }, 'THEORY3_TIME_BUDGET must be an integer ≥ 1 (seconds), got "1.5"'],
    ];
    for (const [env, message] of cases) {
      const e = thrown(() => resolveProfile(env));
      expect(e, message).toBeInstanceOf(InputError);
      expect(e.message).toBe(message);
    }
  });
});
