import { named } from './control.js'
import { check } from './errors.js'
import type { TensorOps } from './ops.js'

/**
 * How a rule takes soft targets (probability rows `t_i`, docs/spec.md#11-soft-targets), as its
 * module declares it (`Rule.softTargets`):
 * - `'linear'`: the perturbation reads no label, so the loss of a row is `Σ_c t_ic·ℓ(z_i, c)`,
 *   linear in `t` (the mixup identity holds): cross-entropy, logit adjustment, balanced softmax, VS,
 *   CDT, with or without class weights;
 * - `'top-two'`: the rule reads the label (LDAM's margin), and a row is split into its two largest
 *   entries `v_1 e_{k_1} + v_2 e_{k_2}`, each scored as a hard label and weighted by its value, as
 *   LiVT's released `LDAM_loss` takes mixup targets.
 * A rule without a form refuses soft targets (`SOFT_TARGETS`).
 */
export type SoftTargetForm = 'linear' | 'top-two'

/**
 * One part of a call's targets: what the rule reads as its label matrix, and what the loss term
 * scores. Hard labels and `'linear'` soft targets have one part; the top-two split has two.
 */
export interface TargetPart<T> {
  /** The label matrix the rule perturbs with (`[M, C]`): one-hot rows, the soft rows, or a split's hard rows. */
  readonly ruleMatrix: T
  /** The targets the loss term scores (`[M, C]`): the same, or a split's hard rows times their values. */
  readonly scored: T
}

/** Class ids with their ignored positions taken out (see {@link withoutIgnored}). */
export interface IdsWithoutIgnored<T> {
  /** The ids `[M]`, ignored positions as class 0. */
  readonly labels: T
  /** `[M, 1]`: 1 for the positions that keep their label, 0 for the ignored; undefined without an ignore label. */
  readonly kept: T | undefined
}

/**
 * Class ids `[M]` with an ignore label (docs/spec.md#10-dense-inputs): the positions whose id is
 * `ignoreIndex` get id 0 (so that gathers stay in range) and a 0 in the row mask, so they add
 * nothing to the loss, to any batch statistic, to the state or to the normaliser, and their
 * gradient is exactly 0. Returns the ids and the mask of kept rows `[M, 1]` (undefined: no ignore label).
 */
export function withoutIgnored<T>(ops: TensorOps<T>, labels: T, ignoreIndex: number | undefined): IdsWithoutIgnored<T> {
  if (ignoreIndex === undefined) return { labels, kept: undefined }
  const ignored = ops.equal(labels, ops.constant([ignoreIndex], [], 'int32'))
  return {
    labels: named(ops, ops.where(ignored, ops.constant([0], [], 'int32'), labels), 'labels'),
    kept: ops.reshape(ops.sub(ops.constant([1], []), ignored), [-1, 1]),
  }
}

/** The rows that count: the product of the call's mask and the kept (not ignored) rows, `[M, 1]`. */
export function countedRowMask<T>(ops: TensorOps<T>, mask: T | undefined, kept: T | undefined): T | undefined {
  const m = mask === undefined ? undefined : ops.reshape(mask, [-1, 1])
  if (m === undefined) return kept
  return kept === undefined ? m : ops.mul(m, kept)
}

/**
 * The parts of soft targets `t` (`[M, C]`, zero rows where they do not count) for a rule's form
 * (see {@link SoftTargetForm}); `SOFT_TARGETS` naming the rule when it has none.
 *
 * The top-two split: `v_1 = max_c t_ic`, `H_1` the classes at that value; `v_2` the largest value
 * below it, `H_2` its classes; part k scores `v_k·H_k`. Where several classes tie for the largest
 * value, they share the first part (each scored at `v_1`, the margin taken at each) and there is no
 * second part; where several tie for the second value, each is scored at `v_2`. Without ties this
 * is LiVT's `topk(2)` split; the rest of the row (a smoothing mass on the other classes) is dropped
 * and `v_1 + v_2` is not renormalised, as there.
 */
export function softTargetParts<T>(ops: TensorOps<T>, targets: T, form: SoftTargetForm | undefined, rule: string): TargetPart<T>[] {
  check(
    form !== undefined,
    'SOFT_TARGETS',
    `rule ${rule} does not define soft targets (probability rows): its method reads each sample's class; pass class ids`,
    'labels',
  )
  if (form === 'linear') return [{ ruleMatrix: targets, scored: targets }]
  const top = ops.max(targets, [1], true)
  const first = ops.equal(targets, top)
  // Entries of the first part are moved below every probability, so the next maximum is the second value.
  const rest = ops.where(first, ops.constant([-1], []), targets)
  const second = ops.max(rest, [1], true)
  const secondClasses = ops.equal(rest, second)
  // A tie at the top fills both places of the split: no second part then.
  const untied = ops.greater(ops.constant([1.5], []), ops.sum(first, [1], true))
  const kept = ops.greater(top, ops.constant([0], [])) // a zero row (masked out) has no class
  const firstRows = ops.mul(first, kept)
  const secondRows = ops.mul(ops.mul(secondClasses, untied), kept)
  return [
    { ruleMatrix: firstRows, scored: ops.mul(firstRows, top) },
    { ruleMatrix: secondRows, scored: ops.mul(secondRows, second) },
  ]
}
