/**
 * Derives the Fashion-MNIST subset shipped in data/fashion-mnist/ from the Debian package
 * dataset-fashion-mnist (`apt-get install dataset-fashion-mnist`), so that the repository needs
 * no download:
 *
 *   npx tsx scripts/derive-fashion-mnist.ts [SOURCE_DIR] [OUT_DIR]
 *
 * (defaults /usr/share/datasets/fashion-mnist and data/fashion-mnist). Deterministic: for each
 * split and class it keeps the FIRST n images of that class in the source file's order, and keeps
 * them in that order, with their original labels 0–9 and the IDX format and file names of the
 * source (gzip level 9). So `--classes A,B --n K` picks the same images from the subset as from
 * the full files whenever K is within the subset's count.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeIdx, readIdx } from '../src/data/idx.js';

/** Images kept per class: 2 × 2,000 training and 2 × 1,000 test images for two pairs, half that
 * for t-shirt/shirt, the hardest pair, to keep the repository small (about 6 MB in all). */
const SUBSET = {
  train: { 0: 1000, 1: 2000, 5: 2000, 6: 1000, 7: 2000, 8: 2000 },
  t10k: { 0: 500, 1: 1000, 5: 1000, 6: 500, 7: 1000, 8: 1000 },
} as const;

function deriveSplit(source: string, out: string, split: keyof typeof SUBSET): void {
  const images = readIdx(join(source, `${split}-images-idx3-ubyte.gz`));
  const labels = readIdx(join(source, `${split}-labels-idx1-ubyte.gz`));
  const want = new Map(Object.entries(SUBSET[split]).map(([c, n]) => [Number(c), n]));
  const taken = new Map<number, number>();
  const keep: number[] = [];
  labels.data.forEach((c, i) => {
    const k = taken.get(c) ?? 0;
    if (k < (want.get(c) ?? 0)) {
      taken.set(c, k + 1);
      keep.push(i);
    }
  });
  for (const [c, n] of want) if (taken.get(c) !== n) throw new Error(`${split}: class ${c} has ${taken.get(c) ?? 0} images, want ${n}`);
  const [, rows, cols] = images.dims;
  const size = rows * cols;
  const pixels = new Uint8Array(keep.length * size);
  keep.forEach((i, k) => pixels.set(images.data.subarray(i * size, (i + 1) * size), k * size));
  const kept = Uint8Array.from(keep, (i) => labels.data[i]);
  // gzipSync writes no file name and mtime 0: the same input gives the same bytes.
  writeFileSync(join(out, `${split}-images-idx3-ubyte.gz`), gzipSync(encodeIdx([keep.length, rows, cols], pixels), { level: 9 }));
  writeFileSync(join(out, `${split}-labels-idx1-ubyte.gz`), gzipSync(encodeIdx([keep.length], kept), { level: 9 }));
  console.log(`${split}: ${keep.length} images (${[...taken].map(([c, n]) => `${c}: ${n}`).join(', ')}), last source index ${keep[keep.length - 1]}`);
}

const [source = '/usr/share/datasets/fashion-mnist', out = 'data/fashion-mnist'] = process.argv.slice(2);
mkdirSync(out, { recursive: true });
deriveSplit(source, out, 'train');
deriveSplit(source, out, 't10k');
