import { DivergenceError, InputError } from './errors.js';
import { emit, toJson } from './cli/output.js';
import { runTrain, TRAIN_USAGE } from './cli/train.js';
import { runSvm, svmAnnotator, SVM_USAGE } from './cli/svm.js';
import { runReplay, REPLAY_USAGE } from './cli/replay.js';
import { runVerify, VERIFY_USAGE } from './cli/verify.js';

const USAGE = `usage:
  ${TRAIN_USAGE}
  ${SVM_USAGE}
  ${REPLAY_USAGE}
  ${VERIFY_USAGE}`;

/** The command line: one subcommand per job; user mistakes print one line and exit non-zero. */
async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'train': {
      const { out, result } = await runTrain(rest, svmAnnotator);
      emit(toJson(result), out);
      return;
    }
    case 'svm': {
      const { out, result } = runSvm(rest);
      emit(toJson(result), out);
      return;
    }
    case 'replay':
      await runReplay(rest);
      return;
    case 'verify':
      await runVerify(rest);
      return;
    case undefined:
    case '-h':
    case '--help':
      process.stderr.write(USAGE + '\n');
      if (command === undefined) process.exitCode = 2;
      return;
    default:
      throw new InputError(`unknown command "${command}" (expected train, svm, replay or verify)`);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  const known = e instanceof InputError || e instanceof DivergenceError;
  process.stderr.write(`theory3: ${known ? '' : 'internal error: '}${(e as Error)?.message ?? String(e)}\n`);
  if (!known && process.env.THEORY3_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
  process.exitCode = known ? 1 : 3;
});
