/**
 * A mistake in what the user gave us (a file, an option, a data set). The command line prints its
 * message as one line and exits non-zero; anything else that is thrown is a bug in this project.
 * When the mistake is one parameter of the core (TrainOptions.lr, RunOptions.steps, …), the
 * message opens with the parameter's name and `parameter` holds it, so that a front end can name
 * its own spelling of it (the command line's --lr) without the core knowing the command line.
 */
export class InputError extends Error {
  readonly parameter?: string;
  constructor(message: string, parameter?: string) {
    super(message);
    this.name = 'InputError';
    if (parameter !== undefined) this.parameter = parameter;
  }
}

/** An InputError about one parameter: "<name> <problem>", e.g. "lr must be a positive number, got 0". */
export function parameterError(name: string, problem: string): InputError {
  return new InputError(`${name} ${problem}`, name);
}

/** Training left the finite numbers: names the step and the last finite metrics. */
export class DivergenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DivergenceError';
  }
}

/**
 * The one message every trainer gives when the loss leaves the finite numbers, e.g.
 * "training produced a non-finite loss (Infinity) at step 3 (log L was 812.5 before step 2)".
 * `step` is the step that failed (1-based); `logLossBefore`, the log-loss of the step before it, is
 * left out at step 1, where there is none.
 */
export function nonFiniteLoss(o: { loss: number; step: number; logLossBefore?: number }): DivergenceError {
  const before = o.step > 1 && o.logLossBefore !== undefined ? ` (log L was ${o.logLossBefore} before step ${o.step - 1})` : '';
  return new DivergenceError(`training produced a non-finite loss (${o.loss}) at step ${o.step}${before}`);
}

/** A loss-based run whose outputs came within 2^8 of the float32 range (src/step.ts, MAX_OUTPUT). */
export function outputsNearOverflow(largest: number, afterStep: number): DivergenceError {
  return new DivergenceError(
    `the outputs reached |f| = ${largest.toExponential(2)} after step ${afterStep}, within a factor 256 of the float32 range (3.4e38): the next step would overflow; stop earlier (fewer steps)`,
  );
}

/** A loss-based run that undid `undone` tries in a row from step `fromStep`; its weights are those of that step. */
export function undoneInARow(o: { undone: number; fromStep: number; logLoss: number; alpha: number }): DivergenceError {
  return new DivergenceError(
    `loss-based steps: ${o.undone} steps in a row from step ${o.fromStep} raised the loss (log L ${o.logLoss}), the last with α = ${o.alpha}; the weights are those of step ${o.fromStep}`,
  );
}

export function nonFiniteWeights(step: number): DivergenceError {
  return new DivergenceError(`training produced non-finite weights by step ${step}`);
}

/** `e` with the last finite record of the run appended (or a hint to record earlier steps). */
export function withLastRecord(e: DivergenceError, last: { step: number; logLoss: number; norm: number; minMargin: number } | undefined): DivergenceError {
  const tail = last
    ? `; last finite record: step ${last.step}, logLoss ${last.logLoss}, norm ${last.norm}, minMargin ${last.minMargin}`
    : '; no finite record before it (record earlier steps to see them)';
  return new DivergenceError(e.message + tail);
}
