/** Random tiny networks of src/nn for the tests (fast-check draws the structure, so it shrinks). Not a test file. */
import fc from 'fast-check';
import type { Padding } from '../src/nn/conv2d.js';
import { buildNetwork, type NetSpec, type Network } from '../src/nn/network.js';
import type { PoolKind } from '../src/nn/pool.js';

export const netCaseArb = fc.record({
  cnn: fc.boolean(),
  N: fc.integer({ min: 1, max: 3 }),
  H: fc.integer({ min: 3, max: 8 }),
  cin: fc.integer({ min: 1, max: 2 }),
  /** Conv channels (cnn) or hidden widths (mlp). */
  channels: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }),
  kernel: fc.integer({ min: 1, max: 3 }),
  pool: fc.constantFrom<PoolKind | 'none'>('avg', 'max', 'none'),
  padding: fc.constantFrom<Padding>('valid', 'same'),
  /** mlp only: ReLU or deep linear. */
  relu: fc.boolean(),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});
export type NetCase = typeof netCaseArb extends fc.Arbitrary<infer T> ? T : never;

export function netSpecOf(c: NetCase): NetSpec {
  return c.cnn
    ? { kind: 'cnn', inShape: [c.H, c.H, c.cin], channels: c.channels, kernel: c.kernel, pool: c.pool, poolSize: 2, padding: c.padding }
    : { kind: 'mlp', inShape: [c.H], widths: c.channels, relu: c.relu };
}

/** The network of the case, or null if its layers do not fit the input (a window larger than what is left). */
export function tinyNet(c: NetCase): Network | null {
  try {
    return buildNetwork(netSpecOf(c));
  } catch {
    return null;
  }
}
