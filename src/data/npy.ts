/**
 * NumPy `.npy` files, parsed by npyjs. npyjs trusts the header (it neither checks the data length
 * against the shape nor rejects Fortran order), so the checks that make a bad file fail with its
 * name and the problem are here.
 */
import { parse, type NpyArray } from 'npyjs';
import { InputError } from '../errors.js';
import { exampleShape, type LoadedDataset } from './dataset.js';
import { readDataBytes } from './read.js';
import { selectExamples, type Selection } from './select.js';

/** Little-endian (or single-byte) numeric types; bytes are pixels, scaled into [0, 1]. */
const FEATURE_TYPES = ['u1', 'f4', 'f8'];
const LABEL_TYPES = ['u1', 'i1', 'u2', 'i2', 'u4', 'i4', 'u8', 'i8', 'f4', 'f8'];

export interface NpyValues {
  shape: number[];
  dtype: string;
  values: ArrayLike<number>;
}

/** Parses `.npy` bytes: a numeric array in C order whose data match its shape exactly. */
export function parseNpy(bytes: Uint8Array, source: string, allowed: readonly string[]): NpyValues {
  // npyjs wants an ArrayBuffer holding exactly the file (a Buffer may view a larger pool).
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let array: NpyArray;
  try {
    array = parse(buffer);
  } catch (e) {
    // npyjs throws "Not an .npy file", "Unsupported dtype: >f8", or a RangeError when the header
    // or the data are cut off.
    const message = (e as Error).message;
    if (e instanceof RangeError || bytes.length < 10) throw new InputError(`${source}: truncated .npy file (${message})`);
    throw new InputError(`${source}: bad .npy file: ${message}${/dtype: [>]/.test(message) ? ' (big-endian: save with a little-endian dtype)' : ''}`);
  }
  const { shape, dtype, fortranOrder, data } = array;
  // npyjs reads a missing key as a default (shape () or C order): require all three.
  const missing = ['descr', 'fortran_order', 'shape'].filter((key) => !headerText(bytes).includes(`'${key}'`));
  if (missing.length > 0) throw new InputError(`${source}: bad .npy header: no '${missing.join("', '")}'`);
  if (!shape.every((s) => Number.isInteger(s) && s >= 0)) throw new InputError(`${source}: bad .npy header: shape ${JSON.stringify(shape)}`);
  if (!allowed.includes(dtype)) throw new InputError(`${source}: dtype ${dtype} is not supported here (use ${allowed.join(', ')})`);
  if (fortranOrder) throw new InputError(`${source}: Fortran order is not supported: save np.ascontiguousarray(a)`);
  const size = shape.reduce((a, b) => a * b, 1);
  const have = (data as unknown as ArrayLike<unknown>).length;
  if (have < size) throw new InputError(`${source}: truncated: shape (${shape.join(', ')}) needs ${size} values, the file has ${have}`);
  if (have > size) throw new InputError(`${source}: ${have - size} values after the data of shape (${shape.join(', ')})`);
  const values = data instanceof BigInt64Array || data instanceof BigUint64Array ? Array.from(data, Number) : (data as unknown as ArrayLike<number>);
  return { shape, dtype, values };
}

/** The header dictionary's text: its length is a uint16 at byte 8 (version 1) or a uint32 (2, 3). */
function headerText(bytes: Uint8Array): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [start, length] = bytes[6] === 1 ? [10, view.getUint16(8, true)] : [12, view.getUint32(8, true)];
  return Buffer.from(bytes.subarray(start, start + length)).toString('latin1');
}

/**
 * Features from an `.npy` array [N, …] (uint8 divided by 255; float32/float64 as written, finite)
 * and labels from a 1-D `.npy` array of N numbers; the classes are picked as for IDX.
 */
export function loadNpy(featuresPath: string, labelsPath: string | undefined, selection: Selection): LoadedDataset {
  if (labelsPath === undefined) throw new InputError(`${featuresPath}: an .npy data file needs its labels: give --labels FILE (a 1-D .npy array)`);
  const features = parseNpy(readDataBytes(featuresPath), featuresPath, FEATURE_TYPES);
  const labels = parseNpy(readDataBytes(labelsPath), labelsPath, LABEL_TYPES);
  if (features.shape.length < 2) throw new InputError(`${featuresPath}: shape (${features.shape.join(', ')}); features need at least 2 dimensions (N, d)`);
  if (labels.shape.length !== 1) throw new InputError(`${labelsPath}: shape (${labels.shape.join(', ')}); labels need 1 dimension`);
  const count = features.shape[0];
  if (labels.shape[0] !== count) throw new InputError(`${featuresPath} has ${count} examples but ${labelsPath} has ${labels.shape[0]} labels`);
  const shape = exampleShape(features.shape.slice(1));
  const d = shape.reduce((a, b) => a * b, 1);
  if (d === 0) throw new InputError(`${featuresPath}: shape (${features.shape.join(', ')}) has no features`);
  const divisor = features.dtype === 'u1' ? 255 : 1;
  const { index, y } = selectExamples(labels.values, selection, labelsPath);
  const X = index.map((i) => {
    const row = new Array<number>(d);
    for (let j = 0; j < d; j++) {
      const v = features.values[i * d + j];
      if (!Number.isFinite(v)) throw new InputError(`${featuresPath}: example ${i} feature ${j} is not a finite number (${v})`);
      row[j] = v / divisor;
    }
    return row;
  });
  return { X, y, shape, index };
}
