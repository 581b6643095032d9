/**
 * NetTrainer on two threads (the second half of the batch on a wasm instance in a worker thread)
 * takes the steps of one thread: the only difference is that each per-layer sum U_k is added in
 * two parts (float32 on each side, then float64), so the parameters agree to float32 rounding of
 * those sums: per entry ≤ T·(m + 2)·u·(‖W‖∞ + ‖ΔW‖∞) over T steps, m the longest sum (N·Ho·Wo),
 * with a factor 4 of headroom. A shard that dropped or double-counted its half would be off by
 * O(‖ΔW‖).
 */
import { describe, expect, test } from 'vitest';
import { sizeOf } from '../src/nn/layer.js';
import { buildNetwork, initParams } from '../src/nn/network.js';
import { NetTrainer } from '../src/nn/trainer.js';
import { stream } from '../src/rng.js';

const U32 = 2 ** -24;

describe('NetTrainer on two threads', () => {
  test('takes the one-thread steps to float32 rounding (small CNN, odd N so the halves differ), and undo works across threads', async () => {
    const net = buildNetwork({ kind: 'cnn', inShape: [8, 8, 1], channels: [3, 2], kernel: 3, pool: 'avg', poolSize: 2, padding: 'same' });
    const rng = stream(4, 'data');
    const N = 7;
    const X = Float32Array.from({ length: N * sizeOf(net.inShape) }, () => rng.uniform());
    const y = Array.from({ length: N }, (_, n) => (n % 2 ? 1 : -1));
    const init = initParams(net, stream(4, 'init'));
    const opts = { loss: 'logistic' as const, reduction: 'sum' as const, schedule: 'flow' as const, lr: 0.1 };
    const one = new NetTrainer(net, { X, shape: net.inShape, y }, init, opts);
    const two = await NetTrainer.start(net, { X, shape: net.inShape, y }, init, opts, 2);
    try {
      const m = N * 8 * 8 * 3;
      for (let t = 1; t <= 5; t++) {
        const before = one.params.map((p) => Float32Array.from(p));
        const a = one.step();
        const b = two.step();
        expect(Math.abs(a.logLoss - b.logLoss)).toBeLessThanOrEqual(4 * t * (m + 2) * U32 * (1 + Math.abs(a.logLoss)));
        one.params.forEach((p, k) => {
          const scale = Math.max(...p.map(Math.abs), ...p.map((v, i) => Math.abs(v - before[k][i])));
          p.forEach((v, i) => expect(Math.abs(v - two.params[k][i]), `step ${t} layer ${k} entry ${i}`).toBeLessThanOrEqual(4 * t * (m + 2) * U32 * scale));
        });
      }
      const saved = two.params;
      const f = two.outputs();
      two.step();
      two.undo();
      expect(two.params).toBe(saved);
      expect(two.outputs()).toEqual(f); // both threads got the restored parameters
    } finally {
      one.dispose();
      two.dispose();
    }
  });
});
