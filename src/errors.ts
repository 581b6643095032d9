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
 * "training produced a non-finite loss (Infinity) at step 3 in replicate 1 (log L was 812.5 before step 2)".
 * `step` is the step that failed (1-based); `logLossBefore`, the log-loss of the step before it, is
 * left out at step 1, where there is none; `replicate` names which of several trained together.
 */
export function nonFiniteLoss(o: { loss: number; step: number; logLossBefore?: number; replicate?: number }): DivergenceError {
  const where = o.replicate === undefined ? '' : ` in replicate ${o.replicate}`;
  const before = o.step > 1 && o.logLossBefore !== undefined ? ` (log L was ${o.logLossBefore} before step ${o.step - 1})` : '';
  return new DivergenceError(`training produced a non-finite loss (${o.loss}) at step ${o.step}${where}${before}`);
}
