import type { Dataset } from '../data.js';

/**
 * A data set read from a file: the training core's Dataset (rows of X flattened, labels ±1),
 * one example's shape before flattening (images are [rows, columns, channels], so a network
 * that needs [N, 28, 28, 1] reshapes X with it; tabular data are [d]) and where each example
 * came from in the file (its 0-based position), so that a subset can be traced back.
 */
export interface LoadedDataset extends Dataset {
  shape: number[];
  index: number[];
}

/**
 * One example's shape from the dimensions after the first (the count): a 2-D example is an image
 * and gets a channel axis ([28, 28] → [28, 28, 1]), so that every image is [rows, columns, channels].
 */
export function exampleShape(dims: number[]): number[] {
  return dims.length === 2 ? [...dims, 1] : [...dims];
}
