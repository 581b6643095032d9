/**
 * The data loaders behind `--data`: IDX (gzip or not), CSV and .npy give back exactly what was
 * written (pixels divided by 255, the two classes as −1/+1, the first n of each class in file
 * order), and every bad file fails with one InputError naming the file and the problem.
 * IDX and CSV files are written here; the .npy files in fixtures/npy were written by NumPy
 * (fixtures/npy/make.py), the broken ones are cut or patched from them here.
 */
import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeIdx, labelsPathFor, parseIdx } from '../src/data/idx.js';
import { loadData, type DataSpec } from '../src/data/load.js';
import { selectExamples } from '../src/data/select.js';
import { dataSpec, parseClasses } from '../src/cli/data-options.js';
import { InputError } from '../src/errors.js';
import { fixturePath, thrown } from './harness.js';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'theory3-data-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, bytes: Uint8Array | string) => {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
};

/** The one-line InputError that loading `spec` throws. */
function loadError(spec: DataSpec): string {
  const e = thrown(() => loadData(spec));
  expect(e).toBeInstanceOf(InputError);
  expect(e.message).not.toContain('\n');
  return e.message;
}

// Six 2×3 images: image i has pixel (r, c) = 40 i + 10 r + c; labels 4, 9, 4, 2, 9, 4.
const ROWS = 2;
const COLS = 3;
const LABELS = [4, 9, 4, 2, 9, 4];
const pixel = (i: number, r: number, c: number) => 40 * i + 10 * r + c;
const IMAGES = Uint8Array.from({ length: LABELS.length * ROWS * COLS }, (_, k) => pixel(Math.floor(k / 6), Math.floor((k % 6) / 3), k % 3));
const imageRow = (i: number) => Array.from({ length: ROWS * COLS }, (_, k) => pixel(i, Math.floor(k / 3), k % 3) / 255);

function writeIdxPair(prefix: string, gz: boolean, images = encodeIdx([LABELS.length, ROWS, COLS], IMAGES), labels = encodeIdx([LABELS.length], Uint8Array.from(LABELS))) {
  const z = (b: Uint8Array) => (gz ? gzipSync(b) : b);
  const ext = gz ? '.gz' : '';
  return {
    images: write(`${prefix}-images-idx3-ubyte${ext}`, z(images)),
    labels: write(`${prefix}-labels-idx1-ubyte${ext}`, z(labels)),
  };
}

