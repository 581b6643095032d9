import { datasetWarnings, type Dataset } from '../data.js';
import { loadData } from '../data/load.js';
import { InputError } from '../errors.js';
import { angle, dot, endToEnd } from '../measure.js';
import type { Weights } from '../model.js';
import { maxMarginSvm, NotSeparableError, type SvmResult } from '../svm.js';
import type { TrainRecord } from '../train.js';
import { parseOptions } from './args.js';
import { DATA_OPTIONS, dataSpec } from './data-options.js';
import type { TrainJob } from './train.js';

/** `svm`: the max-margin oracle on a data file. */
export function runSvm(argv: string[]): { out: string | undefined; result: SvmResult } {
  const { values, positionals } = parseOptions(argv, [...DATA_OPTIONS, 'out'], 'svm');
  if (positionals.length > 0) throw new InputError(`svm: unexpected argument "${positionals[0]}"`);
  const spec = dataSpec(values);
  const path = spec.path;
  const data = loadData(spec);
  for (const w of datasetWarnings(data)) process.stderr.write(`theory3: warning: ${path}: ${w}\n`);
  return { out: values.out, result: maxMarginSvm(data.X, data.y) };
}

/** min_n y_n x_n·v/‖v‖: the normalized margin of a linear predictor v (0 for v = 0). */
export function linearNormalizedMargin(v: number[], data: Dataset): number {
  const norm = Math.hypot(...v);
  if (norm === 0) return 0;
  return Math.min(...data.X.map((x, n) => (data.y[n] * dot(x, v)) / norm));
}

/**
 * For linear and deep linear models, adds to every record the angle between the end-to-end
 * predictor and the SVM direction (atan2: accurate for tiny angles) and the margin gap
 * γ* − (normalized margin of the predictor). A zero predictor (step 0 of a zero init) has no
 * direction: its angle is reported as π/2 and its margin as 0. Data not separable through the
 * origin have no SVM: a warning, and the fields are left out.
 */
export function svmAnnotator(job: TrainJob): ((weights: Weights, record: TrainRecord) => void) | undefined {
  if (job.config.model.kind === 'relu') return undefined;
  let svm: SvmResult;
  try {
    svm = maxMarginSvm(job.dataset.X, job.dataset.y);
  } catch (e) {
    if (!(e instanceof NotSeparableError)) throw e;
    process.stderr.write(`theory3: warning: ${e.message}: angleToSvm and marginGap are left out\n`);
    return undefined;
  }
  return (weights, record) => {
    const v = endToEnd(weights);
    record.angleToSvm = v.every((x) => x === 0) ? Math.PI / 2 : angle(v, svm.w);
    record.marginGap = svm.gamma - linearNormalizedMargin(v, job.dataset);
  };
}
