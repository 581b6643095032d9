import { InputError } from '../errors.js';
import { linearAngleFailure, linearSlopeFailure, type LinearSnapshot, type SvmPrediction } from '../checks.js';
import { rotated } from '../measure.js';
import { modelSpec } from '../model.js';
import { maxMarginSvm, type SvmResult } from '../svm.js';
import { train, type TrainRecord } from '../train.js';
import { checkImagePositions, jobImages, type ImagePositions } from './net-job.js';

/**
 * A linear model on real images that a stored counterexample carries (`theory3 replay` re-runs
 * it): the images as positions in an IDX file of the repository (as for NetJob); the run — exp
 * loss (sum), loss-based steps with α = 1.9/max‖x‖² (below the descent bound 2/max‖x‖² of
 * src/schedule.ts) from w = 0, for `steps` steps or until log t ≥ `untilLogT`; the oracle — the
 * exact SVM of the same images (src/svm.ts); and the check to apply (LINEAR_CHECKS).
 */
export interface LinearJob {
  kind: 'linear';
  images: ImagePositions;
  steps: number;
  untilLogT?: number;
  /**
   * Negative control: the check is handed a wrong prediction — the SVM direction turned by
   * `rotate` rad towards the images' signed mean Σ y_n x_n (src/measure.ts rotated; a direction in
   * the data's span, which a run could reach), γ* multiplied by `gammaScale`.
   */
  wrongOracle?: { rotate?: number; gammaScale?: number };
  check: string;
}

/** α of the loss-based steps, in units of 1/max‖x‖². */
export const LINEAR_ALPHA = 1.9;
/** Records at steps growing by this factor (and the last step): ~6 in every quarter of log t late on. */
const RECORD_GROWTH = 1.05;

/** A stored job as read from a file: each field checked, one line naming the first bad one. */
export function checkLinearJob(job: unknown, source: string): LinearJob {
  const j = job as Partial<LinearJob> | null;
  const bad = (what: string) => new InputError(`${source}: ${what}`);
  if (typeof j !== 'object' || j === null || j.kind !== 'linear') throw bad('linearJob.kind must be "linear"');
  checkImagePositions(j.images, 'linearJob', bad);
  if (!Number.isInteger(j.steps) || j.steps! < 1 || j.steps! > 1e8) throw bad(`linearJob.steps must be an integer in 1..100000000, got ${j.steps}`);
  if (j.untilLogT !== undefined && !(Number.isFinite(j.untilLogT) && j.untilLogT > 0)) throw bad(`linearJob.untilLogT must be a positive number, got ${j.untilLogT}`);
  const o = j.wrongOracle;
  if (o !== undefined && !(typeof o === 'object' && o !== null && (o.rotate === undefined || Number.isFinite(o.rotate)) && (o.gammaScale === undefined || (Number.isFinite(o.gammaScale) && o.gammaScale > 0)))) {
    throw bad('linearJob.wrongOracle must be {rotate?: radians, gammaScale?: positive number}');
  }
  if (typeof j.check !== 'string') throw bad('linearJob.check must name a check');
  return j as LinearJob;
}

export interface LinearRun {
  records: TrainRecord[];
  /** w at each record. */
  weights: number[][];
  /** The log-t advance of the step into each record (NaN at step 0). */
  stepLogT: number[];
  /** The rows z_n = y_n x_n of the job's images (float64 of the float32 pixels the run trains on). */
  Z: number[][];
  /** The exact SVM of the job's images (NotSeparableError when there is none). */
  svm: SvmResult;
  /** What the check is handed: the SVM, or the job's wrong oracle. */
  prediction: SvmPrediction;
  /** Σ y_n x_n over the job's images: the in-span vector a wrong oracle's direction turns towards. */
  signedMean: number[];
  /** Index of the first record with every margin positive, −1 if none. */
  fit: number;
}

