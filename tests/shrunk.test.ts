/**
 * properties/store.ts firstFailure and expectShrunk: the first failing case a fast-check run met
 * is replayed from its seed and path, and a shrunk counterexample is no larger than it.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { expectShrunk, firstFailure } from '../properties/store.js';

const sum = (a: number[]) => a.reduce((s, v) => s + v, 0);
const property = fc.property(fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 20 }), (a) => sum(a) < 300);

describe('firstFailure and expectShrunk', () => {
  test('the first failing case is the one fast-check met before shrinking, and the shrunk one is no larger', () => {
    const params = { seed: 42 };
    const result = fc.check(property, params);
    expect(result.failed).toBe(true);
    const first = firstFailure(property, result, params);
    expect(sum(first)).toBeGreaterThanOrEqual(300); // it fails the property
    expect(fc.check(property, { seed: 42, endOnFailure: true }).counterexample![0]).toEqual(first);
    const sizes = expectShrunk(result.counterexample![0], first, (a) => a.length);
    expect(sizes.shrunk).toBeLessThanOrEqual(sizes.first);
  });

  test('a counterexample larger than the first failing case is refused by name; a stored one is not judged', () => {
    expect(() => expectShrunk([1, 2, 3], [1], (a) => a.length)).toThrow(/shrinking made the counterexample larger: size 3, first failing case 1/);
    expect(expectShrunk([1, 2, 3], 'stored', (a) => a.length)).toEqual({ first: 3, shrunk: 3 });
  });

  test('a run that did not fail has no first failure', () => {
    const passing = fc.property(fc.integer(), (n) => Number.isInteger(n));
    expect(() => firstFailure(passing, fc.check(passing, { numRuns: 5 }))).toThrow(/did not fail/);
  });
});
