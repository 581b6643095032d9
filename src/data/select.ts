import { InputError } from '../errors.js';

/**
 * Which examples to keep and their ±1 labels. With `classes` [a, b], the examples labelled a get
 * −1 and those labelled b get +1, the rest are dropped; without, every label must already be
 * −1 or +1. `perClass` keeps the first n of each class in file order (so a smaller n gives a
 * subset of a larger one, and the classes stay balanced); without it every example of the two
 * classes is kept. The kept examples stay in file order.
 */
export interface Selection {
  classes?: [number, number];
  perClass?: number;
}

export function selectExamples(labels: ArrayLike<number>, selection: Selection, source: string): { index: number[]; y: number[] } {
  const [negative, positive] = selection.classes ?? [-1, 1];
  if (negative === positive) throw new InputError(`--classes needs two different classes, got ${negative},${positive}`);
  const count = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) {
    if (!Number.isFinite(labels[i])) throw new InputError(`${source}: label ${i} is not a finite number (${labels[i]})`);
    count.set(labels[i], (count.get(labels[i]) ?? 0) + 1);
  }
  const present = [...count.keys()].sort((a, b) => a - b);
  if (selection.classes === undefined) {
    const other = present.find((c) => c !== -1 && c !== 1);
    if (other !== undefined) throw new InputError(`${source}: label ${other} is not -1 or +1; pick two classes with --classes A,B (present: ${listClasses(present)})`);
  }
  for (const c of [negative, positive]) {
    if (selection.classes !== undefined && !count.has(c)) throw new InputError(`${source}: class ${c} is not present (present: ${listClasses(present)})`);
    const have = count.get(c) ?? 0;
    if (selection.perClass !== undefined && selection.perClass > have) {
      throw new InputError(`${source}: asked for ${selection.perClass} examples of class ${c}, there are only ${have}`);
    }
  }
  const limit = selection.perClass ?? Infinity;
  const taken = new Map<number, number>([[negative, 0], [positive, 0]]);
  const index: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    const k = taken.get(c);
    if (k === undefined || k >= limit) continue;
    taken.set(c, k + 1);
    index.push(i);
    y.push(c === negative ? -1 : 1);
  }
  if (index.length === 0) throw new InputError(`${source}: no examples`);
  return { index, y };
}

function listClasses(present: number[]): string {
  return present.length > 20 ? `${present.slice(0, 20).join(',')},… (${present.length} classes)` : present.join(',');
}
