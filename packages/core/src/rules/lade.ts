import { named } from '../control.js'
import { check } from '../errors.js'
import { FLOAT32_LOWEST } from '../numerics.js'
import { type TensorOps, scalar } from '../ops.js'
import { checkClassCounts } from '../validate.js'
import { NON_NEGATIVE, type SpecBase, type SpecInput, defineRule } from './definition.js'
import type { BatchTerm, LossContext, Rule } from './types.js'

/** LADE (Hong et al., CVPR 2021): `CE(u + log(π + 1e-9), y) + α·L_LADE(u, y)`. */
export interface LadeSpec extends SpecBase {
  /** The rule's name, `'lade'`. */
  rule: 'lade'
  /**
   * Training-set class counts `n_c ≥ 0`, `[C]`: `π_c = n_c / Σ n`, taken as they are (the released
   * code's `1e-9` keeps `log(π_c + 1e-9)` finite for a zero count, whose class then has weight 0 in
   * the LADE term).
   */
  classCounts: number[]
  /** The weight `α ≥ 0` of the LADE term; default 0.1 (the released `config/CIFAR100_LT/lade.yaml`). */
  alpha: number
  /** The regularizer `λ ≥ 0` of the ReMINE bound, `λ·S_c²`; default 0.1 (the released `LADELoss`). */
  remineLambda: number
}

/** A LADE spec as written: `alpha` and `remineLambda` may be left out. */
export type LadeInput = SpecInput<LadeSpec, 'alpha' | 'remineLambda'>

/** The released code's epsilon in `log(π + 1e-9)` and `log(1/C + 1e-9)`. */
const PRIOR_EPSILON = 1e-9
/** The released code's epsilon in `F_c = Σ u / (k_c + 1e-8)`. */
const COUNT_EPSILON = 1e-8

/** `π_c = n_c / Σ n` of the counts as they are (zeros stay 0). */
function ladePriors(classCounts: readonly number[]): number[] {
  const total = classCounts.reduce((a, b) => a + b, 0)
  return classCounts.map((n) => n / total)
}

/**
 * The LADE regularizer (docs/spec.md#310-lade) as a batch term of the loss, weighted by `α`:
 *
 *     value = α · Σ_c π_c·(S_c + λ·S_c² − F_c)
 *     F_c   = Σ_{i: y_i = c} u_ic / (k_c + 1e-8)                     (0 for a class absent from the batch)
 *     S_c   = logsumexp_i(u_ic) − log(π_c + 1e-9) + log(1/C + 1e-9) − log N
 *     ∂value/∂u_ic = α·π_c·((1 + 2λ·S_c)·q_ic − [y_i = c]/(k_c + 1e-8)),   q_ic = softmax over the batch axis
 *
 * over the `N` counted rows (`labelMatrix`'s rows that are one-hot; masked-out and ignored rows are
 * zero there and take no part), `k_c` the counted rows of class `c`. The log-sum-exp runs down the
 * batch axis shifted by each class's maximum (held constant for autodiff), so logits of `1e4` stay
 * finite. Data parallelism: `k`, `Σ y·u` and `Σ exp(u − m)` go through `ctx.batchSum`, the shift `m`
 * through `ctx.batchMax`. A class that is `−∞` on every counted row (masked out of each,
 * docs/spec.md#12-masked-classes) takes no part (`S_c = 0`), and an empty batch has value 0. Shapes: `logits` and `labelMatrix` `[N, C]`;
 * the gradient `[N, C]`, 0 on rows that do not count and at masked classes (`−∞`, held at the lowest
 * float for the term).
 */
