/**
 * `npm run bench`: how fast the training step is, and how fast a run reaches a decision.
 *
 * 1. Per-step time of Trainer.step() on wasm and cpu for
 *      reference  2-layer ReLU, d = 10, h = 32, N = 500, full batch, exp loss (DESIGN.md's yardstick)
 *      depth 3    3-layer ReLU, same data and width
 *      larger     2-layer ReLU, d = 32, h = 64, N = 2000
 *      linear     the linear model on fixtures/soudry2d.json (N = 16, d = 2)
 *    side by side with the step as it was before issue 6 (bench/legacy.ts, a frozen copy kept for
 *    this comparison only). Other test runs share the 2 cores, so absolute times drift by 2× within
 *    minutes: the two steps are timed in alternating rounds in one process, and the table gives the
 *    median per-step time of each over the rounds and the median of the per-round ratios, which is
 *    what survives the noise. Kernels per step are counted with tf.profile.
 * 2. Where the reference step's time goes on wasm: median time of each kernel (tf.profile) and the
 *    rest (engine dispatch, the host's loss, the download and upload).
 * 3. Time to decision: seconds for the linear model to come within 0.05 rad of the SVM direction
 *    on a 10-d separable set with a margin gap (200 teacher points, seed 1, withMarginGap 1), with
 *    the constant step (η = 1/λ_max(ZᵀZ/N), mean exp loss) and with the flow schedule
 *    (η₀ = 1/max‖x‖²), and the smallest and final angle each reaches in a budget of 20 s (not 60,
 *    to keep the bench short), on wasm, the angle checked every 16 steps. The angle along the path
 *    is not monotone (on this set it dips to 0.031 around t ≈ 10³ and climbs back above 0.05), so
 *    both the first check at ≤ 0.05 and the check from which it stays ≤ 0.05 to the end of the
 *    budget are reported; the latter is the decision.
 *
 * 4. Replicates per second on wasm: R = 1, 16, 64 replicates of the reference architecture
 *    (2-layer ReLU, d = 10, h = 32; N = REPLICATE_N = 200 points, not 500, to keep this section
 *    under a minute), inits from seeds 1..R, trained together by EnsembleTrainer vs R separate
 *    Trainers stepped in turn, timed in alternating rounds like section 1; replicate-steps per
 *    second = R / (time of one step of all R). Both with one data set shared by all replicates and
 *    with R data sets (seeds 1..R), which keeps the data-side products batched (src/ensemble.ts).
 *
 * 5. The CNN step of src/nn against PyTorch on one and two threads (bench/cnn.ts).
 *
 * Writes bench/results.json (git-ignored) and prints the tables. Takes about 5 minutes.
 * `tsx bench/bench.ts --replicates-only` runs section 4 alone, `--cnn-only` section 5, and print
 * it without writing.
 */
import * as tf from '@tensorflow/tfjs';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { useBackend, type BackendName } from '../src/backend.js';
import { linearTeacherData, loadDataset, reluTeacherData, type Dataset } from '../src/data.js';
import { angle } from '../src/measure.js';
import { initWeights, modelSpec, type ModelSpec, type Weights } from '../src/model.js';
import { stream } from '../src/rng.js';
import { withMarginGap } from '../src/svm.js';
import { Trainer, type Schedule, type TrainOptions } from '../src/train.js';
import { EnsembleTrainer } from '../src/ensemble.js';
import { LegacyTrainer } from './legacy.js';
import { cnnBench, printCnn } from './cnn.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURE = path.join(repoRoot, 'fixtures', 'soudry2d.json');
const OUT = path.join(repoRoot, 'bench', 'results.json');

/** Alternating rounds per case and the wall time each side gets per round. */
const ROUNDS = 15;
const ROUND_MS = 150;
const WARMUP_MS = 300;
/** Time-to-decision budget per schedule (the brief's 60 s cut to 20 s to keep the bench short). */
const TTD_BUDGET_S = 20;
const TTD_ANGLE = 0.05;

interface Stepper {
  step(): unknown;
  dispose(): void;
}

