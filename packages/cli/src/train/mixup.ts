import { betaSample } from './beta.js'

/** Mixup and CutMix strengths: `α` of `λ ~ Beta(α, α)`; an absent or 0 entry is off. */
export interface MixSettings {
  mixup?: number
  cutmix?: number
}

/** Whether a setting mixes anything. */
export const mixes = (s: MixSettings | undefined): boolean => (s?.mixup ?? 0) > 0 || (s?.cutmix ?? 0) > 0

/**
 * The box CutMix pastes for `λ` on a `side × side` image (timm's `rand_bbox`): sides
 * `⌊side·√(1−λ)⌋`, centre uniform, clipped to the image. Returns `[y1, y2, x1, x2)`.
 */
function cutBox(side: number, lambda: number, rand: () => number): [number, number, number, number] {
  const cut = Math.floor(side * Math.sqrt(1 - lambda))
  const cy = Math.floor(rand() * side)
  const cx = Math.floor(rand() * side)
  const clip = (v: number) => Math.min(side, Math.max(0, v))
  const half = Math.floor(cut / 2)
  return [clip(cy - half), clip(cy + half), clip(cx - half), clip(cx + half)]
}

/**
 * Mixes one batch in place, as timm's `Mixup` in batch mode: one `λ ~ Beta(α, α)` for the batch,
 * each row `i` paired with row `B−1−i` (the batch reversed; the epoch's order is already shuffled).
 *
 * - mixup: `x̃_i = λ·x_i + (1−λ)·x_{B−1−i}`;
 * - CutMix: `x̃_i` is `x_i` with a box of `x_{B−1−i}` pasted in, and `λ` becomes the share of `x_i`
 *   left, `1 − box area / side²`.
 *
 * With both on, each batch takes one of the two with probability 1/2 (timm's `switch_prob`). The
 * targets are probability rows `t_i = λ·e_{y_i} + (1−λ)·e_{y_{B−1−i}}` (`[B, C]`, row-major).
 * `x` holds `B` rows of `side²` pixels.
 */
export function mixBatch(
  x: Float32Array,
  labels: readonly number[],
  numClasses: number,
  side: number,
  settings: MixSettings,
  rand: () => number,
): { targets: Float32Array; lambda: number } {
  const rows = labels.length
  const area = side * side
  const source = x.slice()
  const mixup = settings.mixup ?? 0
  const cutmix = settings.cutmix ?? 0
  const useCutmix = cutmix > 0 && (mixup <= 0 || rand() < 0.5)
  let lambda = betaSample(useCutmix ? cutmix : mixup, useCutmix ? cutmix : mixup, rand)
  if (useCutmix) {
    const [y1, y2, x1, x2] = cutBox(side, lambda, rand)
    for (let i = 0; i < rows; i++) {
      const partner = (rows - 1 - i) * area
      for (let y = y1; y < y2; y++) for (let c = x1; c < x2; c++) x[i * area + y * side + c] = source[partner + y * side + c]!
    }
    lambda = 1 - ((y2 - y1) * (x2 - x1)) / area
  } else {
    for (let i = 0; i < rows; i++) {
      const partner = (rows - 1 - i) * area
      for (let p = 0; p < area; p++) x[i * area + p] = lambda * source[i * area + p]! + (1 - lambda) * source[partner + p]!
    }
  }
  const targets = new Float32Array(rows * numClasses)
  for (let i = 0; i < rows; i++) {
    targets[i * numClasses + labels[i]!]! += lambda
    targets[i * numClasses + labels[rows - 1 - i]!]! += 1 - lambda
  }
  return { targets, lambda }
}

/**
 * One epoch of mixed training data: `x` (`n` rows of `side²` pixels, in training order) cut into
 * consecutive batches of `batchSize` (the batches `model.fit` takes with `shuffle: false`), each
 * mixed by {@link mixBatch}. Returns the mixed pixels and the probability rows `[n, C]`.
 */
export function mixEpoch(
  x: Float32Array,
  labels: readonly number[],
  numClasses: number,
  side: number,
  batchSize: number,
  settings: MixSettings,
  rand: () => number,
): { x: Float32Array; targets: Float32Array } {
  const area = side * side
  const mixed = x.slice()
  const targets = new Float32Array(labels.length * numClasses)
  for (let start = 0; start < labels.length; start += batchSize) {
    const end = Math.min(start + batchSize, labels.length)
    const batch = mixed.subarray(start * area, end * area)
    const out = mixBatch(batch, labels.slice(start, end), numClasses, side, settings, rand)
    targets.set(out.targets, start * numClasses)
  }
  return { x: mixed, targets }
}
