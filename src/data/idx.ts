/**
 * IDX, the format of MNIST and its family (Fashion-MNIST, KMNIST, EMNIST): a 4-byte magic number
 * (two zero bytes, a type code, the number of dimensions), one big-endian uint32 per dimension,
 * then the values in row-major order. The MNIST family stores images and labels as unsigned bytes
 * (type 0x08), the only type read here.
 */
import { existsSync } from 'node:fs';
import { InputError } from '../errors.js';
import { exampleShape, type LoadedDataset } from './dataset.js';
import { formatName, readDataBytes } from './read.js';
import { selectExamples, type Selection } from './select.js';

const UNSIGNED_BYTE = 0x08;

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Parses IDX bytes strictly: magic number, type, dimensions, and exactly the data they promise. */
export function parseIdx(bytes: Uint8Array, source: string): IdxArray {
  if (bytes.length < 4) throw new InputError(`${source}: truncated: ${bytes.length} bytes, not even an IDX magic number`);
  const magic = `0x${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  const rank = bytes[3];
  if (bytes[0] !== 0 || bytes[1] !== 0 || rank < 1) throw new InputError(`${source}: wrong magic number ${magic}: not an IDX file`);
  if (bytes[2] !== UNSIGNED_BYTE) throw new InputError(`${source}: IDX type 0x${bytes[2].toString(16).padStart(2, '0')} (magic ${magic}) is not supported: only unsigned bytes (0x08), as in the MNIST family`);
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) throw new InputError(`${source}: truncated: the header needs ${headerBytes} bytes, the file has ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, k) => view.getUint32(4 + 4 * k, false));
  const size = dims.reduce((a, b) => a * b, 1);
  const have = bytes.length - headerBytes;
  if (have < size) throw new InputError(`${source}: truncated: dimensions ${dims.join('×')} need ${size} bytes of data, the file has ${have}`);
  if (have > size) throw new InputError(`${source}: ${have - size} bytes after the data of dimensions ${dims.join('×')}`);
  return { dims, data: bytes.subarray(headerBytes) };
}

/** IDX bytes of unsigned-byte values with the given dimensions (the inverse of parseIdx). */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const size = dims.reduce((a, b) => a * b, 1);
  if (data.length !== size) throw new Error(`encodeIdx: ${data.length} values for dimensions ${dims.join('×')}`);
  const bytes = new Uint8Array(4 + 4 * dims.length + size);
  const view = new DataView(bytes.buffer);
  bytes[2] = UNSIGNED_BYTE;
  bytes[3] = dims.length;
  dims.forEach((n, k) => view.setUint32(4 + 4 * k, n, false));
  bytes.set(data, 4 + 4 * dims.length);
  return bytes;
}

export function readIdx(path: string): IdxArray {
  return parseIdx(readDataBytes(path), path);
}

/** A file name in the IDX family: `…-idx3-ubyte`, or ending in `.idx` (either may end in `.gz`). */
export function isIdxName(path: string): boolean {
  return /idx\d-ubyte$|\.idx$/.test(formatName(path));
}

/**
 * The labels file beside an images file by the MNIST naming convention
 * (`train-images-idx3-ubyte.gz` → `train-labels-idx1-ubyte.gz`; `x-images.idx` → `x-labels.idx`),
 * compressed or not: the first of the two that exists.
 */
export function labelsPathFor(imagesPath: string): string {
  const slash = imagesPath.lastIndexOf('/') + 1;
  const name = imagesPath.slice(slash);
  const at = name.lastIndexOf('images');
  if (at < 0) throw new InputError(`${imagesPath}: cannot name its labels file ("images" is not in the name): give --labels FILE`);
  const base = formatName(imagesPath.slice(0, slash) + name.slice(0, at) + 'labels' + name.slice(at + 6).replace(/idx3-ubyte/, 'idx1-ubyte'));
  const found = [base + '.gz', base].find((p) => existsSync(p));
  if (found === undefined) throw new InputError(`${imagesPath}: no labels file ${base}[.gz] beside it (MNIST naming): give --labels FILE`);
  return found;
}

/**
 * Two classes of an IDX images file and its labels file, pixels divided by 255 into [0, 1].
 * `shape` is one image's shape, with a channel axis: [28, 28, 1] for the MNIST family.
 */
export function loadIdx(imagesPath: string, labelsPath: string | undefined, selection: Selection): LoadedDataset {
  const labelsFile = labelsPath ?? labelsPathFor(imagesPath);
  const images = readIdx(imagesPath);
  const labels = readIdx(labelsFile);
  if (images.dims.length < 2 || images.dims.length > 4) throw new InputError(`${imagesPath}: ${images.dims.length} dimensions; IDX images need 2 (N×d), 3 (N×rows×columns) or 4 (N×rows×columns×channels)`);
  if (labels.dims.length !== 1) throw new InputError(`${labelsFile}: ${labels.dims.length} dimensions (${labels.dims.join('×')}); an IDX labels file has 1`);
  const count = images.dims[0];
  if (labels.dims[0] !== count) throw new InputError(`${imagesPath} has ${count} images but ${labelsFile} has ${labels.dims[0]} labels`);
  const shape = exampleShape(images.dims.slice(1));
  const d = shape.reduce((a, b) => a * b, 1);
  const { index, y } = selectExamples(labels.data, selection, labelsFile);
  const X = index.map((i) => {
    const pixels = images.data.subarray(i * d, (i + 1) * d);
    return Array.from(pixels, (v) => v / 255);
  });
  return { X, y, shape, index };
}
