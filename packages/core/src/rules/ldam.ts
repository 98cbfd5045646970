import { checkNumber } from '../validate.js'
import { drwWeights, smoothCounts } from './counts.js'
import { NON_NEGATIVE, POSITIVE, type SpecBase, type SpecInput, defineRule } from './definition.js'
import type { Rule } from './types.js'

/** LDAM (Cao et al., NeurIPS 2019): `CE(s·(u − Δ_y e_y), y)`, optionally with deferred re-weighting. */
export interface LdamSpec extends SpecBase {
  /** The rule's name, `'ldam'`. */
  rule: 'ldam'
  /** Training-set class counts `n_c ≥ 0`, `[C]`: the margins `Δ_c = M·n_c^{−1/4} / max_j n_j^{−1/4}` and the DRW weights. */
  classCounts: number[]
  /** Largest margin `M ≥ 0` (of the rarest class); default 0.5. */
  maxMargin: number
  /** Logit scale `s > 0`; default 30 (meant for cosine logits). */
  scale: number
  /** Deferred re-weighting: class weights `(1−β)/(1−β^{n_c})` (sum C) from epoch `fromEpoch` on. */
  drw?: {
    /** `0 ≤ β < 1` of the effective number of samples `(1 − β^{n_c})/(1 − β)`; default 0.9999. */
    beta: number
    /** First epoch (0-based, as the loss context's `epoch`) with the weights on; default 0. */
    fromEpoch: number
  }
}

/** An LDAM spec as written: `maxMargin`, `scale` and the fields of `drw` may be left out. */
export type LdamInput = SpecInput<Omit<LdamSpec, 'drw'>, 'maxMargin' | 'scale'> & {
  /** Deferred re-weighting (see {@link LdamSpec.drw}); `{}` turns it on with the defaults. */
  drw?: Partial<NonNullable<LdamSpec['drw']>>
}

/**
 * LDAM margins (Cao et al., *Learning imbalanced datasets with label-distribution-aware margin
 * loss*, NeurIPS 2019): `Δ_c = M · n_c^{−1/4} / max_j n_j^{−1/4}`, so the rarest class gets `M`.
 * A zero count is read as the smallest positive count, so an empty class gets the largest margin `M`.
 */
export function ldamMargins(classCounts: readonly number[], maxMargin: number): number[] {
  checkNumber(maxMargin, { min: 0 }, 'maxMargin')
  const raw = smoothCounts(classCounts).map((n) => n ** -0.25)
  const largest = Math.max(...raw)
  return raw.map((m) => (maxMargin * m) / largest)
}

/**
 * LDAM: `L = Σ_i w_{y_i} CE(s·(u_i − Δ_{y_i} e_{y_i}), y_i) / Σ_i w_{y_i}`: the class-level
 * perturbation `δ_c = −s·Δ_c e_c` after scaling the logits by `s`. With `drw`, the weights
 * {@link drwWeights} apply from epoch `drw.fromEpoch` on (read from the loss context), and `w = 1`
 * before. Shapes: logits `[N, C]`, labels `[N]`.
 */
export function ldamRule(
  classCounts: readonly number[],
  maxMargin: number,
  scale: number,
  drw: { beta: number; fromEpoch: number } | undefined,
): Rule {
  const c = classCounts.length
  const scaledMargins = ldamMargins(classCounts, maxMargin).map((m) => scale * m)
  const weights = drw === undefined ? undefined : drwWeights(classCounts, drw.beta)
  return {
    numClasses: c,
    gradientThrough: false,
    // The margin reads the label: a mixed target is split into its two largest entries (LiVT).
    softTargets: 'top-two',
    perturb(ops, { logits, labelMatrix, ctx, constants }) {
      const s = constants.get('scale', [], () => [scale])
      const active = weights !== undefined && drw !== undefined && (ctx.epoch ?? 0) >= drw.fromEpoch
      const scaled = ops.mul(logits, s)
      // −s·Δ_y on the true-class logit: the label matrix times the margins' row, O(N·C), with no
      // [C, C] matrix. A part of a soft target's top-two split takes the margin at each of its classes.
      const margins = constants.get('margins', [1, c], () => scaledMargins)
      return {
        batch: {
          logits: ops.sub(scaled, ops.mul(labelMatrix, margins)),
          logitScale: s,
          reference: { logits: scaled, logitScale: s },
          ...(active ? { classWeights: constants.get('drwWeights', [c], () => weights) } : {}),
        },
      }
    },
  }
}

// Keys as the docs' spec table names the fields: `drw.beta` is `beta` inside `drw`.
const DEFAULTS = { maxMargin: 0.5, scale: 30, 'drw.beta': 0.9999, 'drw.fromEpoch': 0 } as const

/** LDAM and LDAM-DRW in the registry. */
export const ldamDefinition = defineRule<LdamSpec>({
  name: 'ldam',
  task: 'single',
  docsPage: 'rules/ldam.md',
  defaults: DEFAULTS,
  parse(r, { header, numClasses }) {
    const classCounts = r.classCounts('classCounts', numClasses)
    const maxMargin = r.number('maxMargin', NON_NEGATIVE, DEFAULTS.maxMargin)
    const scale = r.number('scale', POSITIVE, DEFAULTS.scale)
    const drwReader = r.child('drw')
    let drw: LdamSpec['drw']
    if (drwReader !== undefined) {
      drw = {
        beta: drwReader.number('beta', { min: 0, below: 1 }, DEFAULTS['drw.beta']),
        fromEpoch: drwReader.number('fromEpoch', { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true }, DEFAULTS['drw.fromEpoch']),
      }
      drwReader.finish()
    }
    return { rule: 'ldam', ...header, classCounts, maxMargin, scale, ...(drw ? { drw } : {}) }
  },
  equivalences: () => ['ldamPlainIsCe', 'ldamMonotone'],
  ownClassWeights: (spec) => (spec.drw === undefined ? undefined : 'LDAM with drw has its class weights already: drop drw or weighting'),
  create: (spec) => ({
    ...ldamRule(spec.classCounts, spec.maxMargin, spec.scale, spec.drw),
    // The class weights switch on at drw.fromEpoch; from epoch 0 they are always on.
    ...(spec.drw !== undefined && spec.drw.fromEpoch > 0 ? { epochSwitches: [spec.drw.fromEpoch] } : {}),
  }),
})