describe('IDX', () => {
  for (const gz of [false, true]) {
    test(`round trip${gz ? ' (gzip)' : ''}: two classes, first n of each in file order, pixels / 255, labels found by MNIST naming`, () => {
      const { images, labels } = writeIdxPair(gz ? 'rtz' : 'rt', gz);
      expect(labelsPathFor(images)).toBe(labels);
      const all = loadData({ path: images, classes: [9, 4] });
      expect(all.index).toEqual([0, 1, 2, 4, 5]); // label 2 (index 3) dropped
      expect(all.y).toEqual([1, -1, 1, -1, 1]); // 9 → −1, 4 → +1
      expect(all.shape).toEqual([ROWS, COLS, 1]);
      expect(all.X).toEqual(all.index.map(imageRow));
      const two = loadData({ path: images, labels, classes: [4, 9], perClass: 2 });
      expect(two.index).toEqual([0, 1, 2, 4]);
      expect(two.y).toEqual([-1, 1, -1, 1]);
      expect(two.X[3]).toEqual(imageRow(4));
    });
  }

  test('an .idx name and an explicit --labels file; 2-D images are rows of features', () => {
    const images = write('flat.idx', encodeIdx([LABELS.length, ROWS * COLS], IMAGES));
    const labels = write('classes.idx.gz', gzipSync(encodeIdx([LABELS.length], Uint8Array.from(LABELS))));
    const d = loadData({ path: images, labels, classes: [2, 9] });
    expect(d.shape).toEqual([ROWS * COLS]);
    expect(d.index).toEqual([1, 3, 4]);
    expect(d.y).toEqual([1, -1, 1]);
  });

  test('labels file naming: x-images.idx → x-labels.idx; a missing one or a name without "images" asks for --labels', () => {
    write('x-images.idx', encodeIdx([1, 1], Uint8Array.of(0)));
    write('x-labels.idx', encodeIdx([1], Uint8Array.of(0)));
    expect(labelsPathFor(join(dir, 'x-images.idx'))).toBe(join(dir, 'x-labels.idx'));
    expect(thrown(() => labelsPathFor(join(dir, 'lonely-images-idx3-ubyte'))).message).toMatch(/lonely-images-idx3-ubyte: no labels file .*lonely-labels-idx1-ubyte\[\.gz\] .*--labels FILE/);
    expect(thrown(() => labelsPathFor(join(dir, 'pixels.idx'))).message).toMatch(/pixels\.idx: cannot name its labels file .*--labels FILE/);
  });

  test('errors name the file and the problem', () => {
    const good = encodeIdx([LABELS.length, ROWS, COLS], IMAGES);
    const labels = encodeIdx([LABELS.length], Uint8Array.from(LABELS));
    const { images } = writeIdxPair('cut', false, good.subarray(0, good.length - 1));
    expect(loadError({ path: images, classes: [4, 9] })).toBe(`${images}: truncated: dimensions 6×2×3 need 36 bytes of data, the file has 35`);
    const { images: head } = writeIdxPair('head', false, good.subarray(0, 10));
    expect(loadError({ path: head, classes: [4, 9] })).toBe(`${head}: truncated: the header needs 16 bytes, the file has 10`);
    const { images: tiny } = writeIdxPair('tiny', false, good.subarray(0, 3));
    expect(loadError({ path: tiny, classes: [4, 9] })).toMatch(/tiny-images-idx3-ubyte: truncated: 3 bytes/);
    const trailing = new Uint8Array(good.length + 2);
    trailing.set(good);
    const { images: long } = writeIdxPair('long', false, trailing);
    expect(loadError({ path: long, classes: [4, 9] })).toBe(`${long}: 2 bytes after the data of dimensions 6×2×3`);
    // A gzip file read as if it were not compressed: its magic number is 0x1f8b….
    const { images: zipped } = writeIdxPair('zipped', false, gzipSync(good));
    expect(loadError({ path: zipped, classes: [4, 9] })).toMatch(new RegExp(`^${zipped}: wrong magic number 0x1f8b.*: not an IDX file$`));
    const shifted = Uint8Array.from(good);
    shifted[1] = 0x01; // a plausible type and rank after a non-zero byte
    const { images: badMagic } = writeIdxPair('badmagic', false, shifted);
    expect(loadError({ path: badMagic, classes: [4, 9] })).toBe(`${badMagic}: wrong magic number 0x00010803: not an IDX file`);
    const float = Uint8Array.from(good);
    float[2] = 0x0d;
    const { images: floats } = writeIdxPair('float', false, float);
    expect(loadError({ path: floats, classes: [4, 9] })).toMatch(/float-images-idx3-ubyte: IDX type 0x0d \(magic 0x00000d03\) is not supported/);
    const { images: mismatch, labels: fewer } = writeIdxPair('mismatch', false, good, encodeIdx([5], Uint8Array.from(LABELS.slice(0, 5))));
    expect(loadError({ path: mismatch, classes: [4, 9] })).toBe(`${mismatch} has 6 images but ${fewer} has 5 labels`);
    const { images: ok, labels: okLabels } = writeIdxPair('ok', true, good, labels);
    expect(loadError({ path: ok, classes: [4, 7] })).toBe(`${okLabels}: class 7 is not present (present: 2,4,9)`);
    expect(loadError({ path: ok, classes: [4, 9], perClass: 3 })).toBe(`${okLabels}: asked for 3 examples of class 9, there are only 2`);
    expect(loadError({ path: ok })).toMatch(/label 2 is not -1 or \+1; pick two classes with --classes A,B \(present: 2,4,9\)/);
    expect(loadError({ path: ok, labels: ok, classes: [4, 9] })).toBe(`${ok}: 3 dimensions (6×2×3); an IDX labels file has 1`);
    const gz = gzipSync(good);
    const cutGz = write('cutgz-images-idx3-ubyte.gz', gz.subarray(0, gz.length - 10));
    expect(loadError({ path: cutGz, labels: ok })).toMatch(/cutgz-images-idx3-ubyte\.gz: truncated or corrupt gzip data \(unexpected end of file\)/);
    const plainGz = write('plain-images-idx3-ubyte.gz', good);
    expect(loadError({ path: plainGz, labels: ok })).toBe(`${plainGz}: not gzip data (the name ends in .gz)`);
    expect(loadError({ path: join(dir, 'none-images-idx3-ubyte.gz'), labels: ok })).toMatch(/cannot read data file .*none-images-idx3-ubyte\.gz: ENOENT/);
  });

  test('parseIdx reads back what encodeIdx wrote, for 1 to 4 dimensions', () => {
    for (const dims of [[5], [2, 3], [2, 1, 3], [1, 2, 2, 2]]) {
      const size = dims.reduce((a, b) => a * b, 1);
      const data = Uint8Array.from({ length: size }, (_, k) => (k * 37) % 256);
      const back = parseIdx(encodeIdx(dims, data), 'mem');
      expect(back.dims).toEqual(dims);
      expect([...back.data]).toEqual([...data]);
    }
  });
});

