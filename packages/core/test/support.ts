import { type RefTensor, referenceOps } from '../src/index.js'

/** `[N, C]` logits and `[N]` labels as reference tensors. */
export function batch(logits: number[][], labels: number[]): { logits: RefTensor; labels: RefTensor } {
  return {
    logits: referenceOps.constant(logits.flat(), [logits.length, logits[0]?.length ?? 0]),
    labels: referenceOps.constant(labels, [labels.length], 'int32'),
  }
}

/**
 * Rows `[N][C]` widened to the `[N][E·C]` logits of a rule with `E` heads (head-major): head 0 the
 * rows, head `e` the rows times `1 + e/4` plus `sin(3j + e)/2`. `heads` 1 or absent: the rows.
 */
export function headRows(rows: number[][], heads = 1): number[][] {
  return rows.map((row, i) =>
    Array.from({ length: heads }, (_, e) =>
      row.map((v, j) => (e === 0 ? v : v * (1 + e / 4) + Math.sin(3 * (i * row.length + j) + e) / 2)),
    ).flat(),
  )
}

/** A fixed small long-tailed batch: 12 samples, 4 classes, counts 1000/300/60/0. */
export const SMALL = {
  logits: [
    [2.1, 0.3, -1.0, 0.2],
    [1.5, 0.9, -0.5, 0.0],
    [0.2, 1.1, 0.4, -0.3],
    [1.9, -0.2, 0.1, 0.3],
    [0.4, 0.8, 0.6, -1.2],
    [-0.3, 0.5, 1.4, 0.1],
    [1.2, 0.4, 0.9, -0.6],
    [0.0, 0.2, 0.3, 0.1],
    [2.4, 0.1, -0.4, 0.6],
    [0.7, 1.6, -0.2, 0.2],
    [-0.1, 0.3, 0.5, 0.9],
    [1.0, 1.0, 1.0, 1.0],
  ],
  labels: [0, 0, 1, 0, 1, 2, 2, 0, 0, 1, 3, 0],
  counts: [1000, 300, 60, 0],
}