interface StepCase {
  name: string;
  describe: string;
  data: () => Dataset;
  model: ModelSpec;
  init: (d: number) => Weights;
  opts?: Partial<TrainOptions>;
}

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function reluCase(name: string, N: number, d: number, h: number, K: number): StepCase {
  const model = modelSpec('relu', K, h);
  return {
    name,
    describe: `${K}-layer ReLU, N=${N}, d=${d}, h=${h}, exp loss, full batch`,
    data: () => reluTeacherData(stream(1, 'data'), N, d, 3, 0.1),
    model,
    init: (dd) => initWeights(model, dd, 'gaussian', 1, stream(1, 'init')),
  };
}

const CASES: StepCase[] = [
  reluCase('reference', 500, 10, 32, 2),
  reluCase('depth 3', 500, 10, 32, 3),
  reluCase('larger', 2000, 32, 64, 2),
  {
    name: 'linear soudry2d',
    describe: 'linear model on fixtures/soudry2d.json (N=16, d=2), exp loss, full batch',
    data: () => loadDataset(FIXTURE),
    model: modelSpec('linear'),
    init: (d) => [[new Array(d).fill(0)]],
  },
];

/** Runs `s.step()` for at least `ms` milliseconds (and at least `minSteps` steps); ms per step. */
function timeSteps(s: Stepper, ms: number, minSteps = 3): number {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (n < minSteps || t - t0 < ms) {
    s.step();
    n++;
    t = performance.now();
  }
  return (t - t0) / n;
}

async function kernelsPerStep(s: Stepper): Promise<{ count: number; names: string[] }> {
  const p = await tf.profile(() => {
    s.step();
  });
  return { count: p.kernels.length, names: p.kernels.map((k) => k.name) };
}

interface StepResult {
  backend: BackendName;
  case: string;
  describe: string;
  before: { medianMs: number; minMs: number; kernels: number };
  after: { medianMs: number; minMs: number; kernels: number; kernelNames: string[] };
  /** Median over rounds of before/after, each round timing both. */
  speedup: number;
}

async function stepBench(backend: BackendName): Promise<StepResult[]> {
  await useBackend(backend);
  const results: StepResult[] = [];
  for (const c of CASES) {
    const data = c.data();
    const init = c.init(data.X[0].length);
    // a small constant step, so that the state (and the cost) does not change during the timing
    const opts: TrainOptions = { model: c.model, loss: 'exp', reduction: 'mean', schedule: 'constant', lr: 1e-3, ...c.opts };
    const before = new LegacyTrainer(data, init, opts);
    const after = new Trainer(data, init, opts);
    timeSteps(before, WARMUP_MS, 5);
    timeSteps(after, WARMUP_MS, 5);
    const tb: number[] = [];
    const ta: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      tb.push(timeSteps(before, ROUND_MS));
      ta.push(timeSteps(after, ROUND_MS));
    }
    const kb = await kernelsPerStep(before);
    const ka = await kernelsPerStep(after);
    before.dispose();
    after.dispose();
    results.push({
      backend,
      case: c.name,
      describe: c.describe,
      before: { medianMs: median(tb), minMs: Math.min(...tb), kernels: kb.count },
      after: { medianMs: median(ta), minMs: Math.min(...ta), kernels: ka.count, kernelNames: ka.names },
      speedup: median(tb.map((b, i) => b / ta[i])),
    });
    const last = results[results.length - 1];
    process.stderr.write(`  ${backend} ${c.name}: ${fmtMs(last.before.medianMs)} → ${fmtMs(last.after.medianMs)} (×${last.speedup.toFixed(1)})\n`);
  }
  return results;
}

interface KernelShare {
  kernel: string;
  medianUs: number;
}

/** Median time of each kernel of the reference step on the active backend, and the rest. */
async function breakdown(): Promise<{ stepUs: number; kernels: KernelShare[]; restUs: number }> {
  const c = CASES[0];
  const data = c.data();
  const t = new Trainer(data, c.init(data.X[0].length), { model: c.model, loss: 'exp', reduction: 'mean', schedule: 'constant', lr: 1e-3 });
  timeSteps(t, WARMUP_MS, 5);
  const perKernel: number[][] = [];
  let names: string[] = [];
  const plain: number[] = [];
  for (let r = 0; r < 200; r++) {
    plain.push(timeSteps(t, 0, 1));
    const p = await tf.profile(() => {
      t.step();
    });
    names = p.kernels.map((k) => `${k.name} ${k.inputShapes.map((s) => (s ? `[${s.join(',')}]` : '-')).join(' ')}`);
    p.kernels.forEach((k, i) => (perKernel[i] ??= []).push(Number(k.kernelTimeMs)));
  }
  t.dispose();
  const kernels = names.map((kernel, i) => ({ kernel, medianUs: median(perKernel[i]) * 1000 }));
  const stepUs = median(plain) * 1000;
  // _FusedMatMul called through tf.fused.matMul would nest; the trainer calls the kernel directly
  const inKernels = kernels.reduce((s, k) => s + k.medianUs, 0);
  return { stepUs, kernels, restUs: stepUs - inKernels };
}

