import { longTailLabel } from './longTail.js'

/** Host logits `[N][C]` (a rule with `E` heads: `[N][E·C]`) with class ids `[N]`. */
export interface SingleLabelBatch {
  logits: number[][]
  labels: number[]
}

/** Host logits `[N][C]` with multi-label rows `[N][C]` of 0 and 1. */
export interface MultiLabelBatch {
  logits: number[][]
  labels: number[][]
}

/** A draw from `[−scale, scale)`. */
export function uniform(rand: () => number, scale: number): number {
  return scale * (2 * rand() - 1)
}

/** Rows `[n][c]` of uniform logits in `[−scale, scale)`, float32-representable. */
export function uniformLogits(rand: () => number, n: number, c: number, scale: number): number[][] {
  return Array.from({ length: n }, () => Array.from({ length: c }, () => Math.fround(uniform(rand, scale))))
}

/**
 * A single-label batch whose values are float32-representable, so every backend sees the same
 * inputs: the first `c − 1` samples are one of each class but the last, the others are long-tailed
 * over those classes, so the last class is absent; logits are uniform at `scale` with the target
 * raised by `scale/2`. For a rule with `heads` heads (`Rule.heads`), each row holds the `E` heads'
 * logits side by side, `[N, E·C]` head-major, each head's target raised; `heads = 1` draws exactly
 * the batch it always drew.
 */
export function singleLabelBatch(rand: () => number, n: number, c: number, scale: number, heads = 1): SingleLabelBatch {
  const labels = Array.from({ length: n }, (_, i) => (i < c - 1 ? i : longTailLabel(rand, c - 1)))
  const logits = labels.map((y) =>
    Array.from({ length: heads * c }, (_, j) => Math.fround(uniform(rand, scale) + (j % c === y ? scale / 2 : 0))),
  )
  return { logits, labels }
}

/**
 * A multi-label batch, float32-representable: label `j` is on a sample with probability `rates[j]`,
 * and logits are uniform at `scale` with positives raised and negatives lowered by `margin`.
 */
export function multiLabelBatch(rand: () => number, n: number, rates: readonly number[], scale: number, margin: number): MultiLabelBatch {
  const labels = Array.from({ length: n }, () => rates.map((p) => (rand() < p ? 1 : 0)))
  const logits = labels.map((row) => row.map((y) => Math.fround(uniform(rand, scale) + (y === 1 ? margin : -margin))))
  return { logits, labels }
}

/**
 * Flat logits `[N, C]` widened to the `E` heads of a rule with several heads (`Rule.heads`):
 * `[N, E·C]` flat, head-major. Head 0 is the logits themselves; head `e > 0` a fixed variation of
 * them, `u·(1 + e/4) + sin(3j + e)/2` at flat index `j`, so that the heads differ; float32-representable.
 * `heads` 1 or absent: the logits as they are.
 */
export function headLogits(logits: ArrayLike<number>, n: number, c: number, heads = 1): number[] {
  if (heads === 1) return Array.from(logits)
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    for (let e = 0; e < heads; e++) {
      for (let j = i * c; j < (i + 1) * c; j++)
        out.push(e === 0 ? logits[j]! : Math.fround(logits[j]! * (1 + e / 4) + Math.sin(3 * j + e) / 2))
    }
  }
  return out
}
