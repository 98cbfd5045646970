import { checkFiniteResult, checkNumber } from '../../validate.js'
import { smoothCounts } from '../counts.js'
import type { TensorOps } from '../../ops.js'
import { withGradient } from '../../control.js'
import { type CountedRows, classCounts as countedClassCounts } from '../classSums.js'
import { classSlots, rowsOfSlots, slotSums } from '../classSlots.js'
import { hostSearchRows } from '../hostRows.js'
import { type SearchPath, searchEngine, searchesOnHost } from '../searchEngine.js'
import { officialLongtailHost, officialLongtailHostVjp } from './officialLongtailHost.js'
import { type OfficialSearchInputs, officialLongtailSearch, officialLongtailSearchVjp } from './officialLongtailSearch.js'
import { NON_NEGATIVE, PRESET_NOT_A_BASE, STEP_COUNT, type SpecBase, type SpecInput, defineRule } from '../definition.js'
import { roundHalfEven } from '../../rounding.js'
import type { PerturbCall, Rule } from '../types.js'

/** The authors' released long-tail code, reproduced to its numbers (docs/spec.md#4b-the-released-code). */
export interface OfficialLongtailSpec extends SpecBase {
  /** The rule's name, `'official-longtail'`. */
  rule: 'official-longtail'
  /** Counts in class order, head first, as `classes_freq` of the released code. */
  classCounts: number[]
  /** `h`, the number of head classes, the first `h` in class order (negative sign). */
  headClasses: number
  /** `S`, the scale of the step-count formula (the step index is about `S` times a count ratio); default 10. */
  stepScale: number
  /** `κ` of the step-count formula for head classes; default 0.6. */
  headFactor: number
  /** `K`, the number of steps run; default 10. */
  steps: number
  /** Step size `α`; default 0.15. */
  alpha: number
}

/** An official-longtail spec as written: all but `classCounts` and `headClasses` may be left out. */
export type OfficialLongtailInput = SpecInput<OfficialLongtailSpec, 'stepScale' | 'headFactor' | 'steps' | 'alpha'>

/** Step indices of the released long-tail code: raw (as Python computes them) and clamped to `[0, K−1]`. */
export interface OfficialLongtailSteps {
  /** `k_c` per class as the released code computes it (`getStepRaw` of the fixtures); may be −1 or exceed `K − 1`. */
  raw: number[]
  /** `k_c` clamped to `[0, K − 1]`, the 0-based step whose logits class `c`'s samples use (`classSteps`). */
  clamped: number[]
}

/**
 * The released long-tail code's step index per class (`get_step`, docs/spec.md#4b-the-released-code), with counts
 * in class order, head first:
 * `k_c = round((n_c / n_0) · S · κ − 1)` for `c < h`, `round((n_{C−1} / n_c) · S − 1)` otherwise,
 * with Python's round-half-to-even. Python would read −1 as the last step and fail past `K − 1`;
 * the clamped indices are the ones used. Zero counts are smoothed to the smallest positive count.
 */
export function officialLongtailSteps(
  classCounts: readonly number[],
  headClasses: number,
  stepScale: number,
  headFactor: number,
  steps: number,
): OfficialLongtailSteps {
  const n = smoothCounts(classCounts)
  checkNumber(headClasses, { min: 0, max: n.length, integer: true }, 'headClasses')
  checkNumber(stepScale, { min: 0 }, 'stepScale')
  checkNumber(headFactor, { min: 0 }, 'headFactor')
  checkNumber(steps, { min: 1, integer: true }, 'steps')
  const first = n[0]!
  const last = n[n.length - 1]!
  const raw = n.map((nc, c) =>
    c < headClasses ? roundHalfEven((nc / first) * stepScale * headFactor - 1) : roundHalfEven((last / nc) * stepScale - 1),
  )
  checkFiniteResult(raw, 'stepScale', 'the step indices round(ratio·S·κ − 1)')
  return { raw, clamped: raw.map((k) => Math.min(Math.max(k, 0), steps - 1)) }
}

/**
 * The released long-tail LPL (`official-longtail`): signs `−1` for the first `headClasses` classes and `+1`
 * for the rest; `K` steps of `officialStep`, `U ← U + α·s_{y_i}·G[y_i, :]`; sample `i` takes
 * the logits after step `k_{y_i} + 1` ({@link officialLongtailSteps}); the loss is the mean CE of
 * those logits, and the gradient flows through every step. The search runs on the host where the
 * backend reads tensors synchronously and takes custom gradients (`officialLongtailHost` and its
 * reverse pass), else as tensor ops ({@link officialLongtailSearch}) whose gradient is the
 * hand-written reverse pass {@link officialLongtailSearchVjp} (plain autodiff on backends without
 * custom gradients). `search` forces a path. Shapes: logits `[N, C]`, labels `[N]`.
 */
