import { parseArgs } from 'node:util';
import { InputError } from '../errors.js';

/** node:util parseArgs for string-valued options, its errors turned into one-line InputErrors. */
export function parseOptions(
  argv: string[],
  names: readonly string[],
  command: string,
  flags: readonly string[] = [],
): { values: Record<string, string | undefined>; positionals: string[] } {
  // Flags (options without a value) come back as the string "true".
  const options = Object.fromEntries([...names.map((n) => [n, { type: 'string' as const }]), ...flags.map((n) => [n, { type: 'boolean' as const }])]);
  // "--lr -1" would be read as an option "-1": join a negative number to its option, so that
  // the value reaches the check that says what is wrong with it.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1];
    if (/^--[^=]+$/.test(argv[i]) && next !== undefined && /^-(\d|\.\d|Infinity)/.test(next)) args.push(`${argv[i]}=${argv[++i]}`);
    else args.push(argv[i]);
  }
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals: true });
    const strings = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v === true ? 'true' : v]));
    return { values: strings as Record<string, string | undefined>, positionals };
  } catch (e) {
    // node's messages can span lines ("--lr -1" is "ambiguous"): keep the first, one line out.
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/s, '').split('\n')[0].trim();
    throw new InputError(`${command}: ${msg}`);
  }
}

export function required(values: Record<string, string | undefined>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new InputError(`--${name} is required`);
  return v;
}

/** A finite number; `Number('')` and `Number(' ')` are 0, so blanks are rejected first. */
export function parseNumber(raw: string, name: string): number {
  const v = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(v)) throw new InputError(`--${name} must be a finite number, got "${raw}"`);
  return v;
}

export function parseInteger(raw: string, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = parseNumber(raw, name);
  if (!Number.isInteger(v) || v < min || v > max) throw new InputError(`--${name} must be an integer in ${min}..${max}, got ${raw}`);
  return v;
}

export function parseChoice<T extends string>(raw: string, name: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(raw)) throw new InputError(`--${name} must be one of ${choices.join('|')}, got "${raw}"`);
  return raw as T;
}

/** "1,10,100" → [1, 10, 100]: the steps to record. */
export function parseStepList(raw: string, name: string): number[] {
  return raw.split(',').map((s) => parseInteger(s, name, 0));
}
