/**
 * The command line's output pieces in-process (the spawning tests cover them only in a child
 * process, which coverage and mutation testing do not see): the JSON writer with its one legal
 * overflow, --out, and the svm command with the angle annotations it adds to linear runs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { runSvm, svmAnnotator, linearNormalizedMargin } from '../src/cli/svm.js';
import { emit, expString, toJson } from '../src/cli/output.js';
import { runTrain } from '../src/cli/train.js';
import { InputError } from '../src/errors.js';
import { fixturePath, thrown } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'theory3-out-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const soudry = fixturePath('soudry2d.json');

describe('output', () => {
  test('expString writes e^x as a decimal mantissa and exponent, rounding 9.9995 up to the next power', () => {
    expect(expString(Math.log(1234.5))).toBe('1.234e+3'); // 1.2345 → toFixed(3)
    expect(expString(1000 * Math.LN10)).toBe('1.000e+1000');
    expect(expString(Math.log(9.9996) + 10 * Math.LN10)).toBe('1.000e+11');
  });

  test('toJson: a flow time past float64 becomes a decimal string from its log; t = 0 leaves log t out; other non-finite values are refused', () => {
    const json = JSON.parse(toJson({ records: [{ flowTime: 0, logFlowTime: -Infinity }, { flowTime: Infinity, logFlowTime: 1000 * Math.LN10 }] }));
    expect(json.records[0]).toEqual({ flowTime: 0 });
    expect(json.records[1].flowTime).toBe('1.000e+1000');
    expect(thrown(() => toJson({ norm: NaN })).message).toBe('result field "norm" is NaN');
    expect(thrown(() => toJson({ flowTime: Infinity, logFlowTime: Infinity })).message).toBe('result field "flowTime" is Infinity');
  });

  test('emit writes the JSON and a newline to --out; an unwritable path is an InputError naming --out', () => {
    const path = join(dir, 'out.json');
    emit('{"a": 1}', path);
    expect(readFileSync(path, 'utf8')).toBe('{"a": 1}\n');
    const e = thrown(() => emit('{}', join(dir, 'no', 'such', 'dir.json')));
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toMatch(/^cannot write --out .*dir\.json: ENOENT$/);
  });
});

describe('svm command and annotations', () => {
  test('runSvm on soudry2d: the SVM direction (1, 1)/√2 and γ* = √2; extra arguments are refused', () => {
    const { result, out } = runSvm(['--data', soudry]);
    expect(out).toBeUndefined();
    expect(result.gamma).toBeCloseTo(Math.SQRT2, 10);
    expect(result.w[0]).toBeCloseTo(result.w[1], 10);
    expect(thrown(() => runSvm(['--data', soudry, 'extra'])).message).toBe('svm: unexpected argument "extra"');
  });

  test('linearNormalizedMargin: min y·x·v/‖v‖, 0 for v = 0', () => {
    const data = { X: [[1, 0], [0, 2], [-1, -1]], y: [1, 1, -1] };
    expect(linearNormalizedMargin([0, 0], data)).toBe(0);
    expect(linearNormalizedMargin([3, 4], data)).toBeCloseTo(Math.min(3 / 5, 8 / 5, 7 / 5), 15);
  });

  test('train on a linear model adds angleToSvm and marginGap to every record; relu gets none', async () => {
    const args = ['--data', soudry, '--loss', 'exp', '--lr', '0.1', '--steps', '50', '--record', '0,10'];
    const linear = await runTrain([...args, '--model', 'linear'], svmAnnotator);
    const [zero, , last] = linear.result.records;
    expect(zero.angleToSvm).toBe(Math.PI / 2); // w = 0 has no direction
    expect(zero.marginGap).toBeCloseTo(Math.SQRT2, 10);
    expect(last.angleToSvm as number).toBeLessThan(zero.angleToSvm as number);
    expect(last.marginGap as number).toBeGreaterThan(0); // the SVM's margin is the largest
    const relu = await runTrain([...args, '--model', 'relu', '--width', '2'], svmAnnotator);
    expect(relu.result.records.every((r) => !('angleToSvm' in r))).toBe(true);
  });
});
