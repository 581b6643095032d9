/**
 * In-process checks of the architecture and weight validation in src/model.ts (modelSpec,
 * layerShapes, initWeights, checkWeights). The command line reaches the same functions, but its
 * tests spawn a child process; here each bad input must raise an InputError with the exact message
 * the user would see, and the nearest valid input on the other side of each boundary must pass.
 */
import { describe, test, expect } from 'vitest';
import { InputError } from '../src/errors.js';
import { checkWeights, initWeights, layerShapes, MAX_DEPTH, MAX_WIDTH, MODEL_KINDS, modelSpec, type ModelSpec, type Weights } from '../src/model.js';
import { stream } from '../src/rng.js';
import { thrown } from './harness.js';

/** The error `fn` throws; fails the test if it returns normally or throws something else. */
function inputError(fn: () => unknown): InputError {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(InputError);
  return e as InputError;
}

/** A matrix [rows][cols] with entries 1, 2, 3, … (any finite numbers are valid weights). */
const matrix = (rows: number, cols: number): number[][] =>
  Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => i * cols + j + 1));

describe('modelSpec', () => {
  test('MODEL_KINDS (the choices of --model) lists exactly the three architectures, each buildable', async () => {
    // The list is built when the module loads, and test files share their worker's module cache
    // (isolate: false), so take a fresh instance of the module: it evaluates the list again.
    const { MODEL_KINDS: kinds } = (await import(/* @vite-ignore */ `../src/model.js?fresh=${Date.now()}`)) as typeof import('../src/model.js');
    // the ModelKind union documented at the top of src/model.ts: linear, deep-linear, relu
    expect([...kinds].sort()).toEqual(['deep-linear', 'linear', 'relu']);
    expect([...MODEL_KINDS].sort()).toEqual(['deep-linear', 'linear', 'relu']);
    // every offered choice must be accepted by modelSpec with the defaults (no choice the CLI offers fails)
    for (const kind of kinds) expect(modelSpec(kind).kind).toBe(kind);
  });

  test('defaults are depth 2, width 16; linear is always one layer of width 1', () => {
    // the documented defaults of the signature modelSpec(kind, depth = 2, width = 16)
    expect(modelSpec('relu')).toEqual({ kind: 'relu', depth: 2, width: 16 });
    // linear ignores depth and width: f = w·x has K = 1 whatever the options say
    expect(modelSpec('linear', 7, 5)).toEqual({ kind: 'linear', depth: 1, width: 1 });
    expect(modelSpec('linear', 1, 0)).toEqual({ kind: 'linear', depth: 1, width: 1 });
  });

  test('depth: 2..64 accepted; 1, 0, 65, 2.5 and NaN are rejected with the parameter named', () => {
    // K = 2 is the shallowest multi-layer network, so it is the boundary that must pass
    expect(modelSpec('deep-linear', 2, 3)).toEqual({ kind: 'deep-linear', depth: 2, width: 3 });
    expect(modelSpec('relu', 3, 1)).toEqual({ kind: 'relu', depth: 3, width: 1 });
    expect(modelSpec('relu', MAX_DEPTH, 1).depth).toBe(64); // the largest accepted
    // an integer below 2 (fails only the `depth < 2` half of the test)
    expect(inputError(() => modelSpec('relu', 1, 4)).message).toBe('depth must be an integer in 2..64 for relu, got 1');
    expect(inputError(() => modelSpec('deep-linear', 0, 4)).message).toBe('depth must be an integer in 2..64 for deep-linear, got 0');
    // an integer above the bound (fails only the `depth > MAX_DEPTH` part)
    expect(inputError(() => modelSpec('relu', 65, 4)).message).toBe('depth must be an integer in 2..64 for relu, got 65');
    expect(inputError(() => modelSpec('relu', 1, 4)).parameter).toBe('depth');
    // a non-integer above 2 (fails only the `isInteger` half)
    expect(inputError(() => modelSpec('relu', 2.5, 4)).message).toBe('depth must be an integer in 2..64 for relu, got 2.5');
    expect(inputError(() => modelSpec('relu', NaN, 4)).message).toBe('depth must be an integer in 2..64 for relu, got NaN');
  });

  test('width: 1..100000 accepted; 0, -3, 100001 and 1.5 are rejected', () => {
    // one hidden unit is still a valid (if narrow) network
    expect(modelSpec('relu', 2, 1)).toEqual({ kind: 'relu', depth: 2, width: 1 });
    expect(modelSpec('relu', 2, MAX_WIDTH).width).toBe(100_000); // the largest accepted
    expect(inputError(() => modelSpec('relu', 2, 100_001)).message).toBe('width must be an integer in 1..100000, got 100001');
    expect(inputError(() => modelSpec('relu', 2, 0)).parameter).toBe('width');
    // an integer below 1 (fails only the `width < 1` half)
    expect(inputError(() => modelSpec('relu', 2, 0)).message).toBe('width must be an integer in 1..100000, got 0');
    expect(inputError(() => modelSpec('deep-linear', 3, -3)).message).toBe('width must be an integer in 1..100000, got -3');
    // a non-integer above 1 (fails only the `isInteger` half)
    expect(inputError(() => modelSpec('relu', 2, 1.5)).message).toBe('width must be an integer in 1..100000, got 1.5');
  });
});

