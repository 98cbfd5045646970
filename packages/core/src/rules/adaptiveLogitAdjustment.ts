import { check } from '../errors.js'
import { FLOAT32_LOWEST } from '../numerics.js'
import type { TensorOps } from '../ops.js'
import { checkClassCounts } from '../validate.js'
import { POSITIVE, type SpecBase, type SpecInput, defineRule } from './definition.js'
import type { Rule } from './types.js'

/**
 * Adaptive logit adjustment (ALA; Zhao et al., AAAI 2022): `CE(s·u − h_i·a_{y_i}·s·e_{y_i}, y)` on
 * cosine logits `u`, with a quantity factor `a_c` per class and a difficulty factor `h_i` per sample.
 */
export interface AdaptiveLogitAdjustmentSpec extends SpecBase {
  /** The rule's name, `'adaptive-logit-adjustment'`. */
  rule: 'adaptive-logit-adjustment'
  /** Training-set class counts `n_c > 0`, `[C]`: the quantity factors `a_c = ln 2 / ln(n_c / min n + 1)`. */
  classCounts: number[]
  /** Logit scale `s > 0`; default 30 (the released code's, meant for cosine logits). */
  scale: number
}

/** An ALA spec as written: `scale` may be left out. */
export type AdaptiveLogitAdjustmentInput = SpecInput<AdaptiveLogitAdjustmentSpec, 'scale'>

/**
 * ALA's quantity factors (liming-ai/OpenLT `model/loss.py` `ALALoss`): `a_c = ln 2 / ln(n_c / min n + 1)`,
 * so the rarest class gets 1 and a class `k` times as large `ln 2 / ln(k + 1)`. Every count must be
 * `> 0` (`min n = 0` would divide by zero, as it does in the released code); `CLASS_COUNTS_VALUE`
 * names the first zero count otherwise.
 */
export function alaMargins(classCounts: readonly number[], field = 'classCounts'): number[] {
  checkClassCounts(classCounts, undefined, field)
  classCounts.forEach((n, c) => {
    check(n > 0, 'CLASS_COUNTS_VALUE', `is 0: adaptive logit adjustment needs every class count > 0`, `${field}[${c}]`)
  })
  const smallest = Math.min(...classCounts)
  return classCounts.map((n) => Math.LN2 / Math.log(n / smallest + 1))
}

/**
 * The difficulty factor `h_i = (1 − u_{i,y_i})/2` of each row (`[N, 1]`), held constant for the
 * gradient. A class masked out of a row (`u = −∞`, never the target) is held finite first, so that
 * its product with a zero label is 0; a row without a label (masked out, ignored) gets `1/2`, and no
 * shift, since its label row is zero.
 */
function difficulty<T>(ops: TensorOps<T>, logits: T, labelMatrix: T): T {
  const finite = ops.maximum(logits, ops.constant([ops.lowest ?? FLOAT32_LOWEST], []))
  const target = ops.sum(ops.mul(finite, labelMatrix), [1], true)
  return ops.stopGradient(ops.mul(ops.sub(ops.constant([1], []), target), ops.constant([0.5], [])))
}

/**
 * Adaptive logit adjustment (Y. Zhao, W. Chen, X. Tan, K. Huang, J. Zhu, *Adaptive Logit Adjustment
 * Loss for Long-Tailed Visual Recognition*, AAAI 2022; liming-ai/OpenLT `model/loss.py` `ALALoss`,
 * docs/spec.md#312-adaptive-logit-adjustment). With cosine logits `u` (`[N, C]`) and `x = s·u`:
 *
 *     z_i = x_i − h_i·a_{y_i}·s·e_{y_i},   h_i = (1 − u_{i,y_i})/2,   L = CE(z, y)
 *
 * Only the target logit moves, down by `s·h_i·a_{y_i}` (for `u_{i,y_i} ≤ 1`): the class-level factor
 * `a` ({@link alaMargins}) times the sample's difficulty `h`. Both are held constant for the gradient,
 * as the released code detaches them, so `∂z/∂u = s` and the closed-form gradient is
 * `share_i·s·(p(z_i) − e_{y_i})`. Explanations measure the shift against `s·u`. The class-balanced
 * re-weighting of the released code from an epoch on is the spec's `weighting` field.
 */
export function adaptiveLogitAdjustmentRule(classCounts: readonly number[], scale: number): Rule {
  const c = classCounts.length
  const scaledMargins = alaMargins(classCounts).map((a) => scale * a)
  return {
    numClasses: c,
    gradientThrough: false,
    // The difficulty factor reads the sample's target cosine itself.
    sampleDelta: 'logits',
    perturb(ops, { logits, labelMatrix, constants }) {
      const s = constants.get('scale', [], () => [scale])
      const scaled = ops.mul(logits, s)
      // h_i·s·a_{y_i} on the target logit: the label matrix times the factors' row, O(N·C).
      const margins = constants.get('margins', [1, c], () => scaledMargins)
      const shift = ops.mul(ops.mul(labelMatrix, margins), difficulty(ops, logits, labelMatrix))
      return {
        batch: {
          logits: ops.sub(scaled, shift),
          logitScale: s,
          reference: { logits: scaled, logitScale: s },
        },
      }
    },
  }
}

const DEFAULTS = { scale: 30 } as const

/** Adaptive logit adjustment in the registry. */
export const adaptiveLogitAdjustmentDefinition = defineRule<AdaptiveLogitAdjustmentSpec>({
  name: 'adaptive-logit-adjustment',
  task: 'single',
  docsPage: 'rules/adaptive-logit-adjustment.md',
  defaults: DEFAULTS,
  notABase: 'adaptive-logit-adjustment cannot be the base of LPL: its shift depends on each sample, not on its class alone',
  parse(r, { header, numClasses }) {
    const classCounts = r.classCounts('classCounts', numClasses)
    alaMargins(classCounts, r.fieldPath('classCounts'))
    const scale = r.number('scale', POSITIVE, DEFAULTS.scale)
    return { rule: 'adaptive-logit-adjustment', ...header, classCounts, scale }
  },
  create: (spec) => adaptiveLogitAdjustmentRule(spec.classCounts, spec.scale),
})
