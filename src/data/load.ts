/**
 * `--data`: a data file of any supported format, chosen by its name (after an optional `.gz`,
 * which is gunzipped): `.json` ({"X", "y"}, labels ±1), `.csv`, `.npy`, and IDX (`…-idx3-ubyte`
 * as MNIST names it, or `.idx`).
 */
import { loadDataset } from '../data.js';
import { InputError } from '../errors.js';
import { loadCsv } from './csv.js';
import type { LoadedDataset } from './dataset.js';
import { isIdxName, loadIdx } from './idx.js';
import { loadNpy } from './npy.js';
import { formatName } from './read.js';
import type { Selection } from './select.js';

export interface DataSpec extends Selection {
  path: string;
  /** The labels file of IDX (default: by MNIST naming) and `.npy` data (required). */
  labels?: string;
  /** CSV: the header name of the label column (default: the last column). */
  labelColumn?: string;
}

export function loadData(spec: DataSpec): LoadedDataset {
  const { path } = spec;
  const name = formatName(path);
  if (spec.labelColumn !== undefined && !name.endsWith('.csv')) throw new InputError(`--label-column applies to CSV data only, not ${path}`);
  if (name.endsWith('.json')) {
    if (path !== name) throw new InputError(`${path}: JSON data cannot be gzipped`);
    const extra = (['classes', 'perClass', 'labels'] as const).filter((k) => spec[k] !== undefined);
    if (extra.length > 0) throw new InputError(`${path}: --${extra.map((k) => (k === 'perClass' ? 'n' : k)).join(', --')} applies to IDX, CSV and .npy data; a JSON file is used whole`);
    const data = loadDataset(path);
    return { ...data, shape: [data.X[0].length], index: data.X.map((_, i) => i) };
  }
  if (name.endsWith('.csv')) {
    if (spec.labels !== undefined) throw new InputError(`--labels does not apply to CSV data: its labels are a column (--label-column NAME)`);
    return loadCsv(path, spec.labelColumn, spec);
  }
  if (name.endsWith('.npy')) return loadNpy(path, spec.labels, spec);
  if (isIdxName(path)) return loadIdx(path, spec.labels, spec);
  throw new InputError(`${path}: unknown data format: expected .json, .csv, .npy or IDX (…-idx3-ubyte or .idx), each optionally .gz`);
}
