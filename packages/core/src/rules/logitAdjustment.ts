import { check } from '../errors.js'
import { TAU, checkClassCounts, checkTau } from '../validate.js'
import type { TensorOps } from '../ops.js'
import { logitAdjustmentShift } from './counts.js'
import { type SpecBase, type SpecInput, defineRule } from './definition.js'
import type { Rule } from './types.js'
import { constantShift } from './constantShift.js'

/** Logit adjustment (Menon et al., ICLR 2021): `CE(u + τ log π, y)`. */
export interface LogitAdjustmentSpec extends SpecBase {
  /** The rule's name, `'logit-adjustment'`. */
  rule: 'logit-adjustment'
  /** Training-set class counts `n_c ≥ 0` (or priors), `[C]`; `π_c = n_c / Σ n`. A zero count is read as the smallest positive one. */
  classCounts: number[]
  /** Temperature `τ ≥ 0`; default 1. */
  tau: number
}

/** A logit-adjustment spec as written: `tau` may be left out. */
export type LogitAdjustmentInput = SpecInput<LogitAdjustmentSpec, 'tau'>

/**
 * Logit adjustment (Menon et al., *Long-tail learning via logit adjustment*, ICLR 2021):
 * `L = mean_i CE(u_i + τ·log π, y_i)`, the same perturbation `δ_c = τ·log π` for every class.
 * Balanced softmax (Ren et al., NeurIPS 2020) is `τ = 1`; `τ = 0` is plain cross-entropy.
 * Shapes: logits `[N, C]`, labels `[N]`, `classCounts` of length `C`.
 *
 * A zero count is read as the smallest positive count (see `smoothCounts`), so `log π` stays finite.
 */
export function logitAdjustmentRule(classCounts: readonly number[], tau: number): Rule {
  const shift = logitAdjustmentShift(classCounts, tau)
  return {
    numClasses: classCounts.length,
    gradientThrough: false,
    // A shift of every row by the same vector reads no label: a soft target's loss is Σ_c t_c·ℓ(z, c).
    softTargets: 'linear',
    perturb: constantShift(shift),
  }
}

/**
 * The post-hoc variant of logit adjustment: logits of a model trained with plain cross-entropy,
 * corrected at prediction time, `u − τ·log π` (`[N, C]`); predict with its arg-max.
 */
export function postHocAdjust<T>(ops: TensorOps<T>, logits: T, classCounts: readonly number[], tau: number): T {
  checkTau(tau)
  const shift = logitAdjustmentShift(classCounts, tau)
  return ops.sub(logits, ops.constant(shift, [1, shift.length]))
}

/** Host-side post-hoc prediction: `argmax_c (u_ic − τ·log π_c)` for each row of `logits` (`[N][C]`). */
export function postHocPredict(logits: readonly (readonly number[])[], classCounts: readonly number[], tau: number): number[] {
  checkTau(tau)
  checkClassCounts(classCounts, undefined)
  check(Array.isArray(logits), 'LOGITS_SHAPE', 'logits must be rows [N][C]', 'logits')
  logits.forEach((row, i) => {
    check(
      Array.isArray(row) && row.length === classCounts.length,
      'LOGITS_SHAPE',
      `row ${i} has ${Array.isArray(row) ? row.length : 'no'} logits for ${classCounts.length} class counts`,
      'logits',
    )
  })
  const shift = logitAdjustmentShift(classCounts, tau)
  return logits.map((row) => {
    let best = 0
    for (let c = 1; c < row.length; c++) if (row[c]! - shift[c]! > row[best]! - shift[best]!) best = c
    return best
  })
}

const DEFAULTS = { tau: 1 } as const

/** Logit adjustment in the registry. */
export const logitAdjustmentDefinition = defineRule<LogitAdjustmentSpec>({
  name: 'logit-adjustment',
  task: 'single',
  docsPage: 'rules/logit-adjustment.md',
  defaults: DEFAULTS,
  parse: (r, { header, numClasses }) => ({
    rule: 'logit-adjustment',
    ...header,
    classCounts: r.classCounts('classCounts', numClasses),
    tau: r.number('tau', TAU, DEFAULTS.tau),
  }),
  equivalences: () => ['laCountScale', 'laTauZero'],
  create: (spec) => ({ ...logitAdjustmentRule(spec.classCounts, spec.tau), priorTau: spec.tau }),
})
