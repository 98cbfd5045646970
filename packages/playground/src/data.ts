import { mulberry32 } from '@logit-perturb/core'

/** What the data set is drawn from: the number of classes, the imbalance and the seed. */
export interface DataOptions {
  /** Number of classes `K` (Gaussian blobs on a circle), at least 2. */
  classes: number
  /** Imbalance ratio `ρ = n_max / n_min` of the training set, at least 1. */
  ratio: number
  /** Training samples of the largest class, `n_max`. */
  maxCount: number
  /** Test samples per class: the test set is balanced, so its per-class accuracy is the balanced one. */
  testPerClass: number
  /** Standard deviation of each blob; the blobs sit on the unit circle, so about 0.5 makes neighbours overlap. */
  spread: number
  seed: number
}

/** Points as a flat `[x0, y0, x1, y1, …]` array with one class id per point. */
export interface Points {
  xy: Float32Array
  labels: Int32Array
}

/** A long-tailed training set, a balanced test set and the training counts per class. */
export interface DataSet {
  train: Points
  test: Points
  classCounts: number[]
  options: DataOptions
}

/** The defaults of the page: four classes, imbalance 50, overlapping blobs. */
export const DEFAULT_DATA: DataOptions = { classes: 4, ratio: 50, maxCount: 400, testPerClass: 250, spread: 0.55, seed: 1 }

/**
 * Training counts that decay exponentially with the class id, as in the long-tailed CIFAR and
 * Fashion-MNIST benchmarks: `n_c = round(n_max · ρ^(−c/(K−1)))`, so class 0 is the head with
 * `n_max` samples and class `K − 1` the tail with `n_max / ρ` (at least one).
 */
export function longTailedCounts(classes: number, maxCount: number, ratio: number): number[] {
  return Array.from({ length: classes }, (_, c) => Math.max(1, Math.round(maxCount * ratio ** (-c / (classes - 1)))))
}

/** Centre of class `c`: evenly spaced on the unit circle, so every class has two neighbours to overlap with. */
export function classCentre(c: number, classes: number): [number, number] {
  const angle = (2 * Math.PI * c) / classes + Math.PI / 4
  return [Math.cos(angle), Math.sin(angle)]
}

/**
 * Draws the data set from `options.seed` alone: the same options give the same points on every
 * machine and backend (the training and test sets use separate streams so that changing the
 * imbalance does not move the test points).
 */
export function makeDataSet(options: DataOptions): DataSet {
  const classCounts = longTailedCounts(options.classes, options.maxCount, options.ratio)
  const train = sample(classCounts, options, mulberry32(options.seed))
  const test = sample(
    classCounts.map(() => options.testPerClass),
    options,
    mulberry32(options.seed + 0x9e3779b9),
  )
  return { train, test, classCounts, options }
}

function sample(counts: readonly number[], options: DataOptions, rand: () => number): Points {
  const total = counts.reduce((a, b) => a + b, 0)
  const xy = new Float32Array(2 * total)
  const labels = new Int32Array(total)
  let i = 0
  counts.forEach((n, c) => {
    const [cx, cy] = classCentre(c, options.classes)
    for (let k = 0; k < n; k++, i++) {
      // Box–Muller: two uniforms give two independent standard normals.
      const r = Math.sqrt(-2 * Math.log(1 - rand()))
      const t = 2 * Math.PI * rand()
      xy[2 * i] = cx + options.spread * r * Math.cos(t)
      xy[2 * i + 1] = cy + options.spread * r * Math.sin(t)
      labels[i] = c
    }
  })
  return { xy, labels }
}
