import { DivergenceError, nonFiniteWeights, parameterError, withLastRecord } from './errors.js';
import type { Metrics } from './measure.js';

/** One record of a run, as every trainer's run gives it (src/train.ts, src/nn/records.ts). */
export interface TrainRecord extends Metrics {
  step: number;
  /** Σ η_t; may exceed float64 (see logFlowTime). */
  flowTime: number;
  logFlowTime: number;
  /** Steps undone so far (loss-based schedule); they are not counted in `step` or `flowTime`. */
  undone: number;
  [extra: string]: unknown;
}

/** Far more steps than any claim needs; beyond it a typo (1e12) would hang the machine. */
export const MAX_STEPS = 100_000_000;

export interface RecordedRun {
  steps: number;
  /** Steps after which to record (0 = the initial weights); the last step is always recorded. */
  record?: Iterable<number>;
  /** Called after every step with the number of steps done (e.g. a progress bar) and log t after it. */
  onStep?: (step: number, logFlowTime: number) => void;
  /** End the run early, recording its last step, once log t reaches this (at most `steps` steps). */
  untilLogFlowTime?: number;
}

/** What a run needs of a trainer. */
export interface Stepper {
  readonly stepCount: number;
  readonly logFlowTime: number;
  readonly undone: number;
  step(): unknown;
}

/**
 * Steps `trainer` to run.steps (or until log t ≥ run.untilLogFlowTime) and returns the records taken at the steps asked for. `measureNow`
 * gives the metrics of the current weights, or null when a weight is not finite, which stops the
 * run as a divergence; `annotate` adds fields to a record. A divergence is rethrown with the last
 * finite record named.
 */
export function recordRun(trainer: Stepper, run: RecordedRun, measureNow: () => Metrics | null, annotate?: (record: TrainRecord) => void): TrainRecord[] {
  if (!Number.isInteger(run.steps) || run.steps < 1 || run.steps > MAX_STEPS) throw parameterError('steps', `must be an integer in 1..${MAX_STEPS}, got ${run.steps}`);
  const wanted = new Set(run.record ?? []);
  wanted.add(run.steps);
  const records: TrainRecord[] = [];
  const snapshot = (): TrainRecord => {
    const metrics = measureNow();
    if (!metrics) throw nonFiniteWeights(trainer.stepCount);
    const record: TrainRecord = { step: trainer.stepCount, flowTime: Math.exp(trainer.logFlowTime), logFlowTime: trainer.logFlowTime, undone: trainer.undone, ...metrics };
    annotate?.(record);
    return record;
  };
  try {
    if (wanted.has(0)) records.push(snapshot());
    const until = run.untilLogFlowTime ?? Infinity;
    while (trainer.stepCount < run.steps && !(trainer.logFlowTime >= until)) {
      trainer.step();
      run.onStep?.(trainer.stepCount, trainer.logFlowTime);
      if (wanted.has(trainer.stepCount)) records.push(snapshot());
    }
    if (records.at(-1)?.step !== trainer.stepCount) records.push(snapshot());
    return records;
  } catch (e) {
    if (e instanceof DivergenceError) throw withLastRecord(e, records.at(-1));
    throw e;
  }
}