export function officialLongtailRule(
  classCounts: readonly number[],
  headClasses: number,
  stepScale: number,
  headFactor: number,
  steps: number,
  alpha: number,
  search: 'auto' | SearchPath = 'auto',
): Rule {
  const c = classCounts.length
  const { clamped } = officialLongtailSteps(classCounts, headClasses, stepScale, headFactor, steps)
  const signedAlpha = classCounts.map((_, k) => (k < headClasses ? -alpha : alpha))
  // Its gradient always goes through the search.
  const searchPath = <T>(ops: TensorOps<T>): SearchPath => searchEngine(ops, search, true)
  return {
    numClasses: c,
    gradientThrough: true,
    searchPath,
    perturb<T>(ops: TensorOps<T>, call: PerturbCall<T>) {
      const { logits, labels, labelMatrix, rowMask, constants } = call
      const batchSum = call.ctx.batchSum
      const rows = { labels, numClasses: c, rowMask }
      // With statistics summed across workers the steps run as ops, each taking part in the sums.
      if (searchesOnHost(searchPath(ops), batchSum))
        return { batch: { logits: ops.add(logits, hostSearch(ops, logits, rows, clamped, signedAlpha, steps)) } }
      // The class counts (`[C]`, summed across workers), taken once: the reverse pass reads them
      // rather than the `[N, C]` label matrix.
      const counts = countedClassCounts(ops, labelMatrix, { ...rows, batchSum })
      const given = [
        labels,
        counts,
        constants.get('stepOf', [c, 1], () => clamped),
        constants.get('signedAlpha', [c, 1], () => signedAlpha),
      ]
      // The slots are made again from the saved labels and counts in the reverse pass: the same numbering.
      const inputsOf = (x: T, [ids, classCounts, stepOf, scale, mask]: readonly (T | undefined)[]): OfficialSearchInputs<T> => {
        const counted = { labels: ids!, numClasses: c, rowMask: mask, batchSum }
        return {
          logits: x,
          rows: counted,
          slots: classSlots(ops, classCounts!, ids!, c, batchSum !== undefined),
          stepOf: stepOf!,
          signedAlpha: scale!,
          steps,
        }
      }
      const all = rowMask === undefined ? given : [...given, rowMask]
      const rowsOfSearch = withGradient(ops, logits, (x, save) => {
        save([x, ...all])
        const inputs = inputsOf(x, all)
        return {
          value: rowsOfSlots(ops, officialLongtailSearch(ops, inputs), inputs.slots),
          gradient: (dy, saved) => {
            const again = inputsOf(saved[0]!, saved.slice(1))
            // ∂L/∂δ by slot; rows of absent classes took no δ and send nothing back.
            const upstream = slotSums(ops, ops.mul(dy, again.slots.rowPresent), { rowMask: undefined, batchSum }, again.slots)
            return officialLongtailSearchVjp(ops, again, upstream)
          },
        }
      })
      return { batch: { logits: ops.add(logits, rowsOfSearch) } }
    },
  }
}

/**
 * `sel_{y_i}` (`[N, C]`) from the host search (`officialLongtailHost`), whose gradient is its host
 * reverse pass: the backend sees one `[N, C]` constant and its gradient.
 */
function hostSearch<T>(
  ops: TensorOps<T>,
  logits: T,
  rows: CountedRows<T>,
  stepOf: readonly number[],
  signedAlpha: readonly number[],
  steps: number,
): T {
  const read = ops.readSync!
  const labels = read(rows.labels)
  const fixed = {
    labels,
    numClasses: rows.numClasses,
    stepOf,
    signedAlpha,
    steps,
    ...(rows.rowMask === undefined ? {} : { rowMask: read(rows.rowMask) }),
  }
  return hostSearchRows(ops, logits, labels, rows.numClasses, (z) => {
    const forward = officialLongtailHost({ ...fixed, logits: z })
    return { delta: forward.sel, vjp: (upstream) => officialLongtailHostVjp(forward, upstream) }
  })
}

const DEFAULTS = { stepScale: 10, headFactor: 0.6, steps: 10, alpha: 0.15 } as const

/** The released long-tail code's preset in the registry. */
export const officialLongtailDefinition = defineRule<OfficialLongtailSpec>({
  name: 'official-longtail',
  task: 'single',
  docsPage: 'rules/official-longtail.md',
  notABase: PRESET_NOT_A_BASE,
  defaults: DEFAULTS,
  parse(r, { header, numClasses }) {
    const classCounts = r.classCounts('classCounts', numClasses)
    return {
      rule: 'official-longtail',
      ...header,
      classCounts,
      headClasses: r.number('headClasses', { min: 0, max: classCounts.length, integer: true }),
      stepScale: r.number('stepScale', NON_NEGATIVE, DEFAULTS.stepScale),
      headFactor: r.number('headFactor', NON_NEGATIVE, DEFAULTS.headFactor),
      steps: r.number('steps', STEP_COUNT, DEFAULTS.steps),
      alpha: r.number('alpha', NON_NEGATIVE, DEFAULTS.alpha),
    }
  },
  create: (spec, { options }) =>
    officialLongtailRule(spec.classCounts, spec.headClasses, spec.stepScale, spec.headFactor, spec.steps, spec.alpha, options.search),
})