describe('layerShapes', () => {
  test('linear is one row of d weights, whatever depth and width the spec carries', () => {
    // f = w·x: a single [1, d] layer
    expect(layerShapes(modelSpec('linear'), 5)).toEqual([[1, 5]]);
    // a spec read back from a job file need not say depth 1; linear still has exactly one layer
    expect(layerShapes({ kind: 'linear', depth: 3, width: 4 }, 5)).toEqual([[1, 5]]);
  });

  test('multi-layer models: [width, d], then [width, width] …, then [1, width]', () => {
    // input layer maps d → width, hidden layers width → width, the last layer width → 1 output
    expect(layerShapes(modelSpec('deep-linear', 2, 3), 4)).toEqual([[3, 4], [1, 3]]);
    expect(layerShapes(modelSpec('relu', 4, 2), 5)).toEqual([[2, 5], [2, 2], [2, 2], [1, 2]]);
    expect(layerShapes(modelSpec('relu', 2, 1), 1)).toEqual([[1, 1], [1, 1]]);
  });
});

describe('initWeights', () => {
  test('zero init: the linear model starts at w = 0; deeper models are refused (zero saddle)', () => {
    // Soudry et al.'s setting: w(0) = 0, one [1, d] layer
    expect(initWeights(modelSpec('linear'), 3, 'zero', 1, stream(1, 'init'))).toEqual([[[0, 0, 0]]]);
    expect(inputError(() => initWeights(modelSpec('relu', 2, 3), 3, 'zero', 1, stream(1, 'init'))).message).toBe(
      'init zero is only for the linear model: relu would stay at the zero saddle',
    );
  });

  test('gaussian init has the layer shapes and is linear in the scale', () => {
    const spec = modelSpec('relu', 3, 4);
    const W1 = initWeights(spec, 2, 'gaussian', 1, stream(5, 'init'));
    // shapes are those of layerShapes: [[4,2],[4,4],[1,4]]
    expect(W1.map((M) => [M.length, M[0].length])).toEqual([[4, 2], [4, 4], [1, 4]]);
    // entries are scale·z/√fan_in for the same draws z, so scale 3 gives exactly 3× scale 1 ... up
    // to the one rounding of the product (the factor is applied before the division)
    const W3 = initWeights(spec, 2, 'gaussian', 3, stream(5, 'init'));
    W3.forEach((M, k) => M.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(3 * W1[k][i][j], 12))));
  });

  test('scale: a tiny positive scale is accepted; 0, -1, NaN, ±Infinity are rejected', () => {
    const spec = modelSpec('deep-linear', 2, 2);
    // any positive finite scale is valid, however small (smallest positive double)
    const tiny = initWeights(spec, 2, 'gaussian', Number.MIN_VALUE, stream(2, 'init'));
    expect(tiny.map((M) => [M.length, M[0].length])).toEqual([[2, 2], [1, 2]]);
    expect(initWeights(spec, 2, 'gaussian', 1e-3, stream(2, 'init')).flat(2).every(Number.isFinite)).toBe(true);
    // 0 would give all-zero weights (the saddle); negative/non-finite scales are meaningless
    for (const [scale, shown] of [[0, '0'], [-1, '-1'], [NaN, 'NaN'], [Infinity, 'Infinity'], [-Infinity, '-Infinity']] as const) {
      expect(inputError(() => initWeights(spec, 2, 'gaussian', scale, stream(2, 'init'))).message).toBe(
        `scale must be a positive number, got ${shown}`,
      );
    }
  });
});

