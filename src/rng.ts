import seedrandom from 'seedrandom';

/** The named streams of randomness a run uses; each is independent of the others. */
export type StreamName = 'data' | 'init' | 'batches' | 'noise' | 'test';

/** A uniform [0,1) generator with a Gaussian helper, deterministic given its seed. */
export interface Rng {
  uniform(): number;
  gaussian(): number;
  /** Integer in [0, n). */
  int(n: number): number;
}

/**
 * k distinct indices of 0..n−1, every k-subset equally likely (the first k steps of a Fisher–Yates
 * shuffle), in the order drawn: SGD's batches and the points label noise flips.
 */
export function sampleWithoutReplacement(rng: Rng, n: number, k: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, k);
}

/**
 * One root seed, named streams: changing how many numbers one stream draws (say, a bigger data
 * set) never changes another stream (say, the initial weights).
 */
export function stream(rootSeed: number, name: StreamName): Rng {
  const next = seedrandom(`theory3:${rootSeed}:${name}`);
  let spare: number | null = null;
  return {
    uniform: () => next(),
    int: (n) => Math.floor(next() * n),
    gaussian() {
      if (spare !== null) {
        const z = spare;
        spare = null;
        return z;
      }
      // Box–Muller; 1 - u keeps the logarithm finite.
      const u = 1 - next();
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
  };
}