/** 1/λ_max(ZᵀZ/N), z_n = y_n x_n, by power iteration in float64. */
function plainGdStep(X: number[][], y: number[]): number {
  const N = X.length;
  const d = X[0].length;
  const Z = X.map((x, n) => x.map((v) => y[n] * v));
  let v = new Array(d).fill(1);
  let lambda = 0;
  for (let it = 0; it < 1000; it++) {
    const u = new Array(d).fill(0);
    for (const z of Z) {
      const s = z.reduce((a, b, i) => a + b * v[i], 0);
      z.forEach((zi, i) => (u[i] += (s * zi) / N));
    }
    lambda = Math.hypot(...u);
    v = u.map((x) => x / lambda);
  }
  return 1 / lambda;
}

interface DecisionResult {
  schedule: Schedule;
  lr: number;
  /** First check at which the angle to the SVM was ≤ TTD_ANGLE (seconds, steps); null if never. */
  first: { seconds: number; steps: number } | null;
  /**
   * The decision: the first check from which on the angle stayed ≤ TTD_ANGLE until the end of the
   * budget; null if it ended above. (Early in a run the angle can dip below and come back up.)
   */
  settled: { seconds: number; steps: number } | null;
  smallestAngle: number;
  smallestAt: { step: number; seconds: number };
  finalAngle: number;
  stepsInBudget: number;
}

/** Trains the linear model for the whole budget, checking the angle every CHECK steps. */
function timeToDecision(data: Dataset, svmW: number[], schedule: Schedule, lr: number): DecisionResult {
  const d = data.X[0].length;
  const trainer = new Trainer(data, [[new Array(d).fill(0)]], { model: modelSpec('linear'), loss: 'exp', reduction: 'mean', schedule, lr });
  const CHECK = 16;
  let first: DecisionResult['first'] = null;
  let settled: DecisionResult['settled'] = null;
  let smallest = Infinity;
  let smallestAt = { step: 0, seconds: 0 };
  let a = NaN;
  const t0 = performance.now();
  let elapsed = 0;
  try {
    while (elapsed < TTD_BUDGET_S) {
      for (let i = 0; i < CHECK; i++) trainer.step();
      a = angle(trainer.weights()[0][0], svmW);
      elapsed = (performance.now() - t0) / 1000;
      const at = { seconds: elapsed, steps: trainer.stepCount };
      if (a < smallest) {
        smallest = a;
        smallestAt = { step: trainer.stepCount, seconds: elapsed };
      }
      if (a <= TTD_ANGLE) {
        first ??= at;
        settled ??= at;
      } else {
        settled = null;
      }
    }
    return { schedule, lr, first, settled, smallestAngle: smallest, smallestAt, finalAngle: a, stepsInBudget: trainer.stepCount };
  } finally {
    trainer.dispose();
  }
}

async function decisionBench() {
  await useBackend('wasm');
  const raw = linearTeacherData(stream(1, 'data'), 200, 10, 0.1);
  const { X, y, svm } = withMarginGap(raw.X, raw.y, 1);
  const data = { X, y };
  const eta = plainGdStep(X, y);
  const eta0 = 1 / Math.max(...X.map((x) => x.reduce((s, v) => s + v * v, 0)));
  const setup = { rawPoints: 200, d: 10, teacherGap: 0.1, marginGap: 1, seed: 1, N: X.length, supportVectors: svm.support.length, gamma: svm.gamma };
  const constant = timeToDecision(data, svm.w, 'constant', eta);
  process.stderr.write(`  constant: ${describeDecision(constant)}\n`);
  const flow = timeToDecision(data, svm.w, 'flow', eta0);
  process.stderr.write(`  flow: ${describeDecision(flow)}\n`);
  // constant/flow; if the constant step did not settle within the budget the ratio is a lower bound
  const ratio = flow.settled === null ? null : { value: (constant.settled?.seconds ?? TTD_BUDGET_S) / flow.settled.seconds, lowerBound: constant.settled === null };
  return { setup, budgetSeconds: TTD_BUDGET_S, angle: TTD_ANGLE, backend: 'wasm', constant, flow, ratio };
}