describe('checkWeights', () => {
  const spec: ModelSpec = modelSpec('relu', 3, 4); // shapes [[4,3],[4,4],[1,4]] for d = 3
  const d = 3;
  const src = 'init file w.json';
  const valid = (): Weights => [matrix(4, 3), matrix(4, 4), matrix(1, 4)];
  const check = (w: unknown) => checkWeights(w, spec, d, src);

  test('weights of the right shape with finite entries are returned as given', () => {
    // the shapes match layerShapes and every entry is a finite number, so nothing is wrong
    const w = valid();
    expect(check(w)).toBe(w);
    // negative, zero and tiny entries are all finite numbers
    const w2 = valid();
    w2[2][0] = [-1, 0, Number.MIN_VALUE, -1e300];
    expect(check(w2)).toBe(w2);
    // linear: one [1, d] layer
    const lin = [[[0.5, -2, 0]]];
    expect(checkWeights(lin, modelSpec('linear'), 3, src)).toBe(lin);
  });

  test('not an array of layers', () => {
    // e.g. a JSON object or a bare number where the layer list should be
    for (const w of [undefined, null, 3, { 0: matrix(4, 3) }, 'weights']) {
      expect(inputError(() => check(w)).message).toBe(`${src}: "weights" must be an array of layer matrices`);
    }
  });

  test('wrong number of layers', () => {
    // relu with depth 3 has 3 weight layers
    expect(inputError(() => check(valid().slice(0, 2))).message).toBe(`${src}: 2 layers given, relu with depth 3 has 3`);
    expect(inputError(() => check([...valid(), matrix(1, 1)])).message).toBe(`${src}: 4 layers given, relu with depth 3 has 3`);
    // linear has one layer however many are given
    expect(inputError(() => checkWeights([], modelSpec('linear'), 2, src)).message).toBe(`${src}: 0 layers given, linear with depth 1 has 1`);
  });

  test('a layer that is not a matrix or has the wrong number of rows', () => {
    const notArray = valid() as unknown[];
    notArray[1] = 7;
    // layer 1 must be [4][4]; a number has no rows
    expect(inputError(() => check(notArray)).message).toBe(`${src}: layer 1 must have 4 rows [out][in], has none`);
    const fewRows = valid();
    fewRows[0] = matrix(3, 3);
    // layer 0 maps d = 3 → width 4, so it has 4 rows
    expect(inputError(() => check(fewRows)).message).toBe(`${src}: layer 0 must have 4 rows [out][in], has 3`);
    const transposed = valid();
    transposed[2] = matrix(4, 1);
    // the last layer has one output row; its transpose [4][1] is a common mistake
    expect(inputError(() => check(transposed)).message).toBe(`${src}: layer 2 must have 1 rows [out][in], has 4`);
  });

  test('a row of the wrong length: the first layer names the data dimension, later ones the width', () => {
    const first = valid();
    first[0][2] = [1, 2];
    // layer 0 rows have d = 3 entries, one per input coordinate of the data
    expect(inputError(() => check(first)).message).toBe(`${src}: layer 0 row 2 must have 3 entries (input dimension of the data, 3), has 2`);
    const later = valid();
    later[1][0] = [1, 2, 3];
    // layer 1 rows have width = 4 entries, one per hidden unit of the layer below
    expect(inputError(() => check(later)).message).toBe(`${src}: layer 1 row 0 must have 4 entries (input dimension 4), has 3`);
    const notRow = valid() as unknown[][];
    notRow[2][0] = 'x';
    expect(inputError(() => check(notRow)).message).toBe(`${src}: layer 2 row 0 must have 4 entries (input dimension 4), has none`);
  });

  test('an entry that is not a finite number', () => {
    // strings, null, booleans, NaN and ±Infinity are not usable weights; the first bad one is named
    for (const bad of ['1', null, true, NaN, Infinity, -Infinity, undefined]) {
      const w = valid() as unknown[][][];
      w[1][2][3] = bad;
      expect(inputError(() => check(w)).message).toBe(`${src}: layer 1 entry [2][3] is not a finite number`);
    }
    const w = valid() as unknown[][][];
    w[0][0][0] = NaN;
    w[2][0][1] = 'y';
    // layers are checked in order, so layer 0's NaN is reported first
    expect(inputError(() => check(w)).message).toBe(`${src}: layer 0 entry [0][0] is not a finite number`);
  });
});
