import type { TensorOps } from '../../ops.js'
import { classCounts } from '../classSums.js'
import { classSlots, perSlot, rowsOfSlots, slotZeros, slotsToClasses } from '../classSlots.js'
import { MAX_STEPS, NON_NEGATIVE, PRESET_NOT_A_BASE, type SpecBase, type SpecInput, defineRule } from '../definition.js'
import { hostSearchRows } from '../hostRows.js'
import { type SearchPath, searchEngine, searchesOnHost } from '../searchEngine.js'
import { officialBalancedHost, officialBalancedIterations } from './officialBalancedHost.js'
import { officialStep } from './officialStep.js'
import { named, repeat, withGradient } from '../../control.js'
import type { Rule } from '../types.js'

/** The authors' released balanced-data code, reproduced to its numbers (docs/spec.md#4b-the-released-code). */
export interface OfficialBalancedSpec extends SpecBase {
  /** The rule's name, `'official-balanced'`. */
  rule: 'official-balanced'
  /** `K ≥ 5` (fewer iterations than `K + 1` would store no entry a class uses); default 10. */
  steps: number
  /** Step size `α`; default 0.01. */
  alpha: number
}

/** An official-balanced spec as written: `steps` and `alpha` may be left out. */
export type OfficialBalancedInput = SpecInput<OfficialBalancedSpec, 'steps' | 'alpha'>

export { officialBalancedIterations } from './officialBalancedHost.js'

/**
 * The released balanced-data LPL (`official-balanced`, docs/spec.md#4b-the-released-code). Computed without
 * gradient: the loss is `CE(U + η, y)` with `η` a constant. At every iteration, from the current
 * logits: `m_c = M[c, c]`, `t = mean_c m_c` (over all `C` classes, absent ones entering with 0),
 * `s_c = sign(t − m_c)`, and the step `a = α·s_{y_i}·G[y_i, :]` is added twice, the logits after the
 * first addition being stored. `R = round(1.1K)` iterations. Class `c` takes stored entry
 * `K + max(0, r_c)`, where, from the first iteration's `sub_c = t − m_c`:
 * `r_c = round(sub_c / min(sub) · 0.1K − 1)` for `sub_c < 0`, `round(sub_c / max(sub) · 0.1K − 1)`
 * otherwise (the released code sorts `sub`; only its two ends matter, so no sort is needed).
 * Shapes: logits `[N, C]`, labels `[N]`.
 */