function describeDecision(r: DecisionResult): string {
  const when = r.settled ? `${r.settled.seconds.toFixed(3)} s (${r.settled.steps} steps)` : `not within ${TTD_BUDGET_S} s`;
  return `angle ≤ ${TTD_ANGLE} for good from ${when}; smallest ${r.smallestAngle.toExponential(2)}, final ${r.finalAngle.toExponential(2)}`;
}

const REPLICATE_N = 200;
const REPLICATE_RS = [1, 16, 64];

interface ReplicateResult {
  R: number;
  data: 'shared' | 'per replicate';
  /** replicate-steps per second, medians over rounds */
  ensemblePerSecond: number;
  separatePerSecond: number;
  /** median over rounds of separate time / ensemble time */
  speedup: number;
  ensembleStepMs: number;
}

/** Section 4 on the active backend. */
function replicatesBench(): ReplicateResult[] {
  const model = modelSpec('relu', 2, 32);
  const d = 10;
  const out: ReplicateResult[] = [];
  for (const shared of [true, false]) {
    for (const R of REPLICATE_RS) {
      const seeds = Array.from({ length: R }, (_, r) => r + 1);
      const datas = seeds.map((s) => reluTeacherData(stream(shared ? 1 : s, 'data'), REPLICATE_N, d, 3, 0.1));
      const inits = seeds.map((s) => initWeights(model, d, 'gaussian', 1, stream(s, 'init')));
      const opts: TrainOptions = { model, loss: 'exp', reduction: 'mean', schedule: 'constant', lr: 1e-3 };
      const ensemble = new EnsembleTrainer(shared ? datas[0] : datas, inits, opts);
      const trainers = inits.map((w, r) => new Trainer(datas[r], w, opts));
      const separate: Stepper = { step: () => trainers.forEach((t) => t.step()), dispose: () => trainers.forEach((t) => t.dispose()) };
      timeSteps(ensemble, WARMUP_MS, 5);
      timeSteps(separate, WARMUP_MS, 5);
      const te: number[] = [];
      const ts: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        te.push(timeSteps(ensemble, ROUND_MS));
        ts.push(timeSteps(separate, ROUND_MS));
      }
      ensemble.dispose();
      separate.dispose();
      const res: ReplicateResult = {
        R, data: shared ? 'shared' : 'per replicate',
        ensemblePerSecond: (R * 1000) / median(te), separatePerSecond: (R * 1000) / median(ts),
        speedup: median(ts.map((t, i) => t / te[i])), ensembleStepMs: median(te),
      };
      out.push(res);
      process.stderr.write(`  R=${R} ${res.data}: ensemble ${res.ensemblePerSecond.toFixed(0)}/s, separate ${res.separatePerSecond.toFixed(0)}/s (×${res.speedup.toFixed(1)})\n`);
    }
  }
  return out;
}

function printReplicates(rs: ReplicateResult[]): void {
  console.log(`\nReplicates per second on wasm: 2-layer ReLU, d=10, h=32, N=${REPLICATE_N}, exp loss, full batch (replicate-steps/s, medians over rounds)\n`);
  const rows = [['data', 'R', 'ensemble', 'separate', 'ensemble/separate', 'ensemble vs its R=1', 'ensemble step']];
  for (const r of rs) {
    const one = rs.find((x) => x.R === 1 && x.data === r.data)!;
    rows.push([
      r.data, String(r.R), r.ensemblePerSecond.toFixed(0), r.separatePerSecond.toFixed(0), `×${r.speedup.toFixed(1)}`,
      `×${(r.ensemblePerSecond / one.ensemblePerSecond).toFixed(1)}`, fmtMs(r.ensembleStepMs),
    ]);
  }
  console.log(table(rows));
}

