import { InputError } from '../errors.js';

/**
 * The command line's name for each core parameter that an InputError can name (InputError.parameter):
 * the one place where the core's names (TrainOptions.lr, RunOptions.steps, initWeights' scale, …)
 * meet the command line's flags. The core checks its parameters; the command line only parses
 * strings into numbers and renames.
 */
export const PARAMETER_FLAGS: Readonly<Record<string, string>> = {
  lr: '--lr',
  steps: '--steps',
  depth: '--depth',
  width: '--width',
  init: '--init',
  scale: '--init-scale',
  batchSize: '--batch-size',
  backend: '--backend',
};

/** An error's message as the command line prints it: a core parameter's name becomes its flag. */
export function userMessage(e: Error): string {
  if (e instanceof InputError && e.parameter !== undefined && e.message.startsWith(e.parameter)) {
    const flag = PARAMETER_FLAGS[e.parameter];
    if (flag !== undefined) return flag + e.message.slice(e.parameter.length);
  }
  return e.message;
}
