import { useBackend, BACKENDS, type BackendName } from '../backend.js';
import { datasetWarnings, readJsonFile, type Dataset } from '../data.js';
import { loadData, type DataSpec } from '../data/load.js';
import { formatName } from '../data/read.js';
import { InputError } from '../errors.js';
import { LOSS_KINDS } from '../loss.js';
import { PADDINGS } from '../nn/conv2d.js';
import { sizeOf, type Shape } from '../nn/layer.js';
import { buildNetwork, DEFAULT_CNN, initParams, type CnnSpec, type Network } from '../nn/network.js';
import { POOL_KINDS } from '../nn/pool.js';
import { runTrainer } from '../nn/records.js';
import { NetTrainer, type ArraySet, type NetTrainOptions } from '../nn/trainer.js';
import { stream } from '../rng.js';
import { SCHEDULES } from '../train.js';
import { parseChoice, parseInteger, parseNumber, parseOptions, parseStepList, required } from './args.js';
import { DATA_OPTIONS, dataSpec } from './data-options.js';

/**
 * `train --model cnn`: a convolutional network of src/nn on images. The data is any format `--data`
 * reads: IDX files carry their image shape ([28, 28, 1] for the MNIST family); a JSON file
 * {"X": rows of H·W·C pixel values (row-major, channels last), "y": labels ±1, "shape": [H, W, C]}
 * may; CSV and .npy rows are flat. --image-shape gives the shape when the data has none, and must
 * agree with it when it has one.
 */
const OPTIONS = [
  ...DATA_OPTIONS, 'model', 'image-shape', 'channels', 'kernel', 'pool', 'pool-size', 'padding', 'loss', 'reduction', 'schedule',
  'lr', 'steps', 'init', 'init-scale', 'seed', 'record', 'backend', 'threads', 'out',
] as const;

const MAX_STEPS = 100_000_000;

/** True when the command line asks for a network of src/nn (--model cnn). */
export function wantsNetwork(argv: string[]): boolean {
  const i = argv.indexOf('--model');
  return argv.includes('--model=cnn') || (i >= 0 && argv[i + 1] === 'cnn');
}

function parseShape(raw: unknown, source: string): number[] {
  const parts = typeof raw === 'string' ? raw.split(',').map((s) => (s.trim() === '' ? NaN : Number(s))) : raw;
  if (!Array.isArray(parts) || parts.length !== 3 || !parts.every((v) => Number.isInteger(v) && v >= 1)) {
    throw new InputError(`${source} must be three positive integers height,width,channels, got ${JSON.stringify(raw)}`);
  }
  return parts as number[];
}

function parseList(raw: string, name: string): number[] {
  return raw.split(',').map((s) => parseInteger(s, name, 1, 4096));
}

export interface NetJob {
  out: string | undefined;
  config: NetTrainOptions & {
    data: string; model: 'cnn'; network: CnnSpec; steps: number; init: string; initScale: number; seed: number;
    record: number[]; backend: BackendName; threads: 1 | 2; n: number;
  };
  net: Network;
  data: ArraySet;
  init: Float32Array[];
}

