import { InputError } from './errors.js';

/**
 * Test profiles, chosen by environment variables:
 *   THEORY3_PROFILE  ci (default; fixed seed, run counts sized to the 60 s budget) | explore
 *                    (fresh seed, 10× the runs) | real (the ci profile plus the full real-data
 *                    runs of properties/real/, on the shipped Fashion-MNIST subset: minutes)
 *   THEORY3_SEED     fast-check seed (an integer) — replays a run
 *   THEORY3_RUNS     overrides every property's number of runs
 *   THEORY3_BACKEND  wasm (default) | cpu
 *   THEORY3_TIME_BUDGET  seconds per property in the explore profile (default 60): fast-check stops
 *                    drawing new cases after it, so that 10× the runs cannot take hours
 * Under CI=true the profile is ci unless THEORY3_PROFILE says otherwise.
 */
export interface Profile {
  name: 'ci' | 'explore' | 'real';
  seed: number;
  runsOverride: number | null;
  runsFactor: number;
  backend: 'wasm' | 'cpu';
  /** fast-check's interruptAfterTimeLimit per property, explore profile only. */
  timeBudgetMs: number | null;
}

const CI_SEED = 20_190_314;

/**
 * An integer from the environment, or null when unset. A bad value is the user's mistake: one
 * line naming the variable and what it accepts.
 */
function intFromEnv(env: NodeJS.ProcessEnv, key: string, min: number, unit = ''): number | null {
  const raw = env[key];
  if (raw === undefined || raw === '') return null;
  const v = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isSafeInteger(v) || v < min) {
    const accepts = min === Number.MIN_SAFE_INTEGER ? 'an integer' : `an integer ≥ ${min}${unit}`;
    throw new InputError(`${key} must be ${accepts}, got "${raw}"`);
  }
  return v;
}

export function resolveProfile(env: NodeJS.ProcessEnv): Profile {
  const name = env.THEORY3_PROFILE ?? 'ci';
  if (name !== 'ci' && name !== 'explore' && name !== 'real') throw new InputError(`THEORY3_PROFILE must be ci, explore or real, got "${name}"`);
  const backend = env.THEORY3_BACKEND ?? 'wasm';
  if (backend !== 'wasm' && backend !== 'cpu') throw new InputError(`THEORY3_BACKEND must be wasm or cpu, got "${backend}"`);
  const seed = intFromEnv(env, 'THEORY3_SEED', Number.MIN_SAFE_INTEGER) ?? (name !== 'explore' ? CI_SEED : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0);
  const runs = intFromEnv(env, 'THEORY3_RUNS', 1);
  const budget = intFromEnv(env, 'THEORY3_TIME_BUDGET', 1, ' (seconds)') ?? 60;
  return { name, seed, runsOverride: runs, runsFactor: name === 'explore' ? 10 : 1, backend, timeBudgetMs: name === 'explore' ? budget * 1000 : null };
}
