import { check } from '../errors.js'
import { checkClassCounts } from '../validate.js'
import type { SpecReader } from '../specReader.js'
import { drwWeights, smoothCounts } from './counts.js'

/**
 * Class weights any single-label rule can take (its spec's `weighting` field): the loss becomes the
 * weighted mean `Σ_i w_{y_i} ℓ_i / Σ_i w_{y_i}`, from epoch `fromEpoch` on (deferred re-weighting,
 * DRW, when it is above 0).
 */
export type ClassWeighting =
  | {
      /** Class-balanced weights (Cui et al., CVPR 2019): `w_c = (1 − β)/(1 − β^{n_c})`, rescaled to `Σ_c w_c = C`. */
      kind: 'class-balanced'
      /** `0 ≤ β < 1` of the effective number of samples `(1 − β^{n_c})/(1 − β)`; default 0.9999. */
      beta: number
      /** First epoch (0-based, the loss context's `epoch`) with the weights on; default 0. */
      fromEpoch: number
      /** The counts `n_c` (`[C]`); default the rule's own `classCounts`. */
      classCounts?: number[]
    }
  | {
      /** Inverse-frequency weights: `w_c ∝ 1/n_c`, rescaled to `Σ_c w_c = C`. */
      kind: 'inverse-frequency'
      /** First epoch (0-based, the loss context's `epoch`) with the weights on; default 0. */
      fromEpoch: number
      /** The counts `n_c` (`[C]`); default the rule's own `classCounts`. */
      classCounts?: number[]
    }

/** A weighting as written: `beta` and `fromEpoch` may be left out, the counts may be readonly. */
export type ClassWeightingInput =
  | {
      /** Class-balanced weights (Cui et al., CVPR 2019): `w_c = (1 − β)/(1 − β^{n_c})`, rescaled to `Σ_c w_c = C`. */
      kind: 'class-balanced'
      /** `0 ≤ β < 1` of the effective number of samples `(1 − β^{n_c})/(1 − β)`; default 0.9999. */
      beta?: number
      /** First epoch (0-based, the loss context's `epoch`) with the weights on; default 0. */
      fromEpoch?: number
      /** The counts `n_c` (`[C]`); default the rule's own `classCounts`. */
      classCounts?: readonly number[]
    }
  | {
      /** Inverse-frequency weights: `w_c ∝ 1/n_c`, rescaled to `Σ_c w_c = C`. */
      kind: 'inverse-frequency'
      /** First epoch (0-based, the loss context's `epoch`) with the weights on; default 0. */
      fromEpoch?: number
      /** The counts `n_c` (`[C]`); default the rule's own `classCounts`. */
      classCounts?: readonly number[]
    }

/** The defaults of the `weighting` fields, as the docs' table names them. */
export const WEIGHTING_DEFAULTS = { 'weighting.beta': 0.9999, 'weighting.fromEpoch': 0 } as const

/** Reads a spec's `weighting` field (see {@link ClassWeighting}); `numClasses` checks its counts' length. */
export function parseWeighting(r: SpecReader, numClasses: number | undefined): ClassWeighting {
  const kind = r.oneOf('kind', ['class-balanced', 'inverse-frequency'])
  const beta = kind === 'class-balanced' ? r.number('beta', { min: 0, below: 1 }, WEIGHTING_DEFAULTS['weighting.beta']) : undefined
  const fromEpoch = r.number(
    'fromEpoch',
    { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true },
    WEIGHTING_DEFAULTS['weighting.fromEpoch'],
  )
  const classCounts = r.has('classCounts') ? r.classCounts('classCounts', numClasses) : undefined
  r.finish()
  const counts = classCounts === undefined ? {} : { classCounts }
  return beta === undefined ? { kind: 'inverse-frequency', fromEpoch, ...counts } : { kind: 'class-balanced', beta, fromEpoch, ...counts }
}

/**
 * Inverse-frequency class weights `w_c = (1/n_c) / Σ_k (1/n_k) · C` (so `Σ_c w_c = C`). Zero counts
 * are read as the smallest positive count, so an empty class gets the weight of the rarest one.
 */
export function inverseFrequencyWeights(classCounts: readonly number[]): number[] {
  checkClassCounts(classCounts, undefined)
  const inverse = smoothCounts(classCounts).map((n) => 1 / n)
  const total = inverse.reduce((a, b) => a + b, 0)
  return inverse.map((w) => (w * inverse.length) / total)
}

/**
 * The class weights of a weighting, from its own counts or else `ruleCounts` (the rule's): class-
 * balanced ({@link drwWeights}, the same formula LDAM-DRW uses) or inverse-frequency.
 */
export function weightingWeights(weighting: ClassWeighting, ruleCounts: readonly number[] | undefined): number[] {
  const counts = weighting.classCounts ?? ruleCounts
  check(counts !== undefined, 'INVALID_SPEC', 'is required: the rule has no classCounts of its own', 'weighting.classCounts')
  return weighting.kind === 'class-balanced' ? drwWeights(counts, weighting.beta) : inverseFrequencyWeights(counts)
}
