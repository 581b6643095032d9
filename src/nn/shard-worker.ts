import * as tf from '@tensorflow/tfjs';
import { parentPort, workerData } from 'node:worker_threads';
import { useBackend, type BackendName } from '../backend.js';
import { sizeOf } from './layer.js';
import { buildNetwork } from './network.js';
import { COMMAND, CTRL, LocalShard, type WorkerSetup } from './shard.js';

/**
 * The worker side of WorkerShard: a LocalShard on this thread's own tfjs backend, driven through
 * shared memory. Each request runs one command and answers by setting `done` to its number.
 */
const setup = workerData as WorkerSetup;
const ctrl = new Int32Array(setup.ctrl);
const params = new Float32Array(setup.params);
const f = new Float32Array(setup.f);
const delta = new Float32Array(setup.delta);
const grads = new Float32Array(setup.grads);
const error = new Uint8Array(setup.error);

function answer(request: number, failure?: unknown): void {
  if (failure !== undefined) {
    const bytes = new TextEncoder().encode(String((failure as Error)?.message ?? failure)).slice(0, error.length - 1);
    error.fill(0);
    error.set(bytes);
    Atomics.store(ctrl, CTRL.failed, 1);
  }
  Atomics.store(ctrl, CTRL.done, request);
  Atomics.notify(ctrl, CTRL.done);
  if (request === -1) parentPort!.postMessage('ready'); // the host waits for this one asynchronously
}

let shard: LocalShard | null = null;
try {
  await useBackend(setup.backend as BackendName);
  const net = buildNetwork(setup.spec);
  shard = new LocalShard(net, setup.X, setup.shape);
  const shapes = net.weightShapes;
  answer(-1); // ready
  let seen = 0;
  for (;;) {
    Atomics.wait(ctrl, CTRL.request, seen);
    seen = Atomics.load(ctrl, CTRL.request);
    const command = ctrl[CTRL.command];
    if (command === COMMAND.exit) break;
    try {
      if (command === COMMAND.forward) {
        let at = 0;
        // a fresh copy each request: LocalShard uploads when it is given a new array
        const p = shapes.map((s) => params.slice(at, (at += sizeOf(s))));
        shard.startForward(p);
        f.set(shard.finishForward());
      } else if (command === COMMAND.backward) {
        shard.startBackward(Float32Array.from(delta));
        let at = 0;
        for (const g of shard.finishBackward()) {
          grads.set(g, at);
          at += g.length;
        }
      } else if (command === COMMAND.discard) {
        shard.discard();
      }
      answer(seen);
    } catch (e) {
      answer(seen, e);
    }
  }
} catch (e) {
  answer(-1, e);
} finally {
  shard?.dispose();
  tf.disposeVariables();
}
