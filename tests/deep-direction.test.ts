/**
 * src/checks.ts deepDirectionFailure: angle(β, ŵ) ≤ acos(γ̃_ρ/γ*) at every record after L < 1.
 */
import { describe, expect, test } from 'vitest';
import { deepDirectionFailure } from '../src/checks.js';

const gammaStar = 0.5;
/** Records with ρ = 10 and the per-layer smoothed margin −log L/ρ = `margins[i]`. */
const run = (margins: number[]) => ({
  records: margins.map((_, i) => ({ step: i, rho: 10 })),
  logLossSum: margins.map((m) => -m * 10),
});

describe('deepDirectionFailure', () => {
  test('a record whose margin went negative (a step that overshot) bounds the angle only by acos(γ̃/γ*) > π/2', () => {
    // γ̃/γ* = −1.2 (the audit's case had −3.6): acos(−1) = π, no bound; √(1 − ratio²) is not real there
    const deep = run([0.1, -0.6, 0.3]);
    expect(deepDirectionFailure(deep.records, 0, [0.3, 0.6, 0.2], deep.logLossSum, gammaStar)).toBeNull();
    // γ̃/γ* = −0.4: at most acos(−0.4) = 1.98 rad
    const { records, logLossSum } = run([0.1, -0.2, 0.3]);
    expect(deepDirectionFailure(records, 0, [0.3, 1.9, 0.2], logLossSum, gammaStar)).toBeNull();
    expect(deepDirectionFailure(records, 0, [0.3, 2.0, 0.2], logLossSum, gammaStar)).toMatch(/above the margin bound/);
  });

  test('a positive margin bounds the angle by asin √(1 − (γ̃/γ*)²)', () => {
    const { records, logLossSum } = run([0.3, 0.45]);
    const bound = Math.asin(Math.sqrt(1 - 0.9 ** 2)); // 0.451
    expect(deepDirectionFailure(records, 0, [0.9, bound], logLossSum, gammaStar)).toBeNull();
    expect(deepDirectionFailure(records, 0, [0.9, bound + 1e-3], logLossSum, gammaStar)).toMatch(/above the margin bound/);
    expect(deepDirectionFailure(records, 0, [0.9, 0.1], run([0.3, 0.51]).logLossSum, gammaStar)).toMatch(/above γ\*/);
  });
});
