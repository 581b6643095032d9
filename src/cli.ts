import { DivergenceError, InputError } from './errors.js';

const USAGE = `usage:
  theory3 train --data FILE --model linear|deep-linear|relu [--depth K] [--width H]
      --loss exp|logistic|squared [--reduction sum|mean] [--schedule constant|flow] --lr ETA --steps T
      [--init zero|gaussian|FILE] [--init-scale S] [--seed S] [--record 1,10,100,...] [--batch-size B]
      [--backend wasm|cpu] [--out FILE]
  theory3 svm --data FILE [--out FILE]
  theory3 replay FILE [--out TRAJ.json] [--plot OUT.svg]
  theory3 verify [--report DIR] [--shard I/N] [vitest filters…]
  theory3 verify --merge DIR [--report OUT]
  theory3 verify --baseline FILE [--step-multiplier M]
  theory3 verify --update-baseline [--baseline FILE]`;

/**
 * The command line: one subcommand per job; user mistakes print one line and exit non-zero.
 * Subcommands are imported when used: tfjs, vega and the test runner each cost start-up time.
 */
async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'train': {
      const [{ runTrain }, { svmAnnotator }, { emit, toJson }] = await Promise.all([import('./cli/train.js'), import('./cli/svm.js'), import('./cli/output.js')]);
      const { out, result } = await runTrain(rest, svmAnnotator);
      emit(toJson(result), out);
      return;
    }
    case 'svm': {
      const [{ runSvm }, { emit, toJson }] = await Promise.all([import('./cli/svm.js'), import('./cli/output.js')]);
      const { out, result } = runSvm(rest);
      emit(toJson(result), out);
      return;
    }
    case 'replay':
      await (await import('./cli/replay.js')).runReplay(rest);
      return;
    case 'verify':
      await (await import('./cli/verify.js')).runVerify(rest);
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