export function ladeTerm<T>(
  ops: TensorOps<T>,
  logits: T,
  labelMatrix: T,
  ctx: Pick<LossContext<T>, 'batchSum' | 'batchMax'>,
  constants: { priors: T; sShift: T },
  alpha: number,
  remineLambda: number,
): BatchTerm<T> {
  const total = (x: T) => (ctx.batchSum === undefined ? x : ctx.batchSum(x))
  const max = (x: T) => (ctx.batchMax === undefined ? x : ctx.batchMax(x))
  const lowest = scalar(ops, ops.lowest ?? FLOAT32_LOWEST)
  const one = scalar(ops, 1)
  // A masked class (−∞) held finite, so that its product with a zero label is 0.
  const u = ops.maximum(logits, lowest)
  const counted = ops.sum(labelMatrix, [1], true)
  const k = named(ops, total(ops.sum(labelMatrix, [0], true)), 'lade_k')
  const n = ops.sum(k, [1], true)
  // k_c + 1e-8, and 1 for an absent class (whose sums are 0): float16 storage flushes 1e-8 to 0, and 0/0 is NaN.
  const denominator = ops.add(ops.add(k, scalar(ops, COUNT_EPSILON)), ops.sub(one, ops.greater(k, scalar(ops, 0))))
  const f = named(ops, ops.div(total(ops.sum(ops.mul(labelMatrix, u), [0], true)), denominator), 'lade_f')
  // Rows that do not count at the lowest float: no part in the maximum, exp(· − m) = 0.
  const rows = ops.add(ops.mul(u, counted), ops.mul(ops.sub(one, counted), lowest))
  const top = max(ops.maximum(ops.max(rows, [0], true), lowest))
  // A class with a finite logit on a counted row; the others (no counted row, or −∞ on every one)
  // take no part in the term: their S is 0 and nothing is log 0.
  const present = ops.greater(top, lowest)
  const shift = ops.mul(ops.stopGradient(top), present)
  const e = ops.mul(ops.exp(ops.sub(rows, shift)), counted)
  const sumExp = ops.add(total(ops.sum(e, [0], true)), ops.sub(one, present))
  const logN = ops.log(ops.maximum(n, one))
  const s = named(ops, ops.mul(ops.add(ops.sub(ops.add(shift, ops.log(sumExp)), logN), constants.sShift), present), 'lade_s')
  const lambda = scalar(ops, remineLambda)
  const perClass = ops.sub(ops.add(s, ops.mul(lambda, ops.mul(s, s))), f)
  const a = scalar(ops, alpha)
  const value = ops.mul(a, ops.sum(ops.mul(constants.priors, perClass), [0, 1]))
  const q = ops.div(e, sumExp)
  const slope = ops.add(one, ops.mul(scalar(ops, 2 * remineLambda), s))
  const gradient = ops.mul(ops.mul(a, constants.priors), ops.sub(ops.mul(slope, q), ops.div(labelMatrix, denominator)))
  return { value: named(ops, value, 'lade_term'), gradient }
}

/**
 * LADE, *Disentangling Label Distribution for Long-tailed Visual Recognition* (Hong, Han, Choi,
 * Seo, Kim and Chang, CVPR 2021; hyperconnect/LADE
 * `loss/PriorCELoss.py`, `loss/LADELoss.py`):
 *
 *     L = CE(u + log(π + 1e-9), y) + α · (−Σ_c π_c·(F_c − S_c − λ·S_c²))
 *
 * The first term is the prior cross-entropy (balanced softmax), the perturbation `δ_c =
 * log(π_c + 1e-9)` of every row; the second, the LADE regularizer, is a term of the whole batch
 * (`ladeTerm`, a `BatchTerm`): the ReMINE lower bound of each class's log-likelihood ratio, from
 * class means `F` and batch log-sum-exps `S` of the raw logits (docs/spec.md#310-lade). A class
 * absent from the batch still gets a gradient through `S`. The closed-form gradient is the prior
 * CE's plus the term's. Shapes: logits `[N, C]`, labels `[N]`, `classCounts` of length `C`.
 * Soft targets are refused (the term's class means are ratios, not linear in a target). Under
 * `batchSum` the context must also give `batchMax` (`MISSING_CONTEXT` otherwise).
 */
