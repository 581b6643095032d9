import { readFileSync } from 'node:fs';
import { DivergenceError, InputError } from './errors.js';
import { userMessage } from './cli/flags.js';
import { COMMAND_HELP, HELP } from './cli/usage.js';

/** --help or -h among a command's arguments (before a `--` that ends the options). */
function asksForHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

function version(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/**
 * The command line: one subcommand per job; user mistakes print one line and exit non-zero.
 * Subcommands are imported when used: tfjs, vega and the test runner each cost start-up time.
 */
async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command !== undefined && command in COMMAND_HELP && asksForHelp(rest)) {
    process.stdout.write(COMMAND_HELP[command] + '\n');
    return;
  }
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
    case '-h':
    case '--help':
      process.stdout.write(HELP + '\n');
      return;
    case '-V':
    case '--version':
      process.stdout.write(version() + '\n');
      return;
    case undefined:
      // No command is a mistake: the help goes to stderr, and the exit status says so.
      process.stderr.write(HELP + '\n');
      process.exitCode = 2;
      return;
    default:
      throw new InputError(`unknown command "${command}" (expected train, svm, replay or verify; see theory3 --help)`);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  const known = e instanceof InputError || e instanceof DivergenceError;
  const message = e instanceof Error ? userMessage(e) : String(e);
  process.stderr.write(`theory3: ${known ? '' : 'internal error: '}${message}\n`);
  if (!known && process.env.THEORY3_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
  process.exitCode = known ? 1 : 3;
});
