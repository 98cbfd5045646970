import { mulberry32 } from '@logit-perturb/core'
import type { ImageSet } from './fashionMnist.js'

/** Side of a scene, in pixels: a 2×2 grid of 16-pixel cells. */
export const SCENE_SIDE = 32
/** Side of a garment in a scene: a Fashion-MNIST image shrunk from 28 to 14 pixels. */
export const GARMENT_SIDE = 14
/** Probability that a cell of a scene shows no garment. */
export const EMPTY_CELL = 0.25
/** A scene pixel belongs to a garment where the shrunk garment's intensity is at least this. */
export const GARMENT_THRESHOLD = 0.2
/** Class 0: the background; garment class `k` of Fashion-MNIST is scene class `k + 1`. */
export const BACKGROUND = 0
/** The ignore label (mmsegmentation's): the one-pixel border around each garment. */
export const IGNORE = 255

/** Segmentation scenes: images and their per-pixel labels. */
export interface SceneSet {
  /** `count × side²` pixels in [0, 1], row-major. */
  pixels: Float32Array
  /** `count × side²` labels: 0 background, `1 … 10` the garment classes, {@link IGNORE} unlabelled. */
  labels: Uint8Array
  count: number
  side: number
  /** Classes of the label maps: the background and the ten garments, 11. */
  numClasses: number
}

/**
 * One Fashion-MNIST image shrunk to 14×14 by averaging 2×2 blocks, intensities in [0, 1]:
 * `g[y, x] = (Σ_{a,b∈{0,1}} I[2y+a, 2x+b]) / (4·255)`.
 */
export function shrinkGarment(set: ImageSet, image: number): Float32Array {
  const out = new Float32Array(GARMENT_SIDE * GARMENT_SIDE)
  const base = image * 784
  for (let y = 0; y < GARMENT_SIDE; y++) {
    for (let x = 0; x < GARMENT_SIDE; x++) {
      const at = base + 2 * y * 28 + 2 * x
      out[y * GARMENT_SIDE + x] = (set.images[at]! + set.images[at + 1]! + set.images[at + 28]! + set.images[at + 29]!) / (4 * 255)
    }
  }
  return out
}

/**
 * Draws `count` scenes of 32×32 pixels from the images `pool` of `set`: a 2×2 grid of 16-pixel
 * cells, each empty with probability {@link EMPTY_CELL} or showing one garment, shrunk to 14×14,
 * at a uniform offset of 0 to 2 pixels in each direction (garments never overlap, so each is seen
 * whole). A garment's class `k` is drawn with probability `w_k / Σ w` (`classWeights`: a long tail
 * `ρ^(−k/9)` for training, uniform for a balanced test set), then one of its images uniformly.
 * Labels, per pixel:
 *
 * - `k + 1` where the garment's shrunk intensity is at least {@link GARMENT_THRESHOLD};
 * - {@link IGNORE} on background pixels that touch a garment pixel (4-neighbours): the faint
 *   anti-aliased edge, whose class is a matter of threshold, left unlabelled as the VOC
 *   annotations leave object borders;
 * - {@link BACKGROUND} elsewhere (the faint rest of a garment's square too).
 *
 * Seeded (mulberry32): the same arguments give the same scenes.
 */
export function buildScenes(
  set: ImageSet,
  pool: readonly number[],
  count: number,
  classWeights: readonly number[],
  seed: number,
): SceneSet {
  const rand = mulberry32(seed)
  const byClass = classWeights.map(() => [] as number[])
  for (const i of pool) byClass[set.labels[i]!]?.push(i)
  const usable = classWeights.map((w, k) => (byClass[k]!.length > 0 ? w : 0))
  const total = usable.reduce((a, b) => a + b, 0)
  const side = SCENE_SIDE
  const cell = side / 2
  const area = side * side
  const pixels = new Float32Array(count * area)
  const labels = new Uint8Array(count * area)
  for (let n = 0; n < count; n++) {
    const img = pixels.subarray(n * area, (n + 1) * area)
    const lab = labels.subarray(n * area, (n + 1) * area)
    for (let g = 0; g < 4; g++) {
      if (rand() < EMPTY_CELL) continue
      let r = rand() * total
      let k = 0
      while (k < usable.length - 1 && r >= usable[k]!) r -= usable[k++]!
      const images = byClass[k]!
      const garment = shrinkGarment(set, images[Math.floor(rand() * images.length)]!)
      const top = (g >> 1) * cell + Math.floor(rand() * (cell - GARMENT_SIDE + 1))
      const left = (g & 1) * cell + Math.floor(rand() * (cell - GARMENT_SIDE + 1))
      paste(img, lab, side, garment, top, left, k + 1)
    }
    markBorders(lab, side)
  }
  return { pixels, labels, count, side, numClasses: classWeights.length + 1 }
}

/** Paints one garment on the background: its pixels, and its class where they reach the threshold. */
function paste(img: Float32Array, lab: Uint8Array, side: number, garment: Float32Array, top: number, left: number, label: number): void {
  for (let y = 0; y < GARMENT_SIDE; y++) {
    for (let x = 0; x < GARMENT_SIDE; x++) {
      const v = garment[y * GARMENT_SIDE + x]!
      const at = (top + y) * side + left + x
      img[at] = v
      if (v >= GARMENT_THRESHOLD) lab[at] = label
    }
  }
}

/** Background pixels with a garment among their 4-neighbours become {@link IGNORE}. */
function markBorders(lab: Uint8Array, side: number): void {
  const isGarment = (y: number, x: number) => {
    const v = lab[y * side + x]
    return y >= 0 && y < side && x >= 0 && x < side && v !== BACKGROUND && v !== IGNORE
  }
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      if (lab[y * side + x] !== BACKGROUND) continue
      if (isGarment(y - 1, x) || isGarment(y + 1, x) || isGarment(y, x - 1) || isGarment(y, x + 1)) lab[y * side + x] = IGNORE
    }
  }
}

/**
 * Labelled pixels per class of a scene set (ignored pixels left out): the class counts of the
 * rules, `n_c = |{pixels labelled c}|`.
 */
export function pixelCounts(scenes: SceneSet): number[] {
  const counts = new Array<number>(scenes.numClasses).fill(0)
  for (const y of scenes.labels) if (y !== IGNORE) counts[y]!++
  return counts
}
