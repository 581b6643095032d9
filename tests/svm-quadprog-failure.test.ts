// maxMarginSvm's two guards after quadprog: "quadprog failed" (bad arguments; honest data never get
// there because maxMarginSvm builds well-formed arrays) and the post-solve feasibility check
// (non-finite w, or w missing a constraint by more than 1e-8). Honest data reach the second only
// through float64 accidents near ‖w‖ ~ 1e8 that no formula predicts, so this file replaces
// quadprog's solveQP with a stub returning hand-chosen results, and checks the exact outcome.
//
// The stub lives in its own file and passes every call through to the real solver unless a test
// has set `hooks.fake`: vitest runs files with isolate: false, so a mock can leak into a file that
// shares this worker, and there it must behave like quadprog. For the same reason src/svm.ts is
// imported fresh (a query string makes it a new module instance), so that a copy loaded by an
// earlier file with the real quadprog cannot be the one under test.
import { describe, test, expect, vi, afterEach } from 'vitest';
import type { QPResult } from 'quadprog';
import { InputError } from '../src/errors.js';
// A static import as well: vitest's `related` mode (which Stryker uses to pick the test files for a
// mutated source file) follows static imports only, and would not run this file without it.
import { maxMarginSvm as sharedMaxMarginSvm } from '../src/svm.js';

type Solve = (...args: unknown[]) => QPResult;
const hooks = vi.hoisted(() => ({ fake: null as null | Solve, calls: 0 }));

vi.mock('quadprog', async (importOriginal) => {
  const real = await importOriginal<typeof import('quadprog')>();
  const solveQP = (...args: unknown[]): QPResult => {
    if (!hooks.fake) return (real.solveQP as (...a: unknown[]) => QPResult)(...args);
    hooks.calls++;
    return hooks.fake(...args);
  };
  return { ...real, solveQP, default: { ...real, solveQP } };
});

const svmModule = '../src/svm.js?quadprog-stub';
// This instance's NotSeparableError is its own class, so take it from the same import.
const { maxMarginSvm, NotSeparableError } = (await import(/* @vite-ignore */ svmModule)) as typeof import('../src/svm.js');

afterEach(() => {
  hooks.fake = null;
  hooks.calls = 0;
});

/** Runs maxMarginSvm on z_1 = (1, 0), z_2 = (0, 1) (data scale 1, so s = 1) with a stubbed solver. */
function solveWith(result: QPResult, X = [[1, 0], [0, 1]]): unknown {
  hooks.fake = () => result;
  hooks.calls = 0;
  try {
    return maxMarginSvm(X, X.map(() => 1));
  } catch (e) {
    return e;
  } finally {
    // The stub must actually have been used, or the test proves nothing.
    expect(hooks.calls).toBe(1);
  }
}

describe('stub sanity', () => {
  test('with no fake set, the real solver runs: the SVM of (1,0), (0,1) is w = (1, 1)', () => {
    // w = (1,0) + (0,1) puts both points on the margin; alpha = (1, 1).
    const r = maxMarginSvm([[1, 0], [0, 1]], [1, 1]);
    expect(r.w).toEqual([1, 1]);
    expect(r.support).toEqual([0, 1]);
    expect(sharedMaxMarginSvm([[1, 0], [0, 1]], [1, 1])).toEqual(r);
  });
});

describe('quadprog reports a failure other than inconsistency', () => {
  const cases: [string, QPResult][] = [
    // The shape quadprog returns for a bad argument: only the message.
    ['bad arguments (message only)', { message: 'Amat and bvec are incompatible!' }],
    // quadprog's other failure; it comes with the (meaningless) arrays filled in.
    [
      'D not positive definite (arrays present)',
      { message: 'matrix D in quadratic function is not positive definite!', solution: [0, 1, 1], Lagrangian: [0, 1, 1] },
    ],
  ];
  test.each(cases)('%s: a plain Error naming quadprog, not an InputError', (_, result) => {
    const e = solveWith(result);
    expect(e).toBeInstanceOf(Error);
    expect(e).not.toBeInstanceOf(InputError);
    expect((e as Error).message).toBe(`quadprog failed: ${result.message}`);
  });

  test('an empty message but no solution or no multipliers is a failure too', () => {
    expect((solveWith({ message: '', Lagrangian: [0, 1, 1] }) as Error).message).toBe('quadprog failed: ');
    expect((solveWith({ message: '', solution: [0, 1, 1] }) as Error).message).toBe('quadprog failed: ');
  });
});

describe('the feasibility check after quadprog', () => {
  test('w = (1, 1/2) misses z_2·w >= 1 by exactly 1/2: not separable, and the miss is reported', () => {
    const e = solveWith({ message: '', solution: [0, 1, 0.5], Lagrangian: [0, 1, 0] });
    expect(e).toBeInstanceOf(NotSeparableError);
    expect((e as Error).message).toBe(
      'data are not linearly separable through the origin (solution violates a constraint by 0.5)',
    );
  });

  test('a miss of 2^-26 ≈ 1.49e-8 is over the 1e-8 tolerance; 2^-27 ≈ 7.5e-9 is under it', () => {
    // 1 - (1 - 2^-k) is exact in float64 for these k.
    const over = solveWith({ message: '', solution: [0, 1, 1 - 2 ** -26], Lagrangian: [0, 1, 1] });
    expect(over).toBeInstanceOf(NotSeparableError);
    expect((over as Error).message).toBe(
      `data are not linearly separable through the origin (solution violates a constraint by ${2 ** -26})`,
    );
    const under = solveWith({ message: '', solution: [0, 1, 1 - 2 ** -27], Lagrangian: [0, 1, 1] });
    expect(under).not.toBeInstanceOf(Error);
    expect((under as { w: number[] }).w).toEqual([1, 1 - 2 ** -27]);
  });

  test('a NaN in w is rejected (NaN margins are not "within tolerance")', () => {
    const e = solveWith({ message: '', solution: [0, NaN, 1], Lagrangian: [0, 1, 1] });
    expect(e).toBeInstanceOf(NotSeparableError);
    expect((e as Error).message).toBe("data are not linearly separable through the origin (the solver's w is not finite: a margin below float64 resolution)");
  });

  test('an infinite coordinate is rejected although every constraint holds', () => {
    // One point z = (1, 1) (scale 1): z·w = Infinity misses nothing, so only the finiteness
    // check catches it.
    const e = solveWith({ message: '', solution: [0, Infinity, 1], Lagrangian: [0, 1] }, [[1, 1]]);
    expect(e).toBeInstanceOf(NotSeparableError);
    expect((e as Error).message).toBe("data are not linearly separable through the origin (the solver's w is not finite: a margin below float64 resolution)");
  });
});
