import { mulberry32, shuffleInPlace } from '@logit-perturb/core'
import type { ImageSet } from './fashionMnist.js'

/** The long-tailed class sizes of the protocol: `n_c = floor(nMax · ρ^{−c/(C−1)})`. */
export function longTailCounts(ratio: number, numClasses = 10, nMax = 6000): number[] {
  return Array.from({ length: numClasses }, (_, c) => Math.floor(nMax * ratio ** (-c / (numClasses - 1))))
}

/** Indices into an image set for the training subset, the held-out validation split, and the test set. */
export interface Splits {
  /** Long-tailed training subset: `counts[c]` images of class `c`. */
  train: number[]
  /** Class-balanced validation split, from training images the subset did not use. */
  validation: number[]
  counts: number[]
}

/**
 * Draws the long-tailed training subset and a class-balanced validation split from a training set,
 * by a seeded shuffle of each class's images: the first `counts[c]` go to training, the next
 * `validationPerClass` to validation, so the two never share an image.
 */
export function longTailSplits(set: ImageSet, counts: readonly number[], validationPerClass: number, seed: number): Splits {
  const rand = mulberry32(seed)
  const byClass = counts.map(() => [] as number[])
  for (let i = 0; i < set.count; i++) byClass[set.labels[i]!]!.push(i)
  const train: number[] = []
  const validation: number[] = []
  byClass.forEach((indices, c) => {
    shuffleInPlace(indices, rand)
    const n = Math.min(counts[c]!, indices.length)
    train.push(...indices.slice(0, n))
    validation.push(...indices.slice(n, n + validationPerClass))
  })
  shuffleInPlace(train, rand)
  return { train, validation, counts: byClass.map((indices, c) => Math.min(counts[c]!, indices.length)) }
}
