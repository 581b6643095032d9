import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { InputError } from '../errors.js';

const GZIP_MAGIC = [0x1f, 0x8b];

/**
 * The bytes of a data file, gunzipped when its name ends in `.gz` (IDX, CSV and .npy may be
 * compressed). Every way of failing becomes one InputError naming the file.
 */
export function readDataBytes(path: string): Uint8Array {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new InputError(`cannot read data file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!path.endsWith('.gz')) return bytes;
  if (bytes[0] !== GZIP_MAGIC[0] || bytes[1] !== GZIP_MAGIC[1]) throw new InputError(`${path}: not gzip data (the name ends in .gz)`);
  try {
    return gunzipSync(bytes);
  } catch (e) {
    // A cut-off download says "unexpected end of file" here.
    throw new InputError(`${path}: truncated or corrupt gzip data (${(e as Error).message})`);
  }
}

/** The name without a trailing `.gz`: what decides the format. */
export function formatName(path: string): string {
  return path.endsWith('.gz') ? path.slice(0, -3) : path;
}
