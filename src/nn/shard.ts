import * as tf from '@tensorflow/tfjs';
import { Worker } from 'node:worker_threads';
import { sizeOf, type Forward, type Shape } from './layer.js';
import type { NetSpec, Network } from './network.js';

/**
 * A part of the batch on one tfjs backend: the forward pass to the outputs f, and the backward pass
 * of the δ the host sends to the per-layer sums U_k = Σ_n δ_n ∂f_n/∂W_k. Each is split into start
 * and finish so that several shards compute at once: wasm runs on one thread in Node, and a second
 * wasm instance in a worker thread is the only way to the second core.
 */
export interface Shard {
  readonly n: number;
  /** Starts the forward pass at these parameters; the activations are kept for the backward pass. */
  startForward(params: Float32Array[]): void;
  finishForward(): Float32Array;
  startBackward(delta: Float32Array): void;
  /** U_k per weight layer, flat; the activations are freed. */
  finishBackward(): Float32Array[];
  /** Frees the activations of a forward pass without a backward pass. */
  discard(): void;
  dispose(): void;
}

/** The shard on this thread's active backend. */
export class LocalShard implements Shard {
  readonly n: number;
  private readonly X: tf.Tensor;
  /** The network's precomputation for X (the first conv's patches), kept for every step. */
  private readonly prepared: tf.Tensor[];
  private device: tf.Tensor[] | null = null;
  private uploaded: Float32Array[] | null = null;
  private pending: { tape: Forward[]; W: tf.Tensor[] } | null = null;
  private queued: Float32Array[] | Float32Array | null = null;

  constructor(private readonly net: Network, X: Float32Array, shape: Shape) {
    this.n = X.length / sizeOf(shape);
    this.X = tf.tensor(X, [this.n, ...shape]);
    this.prepared = net.prepareConstantInput(this.X);
  }

  startForward(params: Float32Array[]): void {
    this.queued = params; // computed in finishForward, while the other shards run
  }

  finishForward(): Float32Array {
    this.discard();
    const params = this.queued as Float32Array[];
    if (params !== this.uploaded) {
      // the host copy is the truth: a new array (a step, an undo) means a new upload
      tf.dispose(this.device ?? []);
      this.device = tf.tidy(() => params.map((p, k) => tf.tensor(p, this.net.weightShapes[k] as number[])));
      this.uploaded = params;
    }
    const W = this.device!;
    tf.engine().startScope();
    try {
      const { f, tape } = this.net.forward(this.X, W, this.prepared);
      const out = f.dataSync() as Float32Array;
      this.pending = { tape, W };
      return out;
    } catch (e) {
      tf.engine().endScope();
      throw e;
    }
  }

  startBackward(delta: Float32Array): void {
    this.queued = delta;
  }

  finishBackward(): Float32Array[] {
    const p = this.pending;
    if (!p) throw new Error('backward needs a forward pass first');
    try {
      return this.net.backward(tf.tensor1d(this.queued as Float32Array), p.tape, p.W).map((g) => g.dataSync() as Float32Array);
    } finally {
      this.discard();
    }
  }

  discard(): void {
    if (!this.pending) return;
    this.pending = null;
    tf.engine().endScope();
  }

  dispose(): void {
    this.discard();
    tf.dispose([this.X, ...this.prepared, ...(this.device ?? [])]);
    this.device = null;
  }
}

/** Slots of the control array shared with the worker (see shard-worker.ts). */
export const CTRL = { request: 0, done: 1, command: 2, failed: 3 } as const;
export const COMMAND = { forward: 1, backward: 2, discard: 3, exit: 4 } as const;
const ERROR_BYTES = 4096;
/** A worker that does not answer within this time has died (loading tfjs takes a few seconds). */
const TIMEOUT_MS = 600_000;

export interface WorkerSetup {
  spec: NetSpec;
  backend: string;
  X: Float32Array;
  shape: Shape;
  ctrl: SharedArrayBuffer;
  params: SharedArrayBuffer;
  f: SharedArrayBuffer;
  delta: SharedArrayBuffer;
  grads: SharedArrayBuffer;
  error: SharedArrayBuffer;
}

