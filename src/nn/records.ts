import type { LossSpec } from '../loss.js';
import { dot, metricsOf, type Metrics } from '../measure.js';
import { recordRun, type RecordedRun, type TrainRecord } from '../run.js';
import type { Network } from './network.js';
import { NetTrainer, type ArraySet, type NetTrainOptions } from './trainer.js';

/**
 * Records of a network run from the backend's float32 outputs, reduced on the host in float64 (a
 * float64 re-forward per record is too slow on thousands of images): src/measure.ts's Metrics of
 * the margins y_n f_n.
 */
export function outputMetrics(f: ArrayLike<number>, y: ArrayLike<number>, params: ArrayLike<number>[], spec: LossSpec): Metrics {
  const q = Array.from({ length: f.length }, (_, i) => y[i] * f[i]);
  return metricsOf(q, params.map((W) => dot(W, W)), spec);
}

export type NetRunOptions = RecordedRun;

/** Trains `net` from `init` on this thread and returns the records and the final parameters. */
export function trainNetwork(net: Network, data: ArraySet, init: Float32Array[], opts: NetTrainOptions, run: NetRunOptions): { records: TrainRecord[]; params: Float32Array[] } {
  return runTrainer(new NetTrainer(net, data, init, opts), data.y, run);
}

/** Runs `trainer` (disposed at the end) for run.steps steps; y are its data's labels. */
export function runTrainer(trainer: NetTrainer, y: ArrayLike<number>, run: NetRunOptions): { records: TrainRecord[]; params: Float32Array[] } {
  try {
    const measureNow = () => (trainer.params.every((W) => W.every(Number.isFinite)) ? outputMetrics(trainer.outputs(), y, trainer.params, trainer.opts) : null);
    return { records: recordRun(trainer, run, measureNow), params: trainer.params };
  } finally {
    trainer.dispose();
  }
}
