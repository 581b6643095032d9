import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { parameterError } from './errors.js';

export type BackendName = 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['wasm', 'cpu'];

/**
 * Activates a tfjs backend and checks that it really is active: when wasm fails to initialize,
 * setBackend returns false and tfjs would silently keep computing on cpu.
 */
export async function useBackend(name: BackendName = 'wasm'): Promise<void> {
  if (!BACKENDS.includes(name)) throw parameterError('backend', `must be wasm or cpu, got ${name}`);
  tf.enableProdMode(); // silences the Node banner and skips debug checks
  const ok = await tf.setBackend(name);
  await tf.ready();
  if (!ok || tf.getBackend() !== name) {
    throw new Error(`tfjs backend ${name} failed to initialize (active: ${tf.getBackend()})`);
  }
}
