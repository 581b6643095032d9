import type { Dataset } from '../data.js';
import { linearTeacherData, reluTeacher, reluTeacherData } from '../data.js';
import { normalizedLossAndError, sphereTeacherData } from '../generalization.js';
import { angle, endToEnd } from '../measure.js';
import { initWeights, modelSpec, type Weights } from '../model.js';
import { stream } from '../rng.js';
import { certificateWorst, maxMarginSvm, withMarginGap } from '../svm.js';
import { train, type TrainOptions, type TrainRecord } from '../train.js';

/**
 * The baseline's runs: small trainings with fixed seeds (a few seconds in all) whose key figures
 * — norms at fixed steps, slopes, final margins, angles, the SVM's KKT residual, generalization
 * gaps — pin the dynamics down. `stepMultiplier` scales every step size (1 = as built); the
 * tests use it to show that a 1% larger step moves the figures beyond their tolerances.
 * `perturbation` moves every data coordinate by a relative ±perturbation (signs from a fixed
 * stream): at one float32 ulp it measures how far rounding alone moves each figure.
 */
export interface BaselineOptions {
  stepMultiplier?: number;
  perturbation?: number;
  perturbationSeed?: number;
}

export type Figures = Record<string, number>;

function perturb(data: Dataset, o: BaselineOptions): Dataset {
  const eps = o.perturbation ?? 0;
  if (eps === 0) return data;
  const rng = stream(o.perturbationSeed ?? 1, 'noise');
  return { X: data.X.map((x) => x.map((v) => v * (1 + (rng.uniform() < 0.5 ? -eps : eps)))), y: data.y };
}

const at = (records: TrainRecord[], step: number) => {
  const r = records.find((x) => x.step === step);
  if (!r) throw new Error(`baseline run recorded no step ${step}`);
  return r;
};

function linearGd(o: BaselineOptions, out: Figures): void {
  const raw = linearTeacherData(stream(7, 'data'), 10, 2, 0.1);
  const gapped = withMarginGap(raw.X, raw.y, 1);
  const data = perturb({ X: gapped.X, y: gapped.y }, o);
  const svm = maxMarginSvm(data.X, data.y);
  const lr = (o.stepMultiplier ?? 1) / Math.max(...data.X.map((x) => x.reduce((s, v) => s + v * v, 0)));
  const opts: TrainOptions = { model: modelSpec('linear'), loss: 'exp', reduction: 'mean', schedule: 'constant', lr };
  const { records, weights } = train(data, [[new Array(2).fill(0)]], opts, { steps: 2000, record: [100, 1000, 2000] });
  const [r100, r1000, r2000] = [100, 1000, 2000].map((s) => at(records, s));
  out['linear GD: ‖w‖ at step 100'] = r100.rho;
  out['linear GD: ‖w‖ at step 1000'] = r1000.rho;
  out['linear GD: ‖w‖ at step 2000'] = r2000.rho;
  out['linear GD: slope of ‖w‖ in log t, steps 1000–2000'] = (r2000.rho - r1000.rho) / (r2000.logFlowTime - r1000.logFlowTime);
  out['linear GD: final angle to the SVM (rad)'] = angle(weights[0][0], svm.w);
  out['linear GD: final normalized margin'] = r2000.normalizedMargin;
  out['linear GD: log L at step 2000'] = r2000.logLoss;
  out['SVM: γ*'] = svm.gamma;
  out['SVM: worst KKT residual'] = certificateWorst(svm.certificate);
}

function sgd(o: BaselineOptions, out: Figures): void {
  const raw = linearTeacherData(stream(3, 'data'), 8, 2, 0.2);
  const data = perturb({ X: raw.X, y: raw.y }, o);
  const svm = maxMarginSvm(data.X, data.y);
  const lr = (0.5 * (o.stepMultiplier ?? 1)) / Math.max(...data.X.map((x) => x.reduce((s, v) => s + v * v, 0)));
  const { records, weights } = train(data, [[new Array(2).fill(0)]], { model: modelSpec('linear'), loss: 'exp', reduction: 'mean', schedule: 'constant', lr, batchSize: 2, seed: 3 }, { steps: 1000 });
  out['SGD (batch 2): ‖w‖ at step 1000'] = records.at(-1)!.rho;
  out['SGD (batch 2): final angle to the SVM (rad)'] = angle(weights[0][0], svm.w);
}

function flow(kind: 'deep-linear' | 'relu', o: BaselineOptions, out: Figures): void {
  const d = 3;
  const raw = kind === 'relu' ? reluTeacherData(stream(5, 'data'), 12, d, 3, 0.2) : linearTeacherData(stream(11, 'data'), 8, d, 0.2);
  const data = perturb({ X: raw.X, y: raw.y }, o);
  const spec = modelSpec(kind, 2, kind === 'relu' ? 8 : 3);
  const init: Weights = initWeights(spec, d, 'gaussian', 1, stream(kind === 'relu' ? 5 : 11, 'init'));
  const lr = (o.stepMultiplier ?? 1) / Math.max(...data.X.map((x) => x.reduce((s, v) => s + v * v, 0)));
  const { records, weights } = train(data, init, { model: spec, loss: 'exp', reduction: 'sum', schedule: 'flow', lr }, { steps: 300, record: [10, 100, 300] });
  const name = kind === 'relu' ? 'ReLU flow' : 'deep linear flow';
  for (const s of [10, 100, 300]) out[`${name}: ρ at step ${s}`] = at(records, s).rho;
  const last = at(records, 300);
  out[`${name}: log t at step 300`] = last.logFlowTime;
  out[`${name}: final smoothed margin γ̃`] = last.smoothedMargin;
  out[`${name}: final normalized margin γ̄`] = last.normalizedMargin;
  out[`${name}: final ρ_max/ρ_min`] = Math.max(...last.layerNorms) / Math.min(...last.layerNorms);
  if (kind === 'deep-linear') out[`${name}: final end-to-end angle to the SVM (rad)`] = angle(endToEnd(weights), maxMarginSvm(data.X, data.y).w);
}

/** Mean normalized loss gap (test − train) at N = 4 and N = 16 over 6 fixed-seed replicates. */
function gaps(o: BaselineOptions, out: Figures): void {
  const d = 3;
  const spec = modelSpec('relu', 2, 8);
  const teacher = reluTeacher(stream(21, 'data'), d, 3);
  const test = sphereTeacherData(stream(21, 'test'), teacher, 500, 0.05);
  for (const n of [4, 16]) {
    let sum = 0;
    for (let i = 0; i < 6; i++) {
      const data = perturb(sphereTeacherData(stream(100 + i, 'data'), teacher, n, 0.05), o);
      const init = initWeights(spec, d, 'gaussian', 1, stream(100 + i, 'init'));
      const { weights } = train(data, init, { model: spec, loss: 'exp', reduction: 'sum', schedule: 'flow', lr: o.stepMultiplier ?? 1 }, { steps: 60 });
      sum += normalizedLossAndError(weights, test, 'relu').loss - normalizedLossAndError(weights, data, 'relu').loss;
    }
    out[`ReLU gap: mean normalized loss gap at N = ${n}`] = sum / 6;
  }
}

export function runBaseline(o: BaselineOptions = {}): Figures {
  const out: Figures = {};
  linearGd(o, out);
  sgd(o, out);
  flow('deep-linear', o, out);
  flow('relu', o, out);
  gaps(o, out);
  return out;
}
