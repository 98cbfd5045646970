import { labelLogOdds } from './counts.js'
import { TAU } from '../validate.js'
import { MULTI_LABEL_NOT_A_BASE, type SpecBase, type SpecInput, defineRule, parseLabelCounts } from './definition.js'
import type { Rule } from './types.js'
import { constantShift } from './constantShift.js'

/** Logit-adjusted BCE (multi-label): BCE of `u_ic + τ·log(π_c / (1 − π_c))`, `π_c = n_c / numSamples`. */
export interface LogitAdjustedBceSpec extends SpecBase {
  /** The rule's name, `'logit-adjusted-bce'`. */
  rule: 'logit-adjusted-bce'
  /** Positives of each label in the training set. */
  classCounts: number[]
  /** Training-set size (samples); no count may exceed it. */
  numSamples: number
  /** Temperature `τ ≥ 0`; default 1. */
  tau: number
}

/** A logit-adjusted BCE spec as written: `tau` may be left out. */
export type LogitAdjustedBceInput = SpecInput<LogitAdjustedBceSpec, 'tau'>

/**
 * Logit-adjusted binary cross-entropy: each label's logit is shifted by its scaled prior log-odds,
 *
 *     L = mean_{i,c} BCE(u_ic + τ·log(π_c / (1 − π_c)), Y_ic),   π_c = n_c / numSamples,
 *
 * the per-label, two-class form of logit adjustment (Menon et al., *Long-tail learning via logit
 * adjustment*, ICLR 2021): a rare label's logit is lowered, so its positives must be scored higher.
 * `τ = 0` is BCE. Shapes: logits and labels `[N, C]`, `classCounts` (positives per label) of length
 * `C`. Counts of 0 or `numSamples` are clamped to the nearest informative label (see `labelPriors`).
 */
export function logitAdjustedBceRule(classCounts: readonly number[], numSamples: number, tau: number): Rule {
  const shift = labelLogOdds(classCounts, numSamples).map((l) => tau * l)
  return {
    numClasses: classCounts.length,
    gradientThrough: false,
    perturb: constantShift(shift),
  }
}

const DEFAULTS = { tau: 1 } as const

/** Logit-adjusted BCE in the registry. */
export const logitAdjustedBceDefinition = defineRule<LogitAdjustedBceSpec>({
  name: 'logit-adjusted-bce',
  task: 'multi',
  docsPage: 'rules/multilabel.md',
  notABase: MULTI_LABEL_NOT_A_BASE,
  defaults: DEFAULTS,
  parse: (r, { header, numClasses }) => ({
    rule: 'logit-adjusted-bce',
    ...header,
    ...parseLabelCounts(r, numClasses),
    tau: r.number('tau', TAU, DEFAULTS.tau),
  }),
  create: (spec) => logitAdjustedBceRule(spec.classCounts, spec.numSamples, spec.tau),
})
