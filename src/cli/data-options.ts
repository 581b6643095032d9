import type { DataSpec } from '../data/load.js';
import { InputError } from '../errors.js';
import { parseInteger, required } from './args.js';

/** The options that say which data to read, shared by `train` and `svm`. */
export const DATA_OPTIONS = ['data', 'labels', 'classes', 'n', 'label-column'] as const;

/** `--classes 1,8`: two class labels, the first becomes −1 and the second +1. */
export function parseClasses(raw: string): [number, number] {
  const parts = raw.split(',');
  const classes = parts.map((s) => (s.trim() === '' ? NaN : Number(s)));
  if (parts.length !== 2 || !classes.every(Number.isFinite)) throw new InputError(`--classes must be two labels A,B (A becomes -1, B +1), got "${raw}"`);
  if (classes[0] === classes[1]) throw new InputError(`--classes needs two different labels, got "${raw}"`);
  return [classes[0], classes[1]];
}

export function dataSpec(values: Record<string, string | undefined>): DataSpec {
  return {
    path: required(values, 'data'),
    ...(values.labels !== undefined ? { labels: values.labels } : {}),
    ...(values['label-column'] !== undefined ? { labelColumn: values['label-column'] } : {}),
    ...(values.classes !== undefined ? { classes: parseClasses(values.classes) } : {}),
    ...(values.n !== undefined ? { perClass: parseInteger(values.n, 'n', 1) } : {}),
  };
}
