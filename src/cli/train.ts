import { useBackend, BACKENDS, type BackendName } from '../backend.js';
import { datasetWarnings, readJsonFile, type Dataset } from '../data.js';
import { loadData } from '../data/load.js';
import { InputError } from '../errors.js';
import { LOSS_KINDS } from '../loss.js';
import { checkWeights, initWeights, MODEL_KINDS, modelSpec, type ModelSpec, type Weights } from '../model.js';
import { stream } from '../rng.js';
import { SCHEDULES, train, type TrainOptions, type TrainRecord } from '../train.js';
import { parseChoice, parseInteger, parseNumber, parseOptions, parseStepList, required } from './args.js';
import { DATA_OPTIONS, dataSpec } from './data-options.js';
import { trainProgress } from './progress.js';
import { runTrainNet, wantsNetwork } from './train-net.js';

const OPTIONS = [
  ...DATA_OPTIONS, 'model', 'depth', 'width', 'loss', 'reduction', 'schedule', 'lr', 'steps', 'init', 'init-scale',
  'seed', 'record', 'batch-size', 'backend', 'out',
] as const;

/** Beyond this, x·x and the first step's products overflow float32 for any useful weights. */
const MAX_COORDINATE = 1e15;

export interface TrainJob {
  out: string | undefined;
  config: TrainOptions & { data: string; labels?: string; labelColumn?: string; classes?: [number, number]; perClass?: number; steps: number; init: string; initScale: number; seed: number; record: number[]; backend: BackendName; n: number; d: number };
  dataset: Dataset;
  /** One example's shape before flattening: [28, 28, 1] for MNIST-family images, [d] for tables. */
  shape: number[];
  init: Weights;
}

/**
 * Reads every option and input file; throws InputError naming the first problem. Numbers are only
 * parsed here: the core checks their ranges (modelSpec: depth, width; initWeights: init, scale;
 * train and Trainer: steps, lr, batch size) in its own words, which the command line renames to
 * its flags (flags.ts).
 */
export function parseTrainJob(argv: string[]): TrainJob {
  const { values, positionals } = parseOptions(argv, OPTIONS, 'train');
  if (positionals.length > 0) throw new InputError(`train: unexpected argument "${positionals[0]}"`);
  const spec = dataSpec(values);
  const dataPath = spec.path;
  const kind = parseChoice(required(values, 'model'), 'model', MODEL_KINDS);
  const depth = values.depth === undefined ? 2 : parseNumber(values.depth, 'depth');
  if (kind === 'linear' && values.depth !== undefined && depth !== 1) throw new InputError('--model linear has exactly one layer; drop --depth or use deep-linear');
  const width = values.width === undefined ? 16 : parseNumber(values.width, 'width');
  const model: ModelSpec = modelSpec(kind, depth, width);
  const loss = parseChoice(required(values, 'loss'), 'loss', LOSS_KINDS);
  const reduction = parseChoice(values.reduction ?? 'sum', 'reduction', ['sum', 'mean'] as const);
  const schedule = parseChoice(values.schedule ?? 'constant', 'schedule', SCHEDULES);
  const lrGiven = values.lr === undefined && schedule === 'loss-based' ? undefined : parseNumber(required(values, 'lr'), 'lr');
  const steps = parseNumber(required(values, 'steps'), 'steps');
  const seed = values.seed === undefined ? 1 : parseInteger(values.seed, 'seed', 0);
  const initScale = values['init-scale'] === undefined ? 1 : parseNumber(values['init-scale'], 'init-scale');
  const record = values.record === undefined ? [] : parseStepList(values.record, 'record');
  const batchSize = values['batch-size'] === undefined ? undefined : parseNumber(values['batch-size'], 'batch-size');
  const backend = parseChoice(values.backend ?? 'wasm', 'backend', BACKENDS);
  const initArg = values.init ?? (kind === 'linear' ? 'zero' : 'gaussian');

  const { X, y, shape } = loadData(spec);
  const dataset: Dataset = { X, y };
  for (const w of datasetWarnings(dataset)) process.stderr.write(`theory3: warning: ${dataPath}: ${w}\n`);
  const d = dataset.X[0].length;
  // loss-based without --lr: α = 1/max‖x‖², half the linear model's descent bound (src/schedule.ts)
  const lr = lrGiven ?? 1 / dataset.X.reduce((m, x) => Math.max(m, x.reduce((s, v) => s + v * v, 0)), 0);
  const largest = Math.max(...dataset.X.map((x) => Math.max(...x.map(Math.abs))));
  if (largest > MAX_COORDINATE) {
    throw new InputError(`${dataPath}: coordinates up to ${largest.toExponential(1)}; training runs in float32, where products of such values overflow (max 3.4e38): rescale the data below ${MAX_COORDINATE.toExponential(0)}`);
  }
  const late = record.filter((s) => s > steps);
  if (late.length > 0) process.stderr.write(`theory3: warning: --record steps after --steps ${steps} are ignored: ${late.join(',')}\n`);
  let init: Weights;
  if (initArg === 'zero' || initArg === 'gaussian') {
    init = initWeights(model, d, initArg, initScale, stream(seed, 'init'));
  } else {
    const file = readJsonFile(initArg, 'init') as { weights?: unknown } | null;
    if (typeof file !== 'object' || file === null || !('weights' in file)) throw new InputError(`init file ${initArg}: expected a JSON object with "weights"`);
    init = checkWeights(file.weights, model, d, `init file ${initArg}`);
  }
  return {
    out: values.out,
    config: {
      data: dataPath, ...(spec.labels !== undefined ? { labels: spec.labels } : {}),
      ...(spec.labelColumn !== undefined ? { labelColumn: spec.labelColumn } : {}), ...(spec.classes !== undefined ? { classes: spec.classes } : {}),
      ...(spec.perClass !== undefined ? { perClass: spec.perClass } : {}),
      model, loss, reduction, schedule, lr, steps, init: initArg, initScale, seed,
      record: record.filter((s) => s <= steps), ...(batchSize !== undefined ? { batchSize } : {}), backend,
      n: dataset.X.length, d,
    },
    dataset,
    shape,
    init,
  };
}

export type Annotator = (job: TrainJob) => ((weights: Weights, record: TrainRecord) => void) | undefined;

/** Runs `train` and returns its output object (config, backend, records, final weights). */
export async function runTrain(argv: string[], annotator?: Annotator) {
  if (wantsNetwork(argv)) return runTrainNet(argv);
  const job = parseTrainJob(argv);
  await useBackend(job.config.backend);
  const progress = trainProgress(job.config.steps);
  let run: ReturnType<typeof train>;
  try {
    run = train(job.dataset, job.init, job.config, {
      steps: job.config.steps,
      record: job.config.record,
      annotate: annotator?.(job),
      onStep: progress.onStep,
    });
  } finally {
    progress.done();
  }
  const { records, weights } = run;
  return { out: job.out, result: { config: job.config, backend: job.config.backend, records, weights } };
}
