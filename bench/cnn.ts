/**
 * The CNN step in `npm run bench` (section 5; `tsx bench/bench.ts --cnn-only` runs it alone).
 *
 * NetTrainer.step() of src/nn on wasm, on one thread and on two (half the batch on a second wasm
 * instance in a worker thread), for the net of DESIGN.md's lab measurement (28×28×1 →
 * conv3×3×8 → ReLU → avgpool2 → conv3×3×16 → ReLU → avgpool2 → dense, 'valid', no biases; exp
 * sum loss, W ← W − 10⁻³·∇ log L, full batch) at N = 1,000 and 4,000 random images, against PyTorch
 * (bench/cnn_torch.py, same net and step) on one and two threads, as an outside yardstick. PyTorch
 * is not a dependency: the section runs it only if /usr/bin/python3 imports torch, and prints
 * "skipped" otherwise. The sides are timed in alternating rounds in one run (the python process
 * waits on its stdin while tfjs runs); the table has the median per-step time of each side over
 * the rounds and the median of the per-round ratios, with the machine's load average.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { loadavg } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { buildNetwork, DEFAULT_CNN, initParams } from '../src/nn/network.js';
import { NetTrainer } from '../src/nn/trainer.js';
import { stream } from '../src/rng.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cnn_torch.py');
export const CNN_SIZES = [1000, 4000];
const ROUNDS = 7;
/** W ← W − STEP·∇ log L on both sides. */
const STEP = 1e-3;
/** Wall time per side per round: a few steps each. */
const roundMs = (N: number) => (N <= 1000 ? 800 : 2500);

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** A persistent PyTorch process answering "N THREADS MS" with a JSON line of timings. */
class TorchReference {
  private readonly lines: AsyncIterator<string>;
  private constructor(private readonly proc: ChildProcessWithoutNullStreams, readonly version: string, lines: AsyncIterator<string>) {
    this.lines = lines;
  }