function fmtMs(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  return rows.map((r) => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ')).join('\n');
}

async function main() {
  if (process.argv.includes('--replicates-only')) {
    await useBackend('wasm');
    printReplicates(replicatesBench());
    return;
  }
  if (process.argv.includes('--cnn-only')) {
    await useBackend('wasm');
    printCnn(await cnnBench());
    return;
  }
  const started = performance.now();
  const steps: StepResult[] = [];
  for (const backend of ['wasm', 'cpu'] as const) {
    process.stderr.write(`step times on ${backend}…\n`);
    steps.push(...(await stepBench(backend)));
  }
  process.stderr.write('kernel breakdown of the reference step on wasm…\n');
  await useBackend('wasm');
  const where = await breakdown();
  process.stderr.write(`time to decision (≤ ${TTD_BUDGET_S} s per schedule)…\n`);
  const decision = await decisionBench();
  process.stderr.write(`replicates per second on wasm (N = ${REPLICATE_N})…\n`);
  await useBackend('wasm');
  const replicates = replicatesBench();
  process.stderr.write('CNN step on wasm against PyTorch…\n');
  const cnn = await cnnBench();
  const results = {
    date: new Date().toISOString(),
    node: process.version,
    tfjs: tf.version.tfjs,
    method: `${ROUNDS} alternating rounds of ≥ ${ROUND_MS} ms per side after ${WARMUP_MS} ms warm-up; medians over rounds; speedup = median of per-round ratios`,
    steps,
    referenceBreakdownWasm: where,
    timeToDecision: decision,
    cnnStep: cnn,
    replicatesPerSecond: { backend: 'wasm', case: `2-layer ReLU, d=10, h=32, N=${REPLICATE_N}, exp loss, mean, constant step, full batch`, results: replicates },
    totalSeconds: (performance.now() - started) / 1000,
  };
  writeFileSync(OUT, JSON.stringify(results, null, 2) + '\n');

  const rows = [['backend', 'case', 'before median', 'after median', 'before min', 'after min', 'speedup', 'kernels before → after']];
  for (const r of steps) {
    rows.push([
      r.backend, r.case, fmtMs(r.before.medianMs), fmtMs(r.after.medianMs), fmtMs(r.before.minMs), fmtMs(r.after.minMs),
      `×${r.speedup.toFixed(1)}`, `${r.before.kernels} → ${r.after.kernels}`,
    ]);
  }
  console.log('\nPer-step time (before = bench/legacy.ts, the step before issue 6; after = src/train.ts)\n');
  console.log(table(rows));
  console.log('\nCases:');
  for (const c of CASES) console.log(`  ${c.name.padEnd(16)} ${c.describe}`);

  console.log(`\nReference step on wasm: ${where.stepUs.toFixed(0)} µs, of which kernels:`);
  console.log(table(where.kernels.map((k) => [`  ${k.kernel}`, `${k.medianUs.toFixed(1)} µs`])));
  console.log(`  rest (dispatch, host loss, transfers): ${where.restUs.toFixed(0)} µs`);

  const d = decision;
  console.log(`\nTime to decision on wasm: linear model, ${d.setup.N} points in 10-d (margin gap ${d.setup.marginGap}, ${d.setup.supportVectors} support vectors), mean exp loss, budget ${d.budgetSeconds} s`);
  const drows = [['schedule', 'lr', `≤ ${d.angle} for good from`, 'steps', `first ≤ ${d.angle}`, 'smallest angle', 'at', 'final angle', 'steps in budget']];
  for (const r of [d.constant, d.flow]) {
    drows.push([
      r.schedule, r.lr.toPrecision(4),
      r.settled ? `${r.settled.seconds.toFixed(3)} s` : `> ${d.budgetSeconds} s`, r.settled ? String(r.settled.steps) : '-',
      r.first ? `${r.first.seconds.toFixed(3)} s (step ${r.first.steps})` : '-',
      r.smallestAngle.toExponential(2), `${r.smallestAt.seconds.toFixed(1)} s`, r.finalAngle.toExponential(2), String(r.stepsInBudget),
    ]);
  }
  console.log(table(drows));
  if (d.ratio) console.log(`  time until the angle stays ≤ ${d.angle}, constant/flow: ${d.ratio.lowerBound ? '> ' : ''}${d.ratio.value.toFixed(1)}×`);
  if (d.constant.first && d.flow.first) console.log(`  time to the first angle ≤ ${d.angle}, constant/flow: ${(d.constant.first.seconds / d.flow.first.seconds).toFixed(2)}×`);
  console.log('  (the angle along the path is not monotone: it can dip below the threshold early and come back up)');
  printReplicates(replicates);
  printCnn(cnn);
  console.log(`\nwrote ${path.relative(process.cwd(), OUT)} (${results.totalSeconds.toFixed(0)} s)`);
}

await main();
