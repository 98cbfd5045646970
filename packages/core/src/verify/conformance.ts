import { createLoss } from '../loss.js'
import { referenceOps } from '../reference/ops.js'
import type { RefTensor } from '../reference/tensor.js'
import type { TensorOps } from '../ops.js'
import type { Reduction } from '../reduction.js'
import type { LossContext } from '../rules/types.js'
import type { RuleInput } from '../specTypes.js'
import type { Backend } from './backend.js'
import { batchOn } from './backend.js'
import { relativeError } from './relativeError.js'

/** One conformance case: a spec on a batch, and what a backend is not expected to match, with why. */
export interface ConformanceCase {
  /** The case's name, for reports. */
  name: string
  /** The rule spec (the input of `createLoss`). */
  spec: RuleInput
  /** The logits as rows `[N][C]`. */
  logits: number[][]
  /** Class ids `[N]`, or for multi-label rules rows of 0 and 1 `[N][C]`. */
  labels: number[] | number[][]
  /** The reduction the case's loss uses (`LossOptions.reduction`); default `'mean'`. */
  reduction?: Reduction
  /** Sample weights `[N]` passed in the call's context. */
  sampleWeight?: number[]
  /** A 0/1 row mask `[N]` passed in the call's context. */
  mask?: number[]
  /** Quantities left out of the comparison on float32 backends, each with its reason. */
  float32Exceptions?: Partial<Record<'loss' | 'gradient' | 'perturbed' | 'autodiff', string>>
}

/** One quantity of a conformance case compared on a backend, or why it was not. */
export interface ConformanceCheck {
  /** The quantity compared: `'loss'`, `'perturbed logits'`, `'closed-form gradient'`, … */
  what: string
  /** The largest relative error against the reference (`relativeError`); Infinity for a non-finite value. */
  error: number
  /** The backend's relative tolerance (`Backend.rtol`): the check passes when `error ≤ tolerance`. */
  tolerance: number
  /** Why the quantity is not held to the tolerance on this backend, when it is not. */
  skipped?: string
}

/**
 * Values below this count as zero: far below anything that moves training, and above float32's
 * subnormal range, where backends differ (wasm flushes subnormals to zero, cpu keeps them).
 */
const NEGLIGIBLE = 1e-30

/**
 * Central differences of a reference loss in float64 (the ground truth of through-gradients); of
 * the sum of its entries for the per-sample losses of `reduction: 'none'`, which is what automatic
 * differentiation of a vector differentiates.
 */
function referenceFiniteDifference(f: (u: RefTensor) => RefTensor, logits: number[][], h = 1e-6): Float64Array {
  const flat = logits.flat()
  const shape = [logits.length, logits[0]!.length]
  const at = (k: number, d: number) =>
    f(
      referenceOps.constant(
        flat.map((v, j) => (j === k ? v + d : v)),
        shape,
      ),
    ).data.reduce((a, v) => a + v, 0)
  return Float64Array.from(flat, (_, k) => (at(k, h) - at(k, -h)) / (2 * h))
}

/**
 * Runs one case on a backend and compares it with the float64 reference: the loss, the perturbed
 * logits, the closed-form gradient where the rule has one, and on backends with automatic
 * differentiation the autodiff gradient, which must equal the closed form for stop-gradient rules
 * and a float64 central difference of the loss for through-gradient rules. The values are also
 * checked to be finite.
 */
export async function checkConformance<T>(backend: Backend<T>, c: ConformanceCase): Promise<ConformanceCheck[]> {
  const options = c.reduction === undefined ? {} : { reduction: c.reduction }
  // The case's sample weights and mask, as tensors of a backend.
  const rowsOn = <U>(ops: TensorOps<U>): LossContext<U> => ({
    ...(c.sampleWeight === undefined ? {} : { sampleWeight: ops.constant(c.sampleWeight, [c.sampleWeight.length]) }),
    ...(c.mask === undefined ? {} : { mask: ops.constant(c.mask, [c.mask.length]) }),
  })
  const ref = createLoss(referenceOps, c.spec, options)
  const refBatch = batchOn({ ops: referenceOps } as Backend<RefTensor>, c.logits, c.labels)
  const refRows = rowsOn(referenceOps)
  const refEval = ref.evaluate(refBatch.logits, refBatch.labels, refRows)
  const float32 = backend.rtol > 1e-6
  const gradientSkip = float32 ? c.float32Exceptions?.gradient : undefined
  const perturbedSkip = float32 ? c.float32Exceptions?.perturbed : undefined
  const lossSkip = float32 ? c.float32Exceptions?.loss : undefined
  const autodiffSkip = float32 ? (c.float32Exceptions?.autodiff ?? gradientSkip) : undefined
  const checks: ConformanceCheck[] = []
  const compare = (what: string, actual: Float64Array, expected: ArrayLike<number>, skipped?: string) => {
    const finite = actual.every(Number.isFinite)
    checks.push({
      what,
      error: finite ? relativeError(actual, expected, NEGLIGIBLE) : Infinity,
      tolerance: backend.rtol,
      ...(skipped ? { skipped } : {}),
    })
  }
  await (backend.scope ?? ((fn) => fn()))(async () => {
    const loss = createLoss(backend.ops, c.spec, options)
    const { logits, labels } = batchOn(backend, c.logits, c.labels)
    const rows = rowsOn(backend.ops)
    const evaluation = loss.evaluate(logits, labels, rows)
    compare('loss', await backend.read(evaluation.loss), refEval.loss.data, lossSkip)
    compare('perturbed logits', await backend.read(evaluation.batch.logits), refEval.batch.logits.data, perturbedSkip)
    if (loss.hasClosedFormGradient) {
      const expected = ref.gradient(refBatch.logits, refBatch.labels, refRows).data
      compare('closed-form gradient', await backend.read(loss.gradient(logits, labels, rows)), expected, gradientSkip)
      if (backend.grad) {
        compare(
          'autodiff gradient = closed form',
          await backend.read(backend.grad((u) => loss(u, labels, rows), logits)),
          expected,
          autodiffSkip,
        )
      }
    } else if (backend.grad) {
      const expected = referenceFiniteDifference((u) => ref(u, refBatch.labels, refRows), c.logits)
      compare(
        'autodiff gradient = central difference',
        await backend.read(backend.grad((u) => loss(u, labels, rows), logits)),
        expected,
        gradientSkip,
      )
    }
  })
  return checks
}