export function parseNetJob(argv: string[]): NetJob {
  const { values, positionals } = parseOptions(argv, OPTIONS, 'train');
  if (positionals.length > 0) throw new InputError(`train: unexpected argument "${positionals[0]}"`);
  const dataPath = required(values, 'data');
  parseChoice(required(values, 'model'), 'model', ['cnn'] as const);
  const loss = parseChoice(required(values, 'loss'), 'loss', LOSS_KINDS);
  const reduction = parseChoice(values.reduction ?? 'sum', 'reduction', ['sum', 'mean'] as const);
  const schedule = parseChoice(values.schedule ?? 'constant', 'schedule', SCHEDULES);
  const lrGiven = values.lr === undefined && schedule === 'loss-based' ? undefined : parseNumber(required(values, 'lr'), 'lr');
  const steps = parseInteger(required(values, 'steps'), 'steps', 1, MAX_STEPS);
  const seed = values.seed === undefined ? 1 : parseInteger(values.seed, 'seed', 0);
  const initScale = values['init-scale'] === undefined ? 1 : parseNumber(values['init-scale'], 'init-scale');
  if (!(initScale > 0)) throw new InputError(`--init-scale must be a positive number, got ${initScale}`);
  const record = values.record === undefined ? [] : parseStepList(values.record, 'record');
  const backend = parseChoice(values.backend ?? 'wasm', 'backend', BACKENDS);
  const threads = parseInteger(values.threads ?? '1', 'threads', 1, 2) as 1 | 2;
  const channels = values.channels === undefined ? DEFAULT_CNN.channels : parseList(values.channels, 'channels');
  const kernel = values.kernel === undefined ? DEFAULT_CNN.kernel : parseInteger(values.kernel, 'kernel', 1, 64);
  const pool = parseChoice(values.pool ?? DEFAULT_CNN.pool, 'pool', [...POOL_KINDS, 'none'] as const);
  const poolSize = values['pool-size'] === undefined ? DEFAULT_CNN.poolSize : parseInteger(values['pool-size'], 'pool-size', 1, 64);
  const padding = parseChoice(values.padding ?? DEFAULT_CNN.padding, 'padding', PADDINGS);

  const { dataset, fromFile } = readImages(dataSpec(values));
  const given = values['image-shape'] === undefined ? undefined : parseShape(values['image-shape'], '--image-shape');
  if (given && fromFile && given.join() !== fromFile.join()) throw new InputError(`--image-shape ${given.join(',')} disagrees with the shape ${fromFile.join(',')} in ${dataPath}`);
  const shape: Shape | undefined = given ?? fromFile;
  if (!shape) throw new InputError(`--model cnn needs the image shape: --image-shape H,W,C or a "shape" field in ${dataPath}`);
  const d = dataset.X[0].length;
  if (sizeOf(shape) !== d) throw new InputError(`${dataPath}: rows have ${d} values, an image of shape ${shape.join('×')} has ${sizeOf(shape)}`);

  // loss-based without --lr: α₀ = 1/max‖x‖², as for the dense models (src/schedule.ts); adapted from there
  const lr = lrGiven ?? 1 / dataset.X.reduce((m, x) => Math.max(m, x.reduce((s, v) => s + v * v, 0)), 0);
  const network: CnnSpec = { kind: 'cnn', inShape: shape, channels, kernel, pool, poolSize, padding };
  const net = buildNetwork(network);
  const n = dataset.y.length;
  const X = new Float32Array(n * d);
  dataset.X.forEach((row, i) => X.set(row, i * d));
  const initArg = values.init ?? 'gaussian';
  const init = initArg === 'gaussian' ? initParams(net, stream(seed, 'init'), initScale) : readInit(initArg, net);
  const late = record.filter((s) => s > steps);
  if (late.length > 0) process.stderr.write(`theory3: warning: --record steps after --steps ${steps} are ignored: ${late.join(',')}\n`);
  return {
    out: values.out,
    config: {
      data: dataPath, model: 'cnn', network, loss, reduction, schedule, lr, steps, init: initArg, initScale, seed,
      record: record.filter((s) => s <= steps), backend, threads, n,
    },
    net,
    data: { X, shape, y: dataset.y },
    init,
  };
}

/**
 * The examples and, when the data says it, one image's shape [H, W, C]: IDX files carry it; a
 * JSON file may carry it in its "shape" field (read separately: loadData knows only {"X", "y"});
 * CSV and .npy rows are flat.
 */
function readImages(spec: DataSpec): { dataset: Dataset; fromFile: number[] | undefined } {
  const { X, y, shape } = loadData(spec);
  const dataset = { X, y };
  for (const w of datasetWarnings(dataset)) process.stderr.write(`theory3: warning: ${spec.path}: ${w}\n`);
  if (formatName(spec.path).endsWith('.json')) {
    const fileShape = (readJsonFile(spec.path, 'data') as { shape?: unknown }).shape;
    return { dataset, fromFile: fileShape === undefined ? undefined : parseShape(fileShape, `${spec.path}: "shape"`) };
  }
  return { dataset, fromFile: shape.length === 3 ? shape : undefined };
}

/** An init file {"params": [{"shape": [...], "values": [...]}, …]}, as `train` writes them. */
function readInit(path: string, net: Network): Float32Array[] {
  const file = readJsonFile(path, 'init') as { params?: unknown } | null;
  const params = file && typeof file === 'object' ? file.params : undefined;
  const shapes = net.weightShapes;
  if (!Array.isArray(params) || params.length !== shapes.length) {
    throw new InputError(`init file ${path}: expected "params" with ${shapes.length} layers of shapes ${shapes.map((s) => `[${s.join(',')}]`).join(' ')}`);
  }
  return params.map((p: { shape?: unknown; values?: unknown }, k) => {
    const want = shapes[k].join(',');
    if (!Array.isArray(p?.shape) || p.shape.join(',') !== want) throw new InputError(`init file ${path}: layer ${k} must have shape [${want}]`);
    if (!Array.isArray(p.values) || p.values.length !== sizeOf(shapes[k]) || !p.values.every(Number.isFinite)) {
      throw new InputError(`init file ${path}: layer ${k} must have ${sizeOf(shapes[k])} finite values`);
    }
    return Float32Array.from(p.values as number[]);
  });
}

export async function runTrainNet(argv: string[]) {
  const job = parseNetJob(argv);
  await useBackend(job.config.backend);
  const trainer = await NetTrainer.start(job.net, job.data, job.init, job.config, job.config.threads);
  const { records, params } = runTrainer(trainer, job.data.y, { steps: job.config.steps, record: job.config.record });
  const shapes = job.net.weightShapes;
  return {
    out: job.out,
    result: {
      config: job.config, backend: job.config.backend, degree: job.net.degree, records,
      params: params.map((p, k) => ({ shape: shapes[k], values: Array.from(p) })),
    },
  };
}