export function ladeRule(classCounts: readonly number[], alpha: number, remineLambda: number): Rule {
  const c = classCounts.length
  const priors = ladePriors(classCounts)
  const logPriors = priors.map((p) => Math.log(p + PRIOR_EPSILON))
  const balanced = Math.log(1 / c + PRIOR_EPSILON)
  return {
    numClasses: c,
    gradientThrough: false,
    perturb(ops, { logits, labelMatrix, ctx, constants }) {
      check(
        ctx.batchSum === undefined || ctx.batchMax !== undefined,
        'MISSING_CONTEXT',
        'lade takes a log-sum-exp over the whole batch: with batchSum the context needs batchMax, the all-reduce maximum across workers',
        'batchMax',
      )
      const shift = constants.get('logPriors', [1, c], () => logPriors)
      const batchTerm = ladeTerm(
        ops,
        logits,
        labelMatrix,
        ctx,
        {
          priors: constants.get('priors', [1, c], () => priors),
          sShift: constants.get('sShift', [1, c], () => logPriors.map((l) => balanced - l)),
        },
        alpha,
        remineLambda,
      )
      return { batch: { logits: ops.add(logits, shift) }, batchTerm }
    },
  }
}

/** The quantities of one LADE batch on the host, in float64 (see {@link ladeHostTerms}). */
export interface LadeHostTerms {
  /** `k_c`, the rows of each class. */
  batchClassCounts: number[]
  /** `CE(u + log(π + 1e-9), y)`, the mean prior cross-entropy. */
  ceLoss: number
  /** `−Σ_c π_c·(F_c − S_c − λ·S_c²)`, the LADE term before `α`. */
  ladeLoss: number
}

/**
 * LADE's two terms of a batch computed on the host in float64, directly from their formulas
 * (docs/spec.md#310-lade), every row counted: the independent check of the tensor code against the
 * fixtures' `batchClassCounts`, `ceLoss` and `ladeLoss`. `logits` `[N][C]`, `labels` `[N]`.
 */
export function ladeHostTerms(
  logits: readonly (readonly number[])[],
  labels: readonly number[],
  classCounts: readonly number[],
  remineLambda: number,
): LadeHostTerms {
  checkClassCounts(classCounts, undefined)
  const c = classCounts.length
  const n = logits.length
  check(n > 0 && labels.length === n, 'LABELS_SHAPE', `${labels.length} labels for ${n} rows of logits`, 'labels')
  const priors = ladePriors(classCounts)
  const logPriors = priors.map((p) => Math.log(p + PRIOR_EPSILON))
  const lse = (xs: readonly number[]) => {
    const m = Math.max(...xs)
    return m + Math.log(xs.reduce((a, x) => a + Math.exp(x - m), 0))
  }
  const k = new Array<number>(c).fill(0)
  const sums = new Array<number>(c).fill(0)
  let ce = 0
  logits.forEach((row, i) => {
    const y = labels[i]!
    check(row.length === c, 'LOGITS_SHAPE', `row ${i} has ${row.length} logits for ${c} classes`, 'logits')
    check(Number.isInteger(y) && y >= 0 && y < c, 'LABEL_VALUE', `label ${y} of row ${i} is not a class id`, 'labels')
    k[y]! += 1
    sums[y]! += row[y]!
    const z = row.map((u, j) => u + logPriors[j]!)
    ce += lse(z) - z[y]!
  })
  let lade = 0
  for (let j = 0; j < c; j++) {
    const f = sums[j]! / (k[j]! + COUNT_EPSILON)
    const s = lse(logits.map((row) => row[j]! - logPriors[j]! + Math.log(1 / c + PRIOR_EPSILON))) - Math.log(n)
    lade -= priors[j]! * (f - s - remineLambda * s * s)
  }
  return { batchClassCounts: k, ceLoss: ce / n, ladeLoss: lade }
}

const DEFAULTS = { alpha: 0.1, remineLambda: 0.1 } as const

/** LADE in the registry. */
export const ladeDefinition = defineRule<LadeSpec>({
  name: 'lade',
  task: 'single',
  docsPage: 'rules/lade.md',
  notABase: 'lade adds a term of the whole batch to its loss; LPL searches a perturbation of a per-sample loss',
  defaults: DEFAULTS,
  parse: (r, { header, numClasses }) => ({
    rule: 'lade',
    ...header,
    classCounts: r.classCounts('classCounts', numClasses),
    alpha: r.number('alpha', NON_NEGATIVE, DEFAULTS.alpha),
    remineLambda: r.number('remineLambda', NON_NEGATIVE, DEFAULTS.remineLambda),
  }),
  create: (spec) => ladeRule(spec.classCounts, spec.alpha, spec.remineLambda),
})
