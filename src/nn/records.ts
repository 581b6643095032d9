import { objectiveOfOutputs, type LossSpec } from '../loss.js';
import { inverseLossOfLogSum, type Metrics } from '../measure.js';
import { recordRun, type RecordedRun, type TrainRecord } from '../run.js';
import type { Network } from './network.js';
import { NetTrainer, type ArraySet, type NetTrainOptions } from './trainer.js';

/**
 * Records of a network run from the backend's float32 outputs, reduced on the host in float64
 * with loops (a float64 re-forward per record is too slow on thousands of images, and
 * Math.min(...array) throws past ~10⁵ elements). Same fields as src/measure.ts's Metrics.
 */
export function outputMetrics(f: ArrayLike<number>, y: ArrayLike<number>, params: ArrayLike<number>[], spec: LossSpec): Metrics {
  const K = params.length;
  const layerNorms = params.map((W) => {
    let s = 0;
    for (let i = 0; i < W.length; i++) s += W[i] * W[i];
    return Math.sqrt(s);
  });
  const norm = Math.hypot(...layerNorms);
  let minMargin = Infinity;
  for (let i = 0; i < f.length; i++) minMargin = Math.min(minMargin, y[i] * f[i]);
  const { value, isLog } = objectiveOfOutputs(f, y, spec);
  // The zero network has no direction: its margins are reported as 0 (as src/measure.ts does).
  const scale = norm === 0 ? Infinity : norm ** K;
  return {
    logLoss: isLog ? value : Math.log(value),
    norm,
    rho: layerNorms.reduce((p, v) => p * v, 1),
    layerNorms,
    minMargin,
    normalizedMargin: minMargin / scale,
    smoothedMargin: inverseLossOfOutputs(f, y, spec.loss) / scale,
  };
}

/** ℓ⁻¹(L_sum) of src/measure.ts from the outputs (for the squared control, of the exp loss). */
function inverseLossOfOutputs(f: ArrayLike<number>, y: ArrayLike<number>, loss: LossSpec['loss']): number {
  return inverseLossOfLogSum(objectiveOfOutputs(f, y, { loss: loss === 'logistic' ? 'logistic' : 'exp', reduction: 'sum' }).value, loss);
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
