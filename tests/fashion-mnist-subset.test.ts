/**
 * The Fashion-MNIST subset shipped in data/fashion-mnist (derived by
 * scripts/derive-fashion-mnist.ts): each listed pair loads with its stated counts, balanced,
 * 28×28×1 images with pixels in [0, 1], and a smaller --n picks a prefix of each class.
 */
import { describe, test, expect } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadData } from '../src/data/load.js';
import { readIdx } from '../src/data/idx.js';
import { thrown } from './harness.js';

const dir = fileURLToPath(new URL('../data/fashion-mnist/', import.meta.url));
const images = (split: string) => `${dir}${split}-images-idx3-ubyte.gz`;

// The subset's contents as data/fashion-mnist/README.md states them: images per class.
const PAIRS: { classes: [number, number]; train: number; test: number }[] = [
  { classes: [1, 8], train: 2000, test: 1000 }, // trouser / bag
  { classes: [5, 7], train: 2000, test: 1000 }, // sandal / sneaker
  { classes: [0, 6], train: 1000, test: 500 }, // t-shirt / shirt
];

describe('shipped Fashion-MNIST subset', () => {
  test('labels files hold exactly the shipped classes and counts', () => {
    for (const [split, key] of [['train', 'train'], ['t10k', 'test']] as const) {
      const labels = readIdx(`${dir}${split}-labels-idx1-ubyte.gz`).data;
      const counts = new Map<number, number>();
      for (const c of labels) counts.set(c, (counts.get(c) ?? 0) + 1);
      const expected = new Map(PAIRS.flatMap((p) => p.classes.map((c) => [c, p[key]] as [number, number])));
      expect(new Map([...counts].sort((a, b) => a[0] - b[0]))).toEqual(new Map([...expected].sort((a, b) => a[0] - b[0])));
    }
  });

  for (const { classes, train, test: testCount } of PAIRS) {
    test(`pair ${classes.join(',')}: ${train} + ${train} training and ${testCount} + ${testCount} test images, balanced, pixels in [0, 1]`, () => {
      const loaded: Record<string, ReturnType<typeof loadData>> = {};
      for (const [split, count] of [['train', train], ['t10k', testCount]] as const) {
        const d = (loaded[split] = loadData({ path: images(split), classes }));
        expect(d.shape).toEqual([28, 28, 1]);
        expect(d.X.length).toBe(2 * count);
        expect(d.y.filter((v) => v === -1).length).toBe(count);
        expect(d.y.filter((v) => v === 1).length).toBe(count);
        expect(d.X.every((x) => x.length === 784)).toBe(true);
        let lo = Infinity;
        let hi = -Infinity;
        for (const x of d.X) for (const v of x) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
        expect(lo).toBe(0);
        expect(hi).toBe(1);
      }
      const first = loadData({ path: images('train'), classes, perClass: 100 });
      const all = loaded.train; // every training image of the pair, loaded above
      expect(first.X.length).toBe(200);
      expect(first.index.every((i) => all.index.includes(i))).toBe(true);
      expect(thrown(() => loadData({ path: images('train'), classes, perClass: train + 1 })).message).toMatch(new RegExp(`asked for ${train + 1} examples of class ${classes[0]}, there are only ${train}$`));
    });
  }

  test('a class that is not shipped is named as missing', () => {
    expect(thrown(() => loadData({ path: images('train'), classes: [1, 9] })).message).toMatch(/train-labels-idx1-ubyte\.gz: class 9 is not present \(present: 0,1,5,6,7,8\)/);
  });
});
