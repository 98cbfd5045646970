import { check } from '../errors.js'
import { FLOAT32_FLOOR } from '../numerics.js'
import { MAX_PARAMETER, checkClassCounts, checkNumber } from '../validate.js'
import type { NumberRule, SpecReader } from '../specReader.js'
import { drwWeights, priorsFromCounts, smoothCounts } from './counts.js'

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
  | {
      /**
       * Generalized re-weighting (GRW; Zhang et al., CVPR 2021, as in LIFT's `GeneralizedReweightLoss`):
       * `w_c = π_c^{−p} / mean_k π_k^{−p}`, `π = n/Σn`, so `Σ_c w_c = C` (docs/spec.md#311-generalized-re-weighting).
       */
      kind: 'generalized-reweighting'
      /** The exponent `p ≥ 0`; default 1 (inverse frequency). `p = 0` weighs every class alike. */
      exponent: number
      /** First epoch (0-based, the loss context's `epoch`) with the weights on; default 0. */
      fromEpoch: number
      /** The counts `n_c` (`[C]`); default the rule's own `classCounts`. */
      classCounts?: number[]
    }

/** A weighting as written: `beta`, `exponent` and `fromEpoch` may be left out, the counts may be readonly. */
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
  | {
      /** Generalized re-weighting: `w_c = π_c^{−p} / mean_k π_k^{−p}` (see {@link ClassWeighting}). */
      kind: 'generalized-reweighting'
      /** The exponent `p ≥ 0`; default 1. */
      exponent?: number
      /** First epoch (0-based, the loss context's `epoch`) with the weights on; default 0. */
      fromEpoch?: number
      /** The counts `n_c` (`[C]`); default the rule's own `classCounts`. */
      classCounts?: readonly number[]
    }

/** The defaults of the `weighting` fields, as the docs' table names them. */
export const WEIGHTING_DEFAULTS = { 'weighting.beta': 0.9999, 'weighting.exponent': 1, 'weighting.fromEpoch': 0 } as const

/** The exponent of generalized re-weighting: `p ≥ 0`, at most the largest hyper-parameter. */
export const GRW_EXPONENT: NumberRule = { min: 0, max: MAX_PARAMETER }

/** Reads a spec's `weighting` field (see {@link ClassWeighting}); `numClasses` checks its counts' length. */
export function parseWeighting(r: SpecReader, numClasses: number | undefined): ClassWeighting {
  const kind = r.oneOf('kind', ['class-balanced', 'inverse-frequency', 'generalized-reweighting'])
  const beta = kind === 'class-balanced' ? r.number('beta', { min: 0, below: 1 }, WEIGHTING_DEFAULTS['weighting.beta']) : undefined
  const exponent =
    kind === 'generalized-reweighting' ? r.number('exponent', GRW_EXPONENT, WEIGHTING_DEFAULTS['weighting.exponent']) : undefined
  const fromEpoch = r.number(
    'fromEpoch',
    { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true },
    WEIGHTING_DEFAULTS['weighting.fromEpoch'],
  )
  const classCounts = r.has('classCounts') ? r.classCounts('classCounts', numClasses) : undefined
  r.finish()
  const counts = classCounts === undefined ? {} : { classCounts }
  if (beta !== undefined) return { kind: 'class-balanced', beta, fromEpoch, ...counts }
  if (exponent !== undefined) return { kind: 'generalized-reweighting', exponent, fromEpoch, ...counts }
  return { kind: 'inverse-frequency', fromEpoch, ...counts }
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
 * Generalized re-weighting class weights (Zhang et al., *Distribution Alignment: A Unified
 * Framework for Long-tail Visual Recognition*, CVPR 2021; shijxcs/LIFT `utils/losses.py`
 * `GeneralizedReweightLoss`): `w_c = π_c^{−p} / mean_k π_k^{−p}` with `π = n/Σn`, so `Σ_c w_c = C`
 * (docs/spec.md#311-generalized-re-weighting). `p = 0` gives every class 1, `p = 1` is
 * the inverse-frequency weights. Computed as `C·softmax(−p·log π)`, finite for any `p` and counts,
 * and each weight held at `1e-37` (`FLOAT32_FLOOR`) or more: a large `p` on a steep tail makes the
 * weights of the head classes vanish (`10⁻⁶⁰` at `p = 10` and a ratio of 10⁶), below what float32
 * holds, and a batch of such classes alone would have loss 0 on a float32 backend and the mean of
 * their losses on a float64 one. Zero counts are read as the smallest positive count (as for
 * inverse frequency), so an empty class gets the weight of the rarest one.
 */
export function generalizedReweightWeights(classCounts: readonly number[], exponent: number): number[] {
  checkNumber(exponent, GRW_EXPONENT, 'exponent')
  const logits = priorsFromCounts(classCounts).map((p) => -exponent * Math.log(p))
  const top = Math.max(...logits)
  const raw = logits.map((l) => Math.exp(l - top))
  const total = raw.reduce((a, b) => a + b, 0)
  return raw.map((w) => Math.max((w * raw.length) / total, FLOAT32_FLOOR))
}

/**
 * The class weights of a weighting, from its own counts or else `ruleCounts` (the rule's): class-
 * balanced ({@link drwWeights}, the same formula LDAM-DRW uses), inverse-frequency or generalized
 * re-weighting.
 */
export function weightingWeights(weighting: ClassWeighting, ruleCounts: readonly number[] | undefined): number[] {
  const counts = weighting.classCounts ?? ruleCounts
  check(counts !== undefined, 'INVALID_SPEC', 'is required: the rule has no classCounts of its own', 'weighting.classCounts')
  switch (weighting.kind) {
    case 'class-balanced':
      return drwWeights(counts, weighting.beta)
    case 'inverse-frequency':
      return inverseFrequencyWeights(counts)
    case 'generalized-reweighting':
      return generalizedReweightWeights(counts, weighting.exponent)
  }
}