  static async start(): Promise<TorchReference | null> {
    const probe = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
    if (probe.error || probe.status !== 0) return null;
    const proc = spawn(PYTHON, [SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
    const first = await lines.next();
    const hello = JSON.parse(first.value as string) as { torch: string };
    return new TorchReference(proc, hello.torch, lines);
  }

  async round(N: number, threads: number, ms: number): Promise<number> {
    this.proc.stdin.write(`${N} ${threads} ${ms}\n`);
    const r = await this.lines.next();
    if (r.done) throw new Error('the PyTorch reference process ended');
    return (JSON.parse(r.value) as { medianMs: number }).medianMs;
  }

  stop(): void {
    this.proc.stdin.end();
  }
}

export interface CnnResult {
  N: number;
  tfjsMs: number;
  /** Two threads (NetTrainer.start with a worker shard). */
  tfjs2Ms: number;
  /** Median over rounds of two threads / one thread. */
  ratioThreads: number;
  torch1Ms: number | null;
  torch2Ms: number | null;
  /** Medians over rounds of tfjs one thread / PyTorch one thread, tfjs two threads / PyTorch two threads. */
  ratio1: number | null;
  ratio2: number | null;
  rounds: number;
  loadBefore: number[];
  loadAfter: number[];
}

/** Median ms per step of `step` over at least `ms` of wall time (≥ 2 steps). */
function timeRound(step: () => void, ms: number): number {
  const times: number[] = [];
  const t0 = performance.now();
  while (times.length < 2 || performance.now() - t0 < ms) {
    const t = performance.now();
    step();
    times.push(performance.now() - t);
  }
  return median(times);
}

export async function cnnBench(log: (s: string) => void = (s) => process.stderr.write(s)): Promise<{ torch: string | null; results: CnnResult[] }> {
  const torch = await TorchReference.start();
  if (!torch) log('PyTorch reference skipped: /usr/bin/python3 has no torch\n');
  const net = buildNetwork({ ...DEFAULT_CNN, inShape: [28, 28, 1] });
  const results: CnnResult[] = [];
  try {
    for (const N of CNN_SIZES) {
      const rng = stream(2, 'data');
      const X = Float32Array.from({ length: N * 784 }, () => rng.uniform());
      const y = Array.from({ length: N }, () => (rng.uniform() < 0.5 ? -1 : 1));
      // a fixed coefficient on ∇ log L, as the PyTorch side steps (random labels: L stays large)
      const data = { X, shape: [28, 28, 1], y };
      const opts = { loss: 'exp', reduction: 'sum', schedule: 'constant', lr: STEP, coefficient: () => STEP } as const;
      const trainer = new NetTrainer(net, data, initParams(net, stream(1, 'init')), opts);
      const trainer2 = await NetTrainer.start(net, data, initParams(net, stream(1, 'init')), opts, 2);
      const loadBefore = loadavg();
      const ms = roundMs(N);
      const tf: number[] = [];
      const tf2: number[] = [];
      const t1: number[] = [];
      const t2: number[] = [];
      const rThreads: number[] = [];
      const r1: number[] = [];
      const r2: number[] = [];
      try {
        timeRound(() => trainer.step(), ms / 2); // warm-up
        timeRound(() => trainer2.step(), ms / 2);
        if (torch) await torch.round(N, 1, ms / 2);
        for (let r = 0; r < ROUNDS; r++) {
          log(`  N = ${N}: round ${r + 1}/${ROUNDS}\r`);
          const mine = timeRound(() => trainer.step(), ms);
          const mine2 = timeRound(() => trainer2.step(), ms);
          tf.push(mine);
          tf2.push(mine2);
          rThreads.push(mine2 / mine);
          if (torch) {
            const one = await torch.round(N, 1, ms);
            const two = await torch.round(N, 2, ms);
            t1.push(one);
            t2.push(two);
            r1.push(mine / one);
            r2.push(mine2 / two);
          }
        }
      } finally {
        trainer.dispose();
        trainer2.dispose();
      }
      log('\n');
      results.push({
        N, tfjsMs: median(tf), tfjs2Ms: median(tf2), ratioThreads: median(rThreads), torch1Ms: torch ? median(t1) : null, torch2Ms: torch ? median(t2) : null,
        ratio1: torch ? median(r1) : null, ratio2: torch ? median(r2) : null, rounds: ROUNDS, loadBefore, loadAfter: loadavg(),
      });
    }
  } finally {
    torch?.stop();
  }
  return { torch: torch?.version ?? null, results };
}

export function printCnn(r: { torch: string | null; results: CnnResult[] }): void {
  const f = (v: number | null, d = 1) => (v === null ? 'skipped' : v.toFixed(d));
  console.log(`\nCNN step (28×28×1 → conv3×3×8 → avgpool2 → conv3×3×16 → avgpool2 → dense, full batch, exp loss): NetTrainer.step() on wasm vs PyTorch ${r.torch ?? '(skipped: no torch in /usr/bin/python3)'}, ms per step`);
  console.log('    N  tfjs 1 thread  torch 1 thread  tfjs/torch  |  tfjs 2 threads  torch 2 threads  tfjs/torch  |  tfjs 2/1 threads  load avg (1 min) before → after');
  for (const x of r.results) {
    console.log(
      `${String(x.N).padStart(5)}  ${f(x.tfjsMs).padStart(13)}  ${f(x.torch1Ms).padStart(14)}  ${f(x.ratio1, 2).padStart(10)}  |  ${f(x.tfjs2Ms).padStart(14)}  ${f(x.torch2Ms).padStart(15)}  ${f(x.ratio2, 2).padStart(10)}  |  ${f(x.ratioThreads, 2).padStart(16)}  ${x.loadBefore[0].toFixed(1)} → ${x.loadAfter[0].toFixed(1)}`,
    );
  }
  console.log(`  medians of ${r.results[0]?.rounds ?? 0} interleaved rounds; ratios are medians of per-round ratios (2 cores shared with other work: see the load)`);
}