function recordSteps(steps: number): number[] {
  const out = [0];
  for (let s = 1; s < steps; s = Math.max(s + 1, Math.round(s * RECORD_GROWTH))) out.push(s);
  return out;
}

/**
 * What a check is handed: the SVM's direction, γ* and multipliers, or the wrong oracle made from
 * them (which keeps the SVM's multipliers). Multipliers outside the SVM's support set (rounding
 * level, see src/svm.ts) are passed as 0: r* is fixed on the support vectors only.
 */
export function predictionOf(svm: SvmResult, signedMean: number[], wrong: LinearJob['wrongOracle'] = {}): LinearRun['prediction'] {
  const support = new Set(svm.support);
  return {
    direction: wrong.rotate ? rotated(svm.w, wrong.rotate, signedMean) : svm.w,
    gamma: svm.gamma * (wrong.gammaScale ?? 1),
    alpha: svm.alpha.map((a, n) => (support.has(n) ? a : 0)),
  };
}

/** The run's weights at each record as snapshots for the limit-line check, each with the log-t advance of the step into it. */
export function linearSnapshots(r: Pick<LinearRun, 'records' | 'weights' | 'stepLogT'>): LinearSnapshot[] {
  return r.records.map((x, i) => ({ w: r.weights[i], step: x.step, logT: x.logFlowTime, stepLogT: r.stepLogT[i] }));
}

/** Solves the SVM of the job's images and trains the linear model on them, keeping w at every record. */
export function runLinearJob(job: LinearJob, onStep?: (step: number) => void): LinearRun {
  const images = jobImages(job);
  const y = Array.from(images.y);
  const d = images.X.length / y.length;
  const X = y.map((_, n) => Array.from(images.X.subarray(n * d, (n + 1) * d)));
  const svm = maxMarginSvm(X, y);
  const signedMean = new Array<number>(d).fill(0);
  X.forEach((x, n) => x.forEach((v, i) => (signedMean[i] += y[n] * v)));
  const prediction = predictionOf(svm, signedMean, job.wrongOracle);
  const weights: number[][] = [];
  const stepLogT: number[] = [];
  // log t before and after the last step: a record is taken right after its step
  let [before, after] = [-Infinity, -Infinity];
  const { records } = train({ X, y }, [[new Array<number>(d).fill(0)]], { model: modelSpec('linear'), loss: 'exp', reduction: 'sum', schedule: 'loss-based', lr: LINEAR_ALPHA / images.maxSq }, {
    steps: job.steps,
    record: recordSteps(job.steps),
    ...(job.untilLogT !== undefined ? { untilLogFlowTime: job.untilLogT } : {}),
    annotate: (w) => {
      weights.push(w[0][0]);
      stepLogT.push(after - before);
    },
    onStep: (step, logFlowTime) => {
      [before, after] = [after, logFlowTime];
      onStep?.(step);
    },
  });
  const Z = X.map((x, n) => x.map((v) => v * y[n]));
  return { records, weights, stepLogT, Z, svm, prediction, signedMean, fit: records.findIndex((r) => r.minMargin > 0) };
}

/** The checks `replay` can apply to a stored linear job (keys of LinearJob.check), each against the run's prediction. */
export const LINEAR_CHECKS: Record<string, { claim: string; run: (r: LinearRun) => string | null }> = {
  'R-C3/slope': { claim: 'R-C3', run: (r) => linearSlopeFailure(r.records.map((x) => x.logFlowTime), r.weights.map((w) => Math.hypot(...w)), r.prediction.gamma) },
  'R-C5/angle': { claim: 'R-C5', run: (r) => linearAngleFailure(r.Z, linearSnapshots(r), r.fit, r.prediction) },
  'R-C3C5/linear': { claim: 'R-C3, R-C5', run: (r) => LINEAR_CHECKS['R-C3/slope'].run(r) ?? LINEAR_CHECKS['R-C5/angle'].run(r) },
};