export function officialBalancedRule(steps: number, alpha: number, numClasses: number | undefined): Rule {
  const iterations = officialBalancedIterations(steps)
  return {
    numClasses,
    gradientThrough: false,
    // The host loop where the backend reads tensors synchronously (tfjs cpu and wasm), else ops.
    searchPath: <T>(ops: TensorOps<T>): SearchPath => searchEngine(ops, 'auto', false),
    perturb(ops, { logits, labels, labelMatrix, numClasses: c, rowMask, ctx }) {
      if (searchesOnHost(searchEngine(ops, 'auto', false), ctx.batchSum)) {
        const read = ops.readSync!
        const ids = read(labels)
        const fixed = { labels: ids, numClasses: c, steps, alpha, ...(rowMask === undefined ? {} : { rowMask: read(rowMask) }) }
        const searched = hostSearchRows(ops, ops.stopGradient(logits), ids, c, (z) => ({
          delta: officialBalancedHost({ ...fixed, logits: z }),
        }))
        return { batch: { logits: ops.add(logits, searched) } }
      }
      const rows = { labels, numClasses: c, rowMask, batchSum: ctx.batchSum }
      // The class counts, summed across workers once for every step, and the slots of the classes
      // present: every per-class matrix of the search is `[P, C]`.
      const counts = named(ops, classCounts(ops, labelMatrix, rows), 'counts')
      const slots = classSlots(ops, counts, labels, c, ctx.batchSum !== undefined)
      const search = (start: typeof logits): typeof logits => {
        const zero = ops.constant([0], [])
        const tenthK = ops.constant([0.1 * steps], [])
        const minusOne = ops.constant([-1], [])
        /** One iteration from `delta`: the diagonal's offsets `sub = t − m` (`[C]`) and the step to add twice. */
        const iterate = (delta: typeof logits) => {
          const { direction, diagonal } = officialStep(ops, ops.add(start, ops.gather(delta, slots.rows, 0)), rows, slots, c)
          // `t` is the mean over all C classes, the absent ones entering with 0.
          const classDiagonal = slotsToClasses(ops, diagonal, slots)
          const sub = named(ops, ops.sub(ops.mean(classDiagonal, [0], true), classDiagonal), 'sub')
          const signs = ops.reshape(perSlot(ops, ops.sign(sub), slots), [-1, 1])
          const step = ops.mul(ops.mul(signs, ops.constant([alpha], [])), direction)
          return { sub, step: named(ops, step, 'step') }
        }
        // The first iteration also fixes the entry each class takes, from its `sub`.
        const zeroDelta = slotZeros(ops, slots, c)
        const first = iterate(zeroDelta)
        const tiny = ops.constant([1e-30], [])
        const low = ops.max(ops.neg(first.sub), [0], true) // −min(sub)
        const ratio = ops.where(
          ops.greater(zero, first.sub),
          ops.div(first.sub, ops.neg(ops.maximum(low, tiny))),
          ops.div(first.sub, ops.maximum(ops.max(first.sub, [0], true), tiny)),
        )
        const extra = ops.maximum(ops.round(ops.add(ops.mul(ratio, tenthK), minusOne)), zero)
        const entryOf = named(ops, ops.reshape(perSlot(ops, ops.add(extra, ops.constant([steps], [])), slots), [-1, 1]), 'entry')
        const stored = ops.add(zeroDelta, first.step)
        const initial = [ops.add(stored, first.step), ops.where(ops.equal(entryOf, zero), stored, zeroDelta)]
        // Iterations 1 … R − 1: the same body each time, so a symbolic backend writes one loop.
        const [, selected] = repeat(ops, iterations - 1, initial, (_k, [delta, selected], index) => {
          named(ops, delta!, 'delta')
          named(ops, selected!, 'selected')
          const { step } = iterate(delta!)
          const next = ops.add(delta!, step)
          const r = ops.add(index, ops.constant([1], []))
          return [ops.add(next, step), ops.where(ops.equal(entryOf, r), next, selected!)]
        })
        return selected!
      }
      // The search's result is a constant: inside a custom gradient of zeros, its ops are never
      // recorded for autodiff.
      const searched = withGradient(ops, ops.stopGradient(logits), (start) => ({
        value: rowsOfSlots(ops, search(start), slots),
        gradient: (dy) => ops.mul(dy, ops.constant([0], [])),
      }))
      return { batch: { logits: ops.add(logits, searched) } }
    },
  }
}

const DEFAULTS = { steps: 10, alpha: 0.01 } as const

/** The released balanced-data code's preset in the registry. */
export const officialBalancedDefinition = defineRule<OfficialBalancedSpec>({
  name: 'official-balanced',
  task: 'single',
  docsPage: 'rules/official-balanced.md',
  notABase: PRESET_NOT_A_BASE,
  defaults: DEFAULTS,
  parse: (r, { header }) => ({
    rule: 'official-balanced',
    ...header,
    // With K ≤ 4, R = round(1.1K) ≤ K iterations never store entry K, the first one a class uses
    // (the released code fails there with an index error).
    steps: r.number('steps', { min: 5, max: MAX_STEPS, integer: true }, DEFAULTS.steps),
    alpha: r.number('alpha', NON_NEGATIVE, DEFAULTS.alpha),
  }),
  create: (spec) => officialBalancedRule(spec.steps, spec.alpha, spec.numClasses),
})
