/**
 * A mistake in what the user gave us (a file, an option, a data set). The command line prints its
 * message as one line and exits non-zero; anything else that is thrown is a bug in this project.
 */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** Training left the finite numbers: names the step and the last finite metrics. */
export class DivergenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DivergenceError';
  }
}
