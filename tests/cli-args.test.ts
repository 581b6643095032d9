import { describe, expect, test } from 'vitest';
import { parseOptions } from '../src/cli/args.js';
import { InputError } from '../src/errors.js';
import { thrown } from './harness.js';

describe('parseOptions', () => {
  test('a flag (an option without a value) comes back as "true", and is absent when not given', () => {
    const given = parseOptions(['--update-baseline', '--report', 'out'], ['report'], 'verify', ['update-baseline']);
    expect(given.values).toEqual({ 'update-baseline': 'true', report: 'out' });
    const absent = parseOptions(['--report', 'out'], ['report'], 'verify', ['update-baseline']);
    expect(absent.values['update-baseline']).toBeUndefined();
  });

  test('a value given to a flag is refused in one line naming the command', () => {
    const e = thrown(() => parseOptions(['--update-baseline=yes'], [], 'verify', ['update-baseline']));
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toMatch(/^verify: /);
    expect(e.message).not.toContain('\n');
  });

  test('a negative number after an option reaches the option as its value', () => {
    expect(parseOptions(['--lr', '-1'], ['lr'], 'train').values.lr).toBe('-1');
  });
});