describe('.npy (files written by NumPy)', () => {
  const npy = (name: string) => fixturePath(join('npy', name));
  const features = Array.from({ length: 4 }, (_, i) => Array.from({ length: 3 }, (_, j) => (3 * i + j) / 8));

  test('float64, float32 and version-2 headers read back exactly; --classes maps 3 → −1, 7 → +1', () => {
    for (const x of ['x-f8.npy', 'x-f4.npy', 'x-f8-v2.npy']) {
      const d = loadData({ path: npy(x), labels: npy('y-i8.npy'), classes: [3, 7] });
      expect(d.X).toEqual(features);
      expect(d.y).toEqual([-1, 1, -1, 1]);
      expect(d.shape).toEqual([3]);
    }
    const pm1 = loadData({ path: npy('x-f8.npy'), labels: npy('y-f8-pm1.npy'), perClass: 1 });
    expect(pm1.index).toEqual([0, 1]);
    expect(pm1.X).toEqual(features.slice(0, 2));
  });

  test('uint8 images are divided by 255 and get a channel axis', () => {
    const d = loadData({ path: npy('x-u1.npy'), labels: npy('y-u1.npy'), classes: [7, 3] });
    expect(d.shape).toEqual([2, 2, 1]);
    expect(d.y).toEqual([1, -1, 1, -1]);
    expect(d.X[1]).toEqual([60, 70, 80, 90].map((v) => v / 255));
  });

  test('errors: truncated, bad magic, bad header, unsupported dtype, big-endian, Fortran order, count mismatch, no labels', () => {
    const labels = npy('y-i8.npy');
    const good = readFileSync(npy('x-f8.npy'));
    const cut = write('cut.npy', good.subarray(0, good.length - 8));
    expect(loadError({ path: cut, labels, classes: [3, 7] })).toBe(`${cut}: truncated: shape (4, 3) needs 12 values, the file has 11`);
    const cutOdd = write('cutodd.npy', good.subarray(0, good.length - 3));
    expect(loadError({ path: cutOdd, labels, classes: [3, 7] })).toMatch(/cutodd\.npy: truncated \.npy file/);
    const cutHeader = write('cuthead.npy', good.subarray(0, 40));
    expect(loadError({ path: cutHeader, labels, classes: [3, 7] })).toMatch(/cuthead\.npy: truncated \.npy file/);
    const magic = Buffer.from(good);
    magic[1] = 0x4d; // "\x93MUMPY"
    const badMagic = write('magic.npy', magic);
    expect(loadError({ path: badMagic, labels, classes: [3, 7] })).toBe(`${badMagic}: bad .npy file: Not an .npy file`);
    const noShape = write('noshape.npy', Buffer.from(good.toString('latin1').replace("'shape'", "'shope'"), 'latin1'));
    expect(loadError({ path: noShape, labels, classes: [3, 7] })).toBe(`${noShape}: bad .npy header: no 'shape'`);
    expect(loadError({ path: npy('x-i2.npy'), labels, classes: [3, 7] })).toMatch(/x-i2\.npy: dtype i2 is not supported here \(use u1, f4, f8\)/);
    expect(loadError({ path: npy('x-f8-big-endian.npy'), labels, classes: [3, 7] })).toMatch(/x-f8-big-endian\.npy: bad \.npy file: Unsupported dtype: >f8 \(big-endian/);
    expect(loadError({ path: npy('x-f8-fortran.npy'), labels, classes: [3, 7] })).toMatch(/x-f8-fortran\.npy: Fortran order is not supported/);
    expect(loadError({ path: npy('x-f8.npy'), labels: npy('y-3.npy'), classes: [3, 7] })).toMatch(/x-f8\.npy has 4 examples but .*y-3\.npy has 3 labels/);
    expect(loadError({ path: npy('x-f8.npy'), labels: npy('x-f8.npy'), classes: [3, 7] })).toMatch(/x-f8\.npy: shape \(4, 3\); labels need 1 dimension/);
    expect(loadError({ path: npy('x-f8.npy') })).toMatch(/x-f8\.npy: an \.npy data file needs its labels: give --labels FILE/);
    expect(loadError({ path: npy('x-f8.npy'), labels, classes: [3, 5] })).toMatch(/y-i8\.npy: class 5 is not present \(present: 3,7\)/);
    expect(loadError({ path: npy('x-f8.npy'), labels, classes: [3, 7], perClass: 3 })).toMatch(/y-i8\.npy: asked for 3 examples of class 3, there are only 2/);
    const nan = Buffer.from(good);
    nan.writeDoubleLE(NaN, good.length - 8 * 5); // value 7 of 12: example 2, feature 1
    const withNan = write('nan.npy', nan);
    expect(loadError({ path: withNan, labels, classes: [3, 7] })).toBe(`${withNan}: example 2 feature 1 is not a finite number (NaN)`);
  });

  test('gzip-compressed .npy reads like the plain file', () => {
    const gz = write('x.npy.gz', gzipSync(readFileSync(npy('x-f8.npy'))));
    expect(loadData({ path: gz, labels: npy('y-i8.npy'), classes: [3, 7] }).X).toEqual(features);
  });
});

describe('CSV', () => {
  test('label in the last column (no header), or in a named column of the header; values as written', () => {
    const plain = write('plain.csv', '0.5,1,-1\n2,3e-1,1\n\n4,5,-1\n');
    const d = loadData({ path: plain });
    expect(d.X).toEqual([[0.5, 1], [2, 0.3], [4, 5]]);
    expect(d.y).toEqual([-1, 1, -1]);
    expect(d.shape).toEqual([2]);
    const named = write('named.csv', 'label,a,b\n5,0,1\n7,2,3\n5,4,5\n7,6,7\n');
    const e = loadData({ path: named, labelColumn: 'label', classes: [7, 5], perClass: 1 });
    expect(e.X).toEqual([[0, 1], [2, 3]]);
    expect(e.y).toEqual([1, -1]);
    // A header row without --label-column: the label is the last column.
    const header = write('header.csv', 'a,b,y\n1,2,1\n3,4,-1\n');
    expect(loadData({ path: header }).X).toEqual([[1, 2], [3, 4]]);
    const gz = write('named.csv.gz', gzipSync(readFileSync(named)));
    expect(loadData({ path: gz, labelColumn: 'label', classes: [5, 7] }).X).toEqual([[0, 1], [2, 3], [4, 5], [6, 7]]);
  });

  test('errors: ragged rows, non-numbers, blanks, unknown label column, missing class', () => {
    const ragged = write('ragged.csv', '1,2,1\n3,-1\n');
    expect(loadError({ path: ragged })).toMatch(/ragged\.csv: Invalid Record Length: expect 3, got 2 on line 2/);
    const word = write('word.csv', '1,2,1\n3,x,-1\n');
    expect(loadError({ path: word })).toBe(`${word}: row 2 column 2: "x" is not a finite number`);
    const blank = write('blank.csv', 'a,b,y\n1,,1\n');
    expect(loadError({ path: blank })).toBe(`${blank}: row 2 column 2: "" is not a finite number`);
    const badLabel = write('badlabel.csv', '1,2,1\n3,4,yes\n');
    expect(loadError({ path: badLabel })).toBe(`${badLabel}: row 2: label "yes" is not a number`);
    const named = write('named2.csv', 'label,a\n5,0\n7,2\n');
    expect(loadError({ path: named, labelColumn: 'class' })).toBe(`${named}: no column named "class" in the header (label,a)`);
    expect(loadError({ path: named, labelColumn: 'label', classes: [5, 6] })).toBe(`${named}: class 6 is not present (present: 5,7)`);
    expect(loadError({ path: write('empty.csv', '\n') })).toMatch(/empty\.csv: no rows/);
    expect(loadError({ path: write('onlyhead.csv', 'a,y\n') })).toMatch(/onlyhead\.csv: a header and no data rows/);
  });
});

describe('format dispatch and options', () => {
  test('unknown extensions and options that do not apply are refused', () => {
    expect(loadError({ path: write('data.txt', '1') })).toMatch(/data\.txt: unknown data format: expected \.json, \.csv, \.npy or IDX/);
    const json = write('d.json', JSON.stringify({ X: [[1], [-1]], y: [1, -1] }));
    expect(loadData({ path: json })).toEqual({ X: [[1], [-1]], y: [1, -1], shape: [1], index: [0, 1] });
    expect(loadError({ path: json, perClass: 1 })).toMatch(/--n applies to IDX, CSV and \.npy data; a JSON file is used whole/);
    expect(loadError({ path: json, labelColumn: 'y' })).toMatch(/--label-column applies to CSV data only/);
    expect(loadError({ path: write('p.csv', '1,1\n'), labels: json })).toMatch(/--labels does not apply to CSV data/);
  });

  test('--classes and --n from the command line', () => {
    expect(parseClasses('1,8')).toEqual([1, 8]);
    expect(parseClasses('-1, 1')).toEqual([-1, 1]);
    for (const bad of ['1', '1,8,9', '1,', 'a,b', '3,3']) expect(thrown(() => parseClasses(bad))).toBeInstanceOf(InputError);
    expect(dataSpec({ data: 'f.idx', classes: '1,8', n: '1000' })).toEqual({ path: 'f.idx', classes: [1, 8], perClass: 1000 });
    expect(thrown(() => dataSpec({ data: 'f.idx', n: '0' })).message).toBe('--n must be an integer in 1..9007199254740991, got 0');
  });

  test('selectExamples keeps file order and takes the first n of each class', () => {
    expect(selectExamples([5, 5, 6, 5, 6, 6, 5], { classes: [6, 5], perClass: 2 }, 's')).toEqual({ index: [0, 1, 2, 4], y: [1, 1, -1, -1] });
    expect(thrown(() => selectExamples([1, NaN], {}, 's')).message).toBe('s: label 1 is not a finite number (NaN)');
  });
});
