import { mulberry32 } from '@logit-perturb/core'
import type { ImageSet } from './fashionMnist.js'

/** Multi-label images: 2×2 grids of Fashion-MNIST images (56×56 pixels) and the classes they show. */
export interface CanvasSet {
  /** `count × 3136` pixels in [0, 1], row-major 56×56. */
  pixels: Float32Array
  /** `count × C` 0/1 labels: class `c` appears in at least one cell. */
  labels: Float32Array
  count: number
  numClasses: number
}

/** Pixels of one canvas side: two 28-pixel cells. */
export const CANVAS_SIDE = 56

/**
 * Draws `count` canvases from the images `pool` of `set`: each of the four cells is empty with
 * probability `emptyProbability`, else shows an image whose class is drawn with probabilities
 * proportional to `classWeights` (a long tail `ρ^(−c/(C−1))` for training, uniform for a balanced
 * test set). The labels are the classes present. Seeded: the same arguments give the same canvases.
 */
export function buildCanvases(
  set: ImageSet,
  pool: readonly number[],
  count: number,
  classWeights: readonly number[],
  emptyProbability: number,
  seed: number,
): CanvasSet {
  const c = classWeights.length
  const rand = mulberry32(seed)
  const byClass = classWeights.map(() => [] as number[])
  for (const i of pool) byClass[set.labels[i]!]!.push(i)
  const usable = classWeights.map((w, k) => (byClass[k]!.length > 0 ? w : 0))
  const total = usable.reduce((a, b) => a + b, 0)
  const pixels = new Float32Array(count * CANVAS_SIDE * CANVAS_SIDE)
  const labels = new Float32Array(count * c)
  for (let n = 0; n < count; n++) {
    for (let cell = 0; cell < 4; cell++) {
      if (rand() < emptyProbability) continue
      let r = rand() * total
      let k = 0
      while (k < c - 1 && r >= usable[k]!) r -= usable[k++]!
      const images = byClass[k]!
      const image = images[Math.floor(rand() * images.length)]!
      labels[n * c + k] = 1
      const top = (cell >> 1) * 28
      const left = (cell & 1) * 28
      for (let y = 0; y < 28; y++) {
        for (let x = 0; x < 28; x++) {
          pixels[n * CANVAS_SIDE * CANVAS_SIDE + (top + y) * CANVAS_SIDE + left + x] = set.images[image * 784 + y * 28 + x]! / 255
        }
      }
    }
  }
  return { pixels, labels, count, numClasses: c }
}

/** Positives per class of a canvas set: the `classCounts` of the multi-label rules. */
export function labelCounts(canvases: CanvasSet): number[] {
  const counts = new Array<number>(canvases.numClasses).fill(0)
  for (let n = 0; n < canvases.count; n++) {
    for (let k = 0; k < canvases.numClasses; k++) counts[k]! += canvases.labels[n * canvases.numClasses + k]!
  }
  return counts
}