/**
 * The shard in a worker thread with its own tfjs and wasm instance. The host talks to it through
 * shared memory and Atomics, so a step stays synchronous: parameters and δ are written into
 * shared arrays, the worker is woken, and finish* waits for its answer.
 */
export class WorkerShard implements Shard {
  readonly n: number;
  private readonly worker: Worker;
  private readonly ctrl: Int32Array;
  private readonly params: Float32Array;
  private readonly f: Float32Array;
  private readonly delta: Float32Array;
  private readonly grads: Float32Array;
  private readonly error: Uint8Array;
  /** The number of the request whose answer is awaited; −1: the worker's start. */
  private request = -1;
  /** Whether the worker holds the activations of a forward pass. */
  private holding = false;

  private constructor(private readonly net: Network, setup: WorkerSetup, worker: Worker) {
    this.n = setup.X.length / sizeOf(setup.shape);
    this.worker = worker;
    this.ctrl = new Int32Array(setup.ctrl);
    this.params = new Float32Array(setup.params);
    this.f = new Float32Array(setup.f);
    this.delta = new Float32Array(setup.delta);
    this.grads = new Float32Array(setup.grads);
    this.error = new Uint8Array(setup.error);
  }

  /**
   * Starts the worker and waits (asynchronously: loading a module in the worker needs this
   * thread's event loop) until its backend is ready.
   */
  static async start(net: Network, spec: NetSpec, X: Float32Array, shape: Shape): Promise<WorkerShard> {
    const n = X.length / sizeOf(shape);
    const total = net.weightShapes.reduce((s, w) => s + sizeOf(w), 0);
    const shared = (floats: number) => new SharedArrayBuffer(4 * floats);
    const setup: WorkerSetup = {
      spec, backend: tf.getBackend(), X, shape,
      ctrl: shared(4), params: shared(total), f: shared(n), delta: shared(n), grads: shared(total), error: new SharedArrayBuffer(ERROR_BYTES),
    };
    // the worker runs TypeScript like the rest of the project (tsx is a dependency)
    const worker = new Worker(new URL('./shard-worker.mjs', import.meta.url), { workerData: setup });
    const shard = new WorkerShard(net, setup, worker);
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the worker shard exited with code ${code} before it was ready`)));
    });
    worker.removeAllListeners();
    worker.unref();
    shard.wait(); // the worker's own start-up failure, if any, is reported here
    return shard;
  }

  private send(command: number): void {
    this.ctrl[CTRL.command] = command;
    this.request = Atomics.add(this.ctrl, CTRL.request, 1) + 1;
    Atomics.notify(this.ctrl, CTRL.request);
  }

  private wait(): void {
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const done = Atomics.load(this.ctrl, CTRL.done);
      if (done === this.request) break;
      if (Date.now() > deadline) throw new Error('the worker shard did not answer');
      Atomics.wait(this.ctrl, CTRL.done, done, 1000);
    }
    if (Atomics.load(this.ctrl, CTRL.failed)) {
      const len = this.error.indexOf(0);
      throw new Error(`worker shard: ${new TextDecoder().decode(this.error.slice(0, len < 0 ? ERROR_BYTES : len))}`);
    }
  }

  startForward(params: Float32Array[]): void {
    let at = 0;
    for (const p of params) {
      this.params.set(p, at);
      at += p.length;
    }
    this.send(COMMAND.forward);
  }

  finishForward(): Float32Array {
    this.wait();
    this.holding = true;
    return Float32Array.from(this.f);
  }

  startBackward(delta: Float32Array): void {
    this.delta.set(delta);
    this.send(COMMAND.backward);
  }

  finishBackward(): Float32Array[] {
    this.wait();
    this.holding = false;
    let at = 0;
    return this.net.weightShapes.map((s) => {
      const g = this.grads.slice(at, at + sizeOf(s));
      at += sizeOf(s);
      return g;
    });
  }

  discard(): void {
    if (!this.holding) return;
    this.send(COMMAND.discard);
    this.wait();
    this.holding = false;
  }

  dispose(): void {
    this.send(COMMAND.exit);
    void this.worker.terminate();
  }
}
