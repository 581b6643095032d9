import { SingleBar } from 'cli-progress';

/**
 * A progress bar for `train` on stderr, only when stderr is a terminal: piped or redirected runs
 * stay silent, so their stderr holds nothing but warnings and errors. Returns the per-step hook
 * and `done`, which erases the bar.
 */
export function trainProgress(steps: number, stream: NodeJS.WriteStream = process.stderr): { onStep?: (step: number) => void; done: () => void } {
  if (!stream.isTTY) return { done: () => {} };
  const bar = new SingleBar({
    stream,
    format: 'theory3 train [{bar}] {percentage}% | step {value}/{total} | {eta_formatted} left',
    clearOnComplete: true,
    hideCursor: true,
  });
  bar.start(steps, 0);
  // The training loop is synchronous: the bar redraws from update() itself (synchronousUpdate),
  // at most ten times a second.
  return { onStep: (step) => bar.update(step), done: () => bar.stop() };
}
