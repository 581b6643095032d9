import { outputsNearOverflow, undoneInARow, type DivergenceError } from './errors.js';
import type { StepSchedule } from './schedule.js';

/**
 * The host side of a training step, shared by every trainer (src/train.ts, src/nn/trainer.ts,
 * src/weightnorm.ts): the output weights δ sent to the backward pass, the float64 update with its
 * single rounding to float32, and flow time in log space. The exact identities the properties
 * assert (C1's balance, weight normalization's ‖v⁺‖² = ‖v‖² + η²‖∇_v L‖²) hold up to that one
 * rounding, so every trainer must form its update here and nowhere else.
 */

export interface StepInfo {
  /** log of the objective on the step's batch, before the step (float64 from the float32 outputs). */
  logLoss: number;
  /** The step η_t on L itself, so that flow time advances by it (the kept step's, after undos). */
  stepSize: number;
  /** Steps undone (and retried smaller) before this one was kept. */
  undone: number;
  /**
   * c of the kept step W ← W − c·g (g = ∇ log L, or ∇L for squared): η_t·L, which stays finite
   * where η_t = c/L overflows.
   */
  coefficient: number;
}

/** A loss-based run that undoes this many steps in a row has stopped descending: stop it. */
const MAX_UNDONE_IN_A_ROW = 500;

/**
 * Outputs beyond this (2^120, a factor 2^8 below the float32 maximum 3.4e38) leave no room for the
 * next step: it would overflow, and a schedule that undoes steps would undo every retry while the
 * run limped on at the edge of the range (the others stop at the non-finite loss). Loss-based steps
 * on a few points get there within a few hundred steps (α grows while every step descends, and ρ
 * with it, geometrically or faster).
 */
const MAX_OUTPUT = 2 ** 120;

/**
 * Weights of points far beyond the margin, c·softmax(−q)_n, fall below the smallest normal float32
 * long before training ends (flow schedule: within a few hundred steps). Subnormal operands make
 * float32 arithmetic on x86 some 20× slower (measured: a 500×32×10 matMul, 0.12 → 3.3 ms), so they
 * are sent as 0. Each such term moves the update by less than 2⁻¹²⁶·|x|, far below the rounding of
 * any weight that is not itself below 2⁻¹⁰⁰.
 */
const FLOAT32_MIN_NORMAL = 2 ** -126;

/** δ_n = −c·grad_n in float32 for the backward pass, with subnormal values sent as 0 (see above). */
export function outputDelta(grad: ArrayLike<number>, c: number): Float32Array {
  const delta = new Float32Array(grad.length);
  for (let i = 0; i < grad.length; i++) {
    const d = -c * grad[i];
    delta[i] = Math.abs(d) < FLOAT32_MIN_NORMAL ? 0 : d;
  }
  return delta;
}

/**
 * w + m·u − decay·w formed in float64 and rounded to float32 once (decay: the weight-decay
 * control's ηλ; without it the term is left out, not multiplied by 0, so that a zero keeps its sign).
 */
export function updated(w: ArrayLike<number>, u: ArrayLike<number>, m = 1, decay = 0): Float32Array {
  const next = new Float32Array(w.length);
  if (decay === 0) for (let i = 0; i < w.length; i++) next[i] = w[i] + m * u[i];
  else for (let i = 0; i < w.length; i++) next[i] = w[i] + m * u[i] - decay * w[i];
  return next;
}

/** The error that stops a run whose outputs passed MAX_OUTPUT after step `afterStep`, or null. */
export function outputsOutOfRange(f: ArrayLike<number>, afterStep: number): DivergenceError | null {
  let largest = 0;
  for (let i = 0; i < f.length; i++) largest = Math.max(largest, Math.abs(f[i]));
  return largest > MAX_OUTPUT ? outputsNearOverflow(largest, afterStep) : null;
}

export function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  const m = Math.max(a, b);
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

/**
 * The StepInfo of a kept step with coefficient c from log L (isLog) or L, and log η_t, the step's
 * flow time: η_t = c/L is formed in log space, since it passes float64 once log(1/L) > 709, and c/L
 * is 0/0 once both underflow (c → 0 with L < e^−745).
 */
export function keptStep(c: number, logL: number, isLog: boolean, undone: number): { info: StepInfo; logStep: number } {
  const logStep = isLog ? Math.log(c) - logL : Math.log(c);
  return { info: { logLoss: logL, stepSize: isLog ? Math.exp(logStep) : c, undone, coefficient: c }, logStep };
}

/**
 * The try-and-undo loop of a schedule that judges its steps (src/schedule.ts): `tryStep(c)` moves
 * the weights by coefficient c from the step's start and says whether the schedule keeps the move;
 * `undo()` puts the start back. Returns the kept try's c and how many were undone before it;
 * throws after MAX_UNDONE_IN_A_ROW undone in a row (the weights are then the start's, of step
 * `fromStep`). c is the first try's coefficient; retries ask the schedule again (it lowered α).
 */
export function tryUntilKept(schedule: StepSchedule, logL: number, c: number, fromStep: number, tryStep: (c: number) => boolean, undo: () => void): { c: number; undone: number } {
  let undone = 0;
  while (!tryStep(c)) {
    undo();
    if (++undone >= MAX_UNDONE_IN_A_ROW) throw undoneInARow({ undone, fromStep, logLoss: logL, alpha: c });
    c = schedule.coefficient(logL);
  }
  return { c, undone };
}
