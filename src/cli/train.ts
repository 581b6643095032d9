import { useBackend, BACKENDS, type BackendName } from '../backend.js';
import { datasetWarnings, loadDataset, readJsonFile, type Dataset } from '../data.js';
import { InputError } from '../errors.js';
import { LOSS_KINDS } from '../loss.js';
import { checkWeights, initWeights, MODEL_KINDS, modelSpec, type ModelSpec, type Weights } from '../model.js';
import { stream } from '../rng.js';
import { SCHEDULES, train, type TrainOptions, type TrainRecord } from '../train.js';
import { runTrainNet, wantsNetwork } from './train-net.js';
import { parseChoice, parseInteger, parseOptions, parsePositive, parseStepList, required } from './args.js';

const OPTIONS = [
  'data', 'model', 'depth', 'width', 'loss', 'reduction', 'schedule', 'lr', 'steps', 'init', 'init-scale',
  'seed', 'record', 'batch-size', 'backend', 'out',
] as const;

/** Beyond this, x·x and the first step's products overflow float32 for any useful weights. */
const MAX_COORDINATE = 1e15;

/** Far more steps than any claim needs; beyond it a typo (1e12) would hang the machine. */
const MAX_STEPS = 100_000_000;

export interface TrainJob {
  out: string | undefined;
  config: TrainOptions & { data: string; steps: number; init: string; initScale: number; seed: number; record: number[]; backend: BackendName; n: number; d: number };
  dataset: Dataset;
  init: Weights;
}

/** Reads and checks every option and input file; throws InputError naming the first problem. */
export function parseTrainJob(argv: string[]): TrainJob {
  const { values, positionals } = parseOptions(argv, OPTIONS, 'train');
  if (positionals.length > 0) throw new InputError(`train: unexpected argument "${positionals[0]}"`);
  const dataPath = required(values, 'data');
  const kind = parseChoice(required(values, 'model'), 'model', MODEL_KINDS);
  const depth = values.depth === undefined ? 2 : parseInteger(values.depth, 'depth', kind === 'linear' ? 1 : 2, 64);
  if (kind === 'linear' && values.depth !== undefined && depth !== 1) throw new InputError('--model linear has exactly one layer; drop --depth or use deep-linear');
  const width = values.width === undefined ? 16 : parseInteger(values.width, 'width', 1, 100_000);
  const model: ModelSpec = modelSpec(kind, depth, width);
  const loss = parseChoice(required(values, 'loss'), 'loss', LOSS_KINDS);
  const reduction = parseChoice(values.reduction ?? 'sum', 'reduction', ['sum', 'mean'] as const);
  const schedule = parseChoice(values.schedule ?? 'constant', 'schedule', SCHEDULES);
  const lr = parsePositive(required(values, 'lr'), 'lr');
  const steps = parseInteger(required(values, 'steps'), 'steps', 1, MAX_STEPS);
  const seed = values.seed === undefined ? 1 : parseInteger(values.seed, 'seed', 0);
  const initScale = values['init-scale'] === undefined ? 1 : parsePositive(values['init-scale'], 'init-scale');
  const record = values.record === undefined ? [] : parseStepList(values.record, 'record');
  const batchSize = values['batch-size'] === undefined ? undefined : parseInteger(values['batch-size'], 'batch-size', 1);
  const backend = parseChoice(values.backend ?? 'wasm', 'backend', BACKENDS);
  const initArg = values.init ?? (kind === 'linear' ? 'zero' : 'gaussian');

  const dataset = loadDataset(dataPath);
  for (const w of datasetWarnings(dataset)) process.stderr.write(`theory3: warning: ${dataPath}: ${w}\n`);
  const d = dataset.X[0].length;
  const largest = Math.max(...dataset.X.map((x) => Math.max(...x.map(Math.abs))));
  if (largest > MAX_COORDINATE) {
    throw new InputError(`${dataPath}: coordinates up to ${largest.toExponential(1)}; training runs in float32, where products of such values overflow (max 3.4e38): rescale the data below ${MAX_COORDINATE.toExponential(0)}`);
  }
  if (batchSize !== undefined && batchSize > dataset.X.length) throw new InputError(`--batch-size ${batchSize} exceeds the ${dataset.X.length} points of ${dataPath}`);
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
      data: dataPath, model, loss, reduction, schedule, lr, steps, init: initArg, initScale, seed,
      record: record.filter((s) => s <= steps), ...(batchSize !== undefined ? { batchSize } : {}), backend,
      n: dataset.X.length, d,
    },
    dataset,
    init,
  };
}

export type Annotator = (job: TrainJob) => ((weights: Weights, record: TrainRecord) => void) | undefined;

/** Runs `train` and returns its output object (config, backend, records, final weights). */
export async function runTrain(argv: string[], annotator?: Annotator) {
  if (wantsNetwork(argv)) return runTrainNet(argv);
  const job = parseTrainJob(argv);
  await useBackend(job.config.backend);
  const { records, weights } = train(job.dataset, job.init, job.config, {
    steps: job.config.steps,
    record: job.config.record,
    annotate: annotator?.(job),
  });
  return { out: job.out, result: { config: job.config, backend: job.config.backend, records, weights } };
}
