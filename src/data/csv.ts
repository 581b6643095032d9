/**
 * CSV files, parsed by csv-parse: one example per row, the label in the last column or in the
 * column named by `labelColumn` (which needs a header row). The first row is a header when
 * `labelColumn` is given or when one of its fields is not a number. Features are used as written
 * (no scaling) and must be finite numbers.
 */
import { parse } from 'csv-parse/sync';
import { InputError } from '../errors.js';
import type { LoadedDataset } from './dataset.js';
import { readDataBytes } from './read.js';
import { selectExamples, type Selection } from './select.js';

/** A number in CSV text: blanks are not 0 (`Number('')` is). */
function parseField(text: string): number {
  return text.trim() === '' ? NaN : Number(text);
}

export function parseCsvRows(bytes: Uint8Array, source: string): string[][] {
  try {
    return parse(bytes, { skip_empty_lines: true, trim: true });
  } catch (e) {
    // csv-parse names the line: "Invalid Record Length: expect 3, got 2 on line 4".
    throw new InputError(`${source}: ${(e as Error).message}`);
  }
}

export function loadCsv(path: string, labelColumn: string | undefined, selection: Selection): LoadedDataset {
  const rows = parseCsvRows(readDataBytes(path), path);
  if (rows.length === 0) throw new InputError(`${path}: no rows`);
  const hasHeader = labelColumn !== undefined || rows[0].some((f) => !Number.isFinite(parseField(f)));
  const header = hasHeader ? rows[0] : undefined;
  const body = hasHeader ? rows.slice(1) : rows;
  if (body.length === 0) throw new InputError(`${path}: a header and no data rows`);
  const width = rows[0].length;
  if (width < 2) throw new InputError(`${path}: ${width} column; need features and a label`);
  let label = width - 1;
  if (labelColumn !== undefined) {
    label = header!.indexOf(labelColumn);
    if (label < 0) throw new InputError(`${path}: no column named "${labelColumn}" in the header (${header!.join(',')})`);
  }
  const line = (r: number) => r + (hasHeader ? 2 : 1); // 1-based, as an editor shows it (empty lines aside)
  const labels = body.map((row, r) => {
    const v = parseField(row[label]);
    if (!Number.isFinite(v)) throw new InputError(`${path}: row ${line(r)}: label "${row[label]}" is not a number`);
    return v;
  });
  const { index, y } = selectExamples(labels, selection, path);
  const X = index.map((r) =>
    body[r].flatMap((text, c) => {
      if (c === label) return [];
      const v = parseField(text);
      if (!Number.isFinite(v)) throw new InputError(`${path}: row ${line(r)} column ${c + 1}: "${text}" is not a finite number`);
      return [v];
    }),
  );
  return { X, y, shape: [width - 1], index };
}
