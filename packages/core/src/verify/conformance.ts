import { closedFormGradient, createLoss } from '../loss.js'
import { referenceOps } from '../reference/ops.js'
import type { RefTensor } from '../reference/tensor.js'
import type { TensorOps } from '../ops.js'
import type { Reduction } from '../reduction.js'
import type { BatchInputField, LossContext } from '../rules/types.js'
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
  /**
   * The rule's batch inputs (`[N][C]` each, by context field: GCL's `noise`) passed in the call's
   * context, so that a training call draws nothing and every backend sees the same values.
   */
  batchInputs?: Partial<Record<BatchInputField, number[][]>>
  /** Quantities left out of the comparison on float32 backends, each with its reason. */
  float32Exceptions?: Partial<Record<'loss' | 'gradient' | 'perturbed' | 'autodiff', string>>
  /**
   * Quantities left out of the comparison on float64 backends other than the reference (a PyTorch
   * module run in float64), each with its reason: where float64 itself is at its rounding limit.
   */
  float64Exceptions?: Partial<Record<'loss' | 'autodiff', string>>
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
 * The accuracy of the reference's central differences (the fourth-order stencil with step 1e-4)
 * on the conformance cases: about 1e-8 relative at logits of magnitude 3, but at magnitude 1e4 the
 * rounding of a loss of that size over the step, `ε·|L|/h`, reaches a few 1e-6 (7.3e-6 measured on
 * multi-label LPL through its search). A float64 backend's autodiff is held to this against them,
 * not to its own tolerance.
 */
export const CENTRAL_DIFFERENCE_RTOL = 1e-5

/**
 * Central differences of a reference loss in float64 (the ground truth of through-gradients), by
 * the fourth-order stencil `(8(f(x+h) − f(x−h)) − (f(x+2h) − f(x−2h)))/12h` with `h = 1e-4`; of
 * the sum of its entries for the per-sample losses of `reduction: 'none'`, which is what automatic
 * differentiation of a vector differentiates.
 */
function referenceFiniteDifference(f: (u: RefTensor) => RefTensor, logits: number[][], h = 1e-4): Float64Array {
  const flat = logits.flat()
  const shape = [logits.length, logits[0]!.length]
  const at = (k: number, d: number) =>
    f(
      referenceOps.constant(
        flat.map((v, j) => (j === k ? v + d : v)),
        shape,
      ),
    ).data.reduce((a, v) => a + v, 0)
  // The fourth-order stencil: truncation O(h⁴), so a step large enough to keep rounding small.
  return Float64Array.from(flat, (_, k) => (8 * (at(k, h) - at(k, -h)) - (at(k, 2 * h) - at(k, -2 * h))) / (12 * h))
}

/** The float64 reference's values for a case: what every backend is compared with. */
export interface ConformanceExpectation {
  /** The loss (a scalar, or `[N]` for `reduction: 'none'`). */
  loss: Float64Array
  /** The perturbed logits, `[N, C]` flat. */
  perturbed: Float64Array
  /** The closed-form gradient, for rules with one. */
  gradient: Float64Array | undefined
  /**
   * What automatic differentiation of the loss's sum must give: the closed form for stop-gradient
   * rules, a float64 central difference for through-gradient rules (computed on first use).
   */
  autodiff(): Float64Array
}

/** The reference's values for a case (see {@link ConformanceExpectation}). */
export function conformanceExpectation(c: ConformanceCase): ConformanceExpectation {
  const ref = createLoss(referenceOps, c.spec, c.reduction === undefined ? {} : { reduction: c.reduction })
  const { logits, labels } = batchOn({ ops: referenceOps } as Backend<RefTensor>, c.logits, c.labels)
  const rows = caseContext(referenceOps, c)
  const evaluation = ref.evaluate(logits, labels, rows)
  // From the evaluation itself: `ref.gradient` would commit the state of a stateful rule.
  const gradient = ref.hasClosedFormGradient ? closedFormGradient(referenceOps, evaluation).data : undefined
  let difference: Float64Array | undefined
  return {
    loss: evaluation.loss.data,
    perturbed: evaluation.batch.logits.data,
    gradient,
    autodiff: () => {
      // `evaluate` commits no state: every point of the difference sees the rule as the others do.
      difference ??= gradient ?? referenceFiniteDifference((u) => ref.evaluate(u, labels, rows).loss, c.logits)
      return difference
    },
  }
}

/** What a backend computed for a case; the gradients where it has them. */
export interface ConformanceValues {
  /** The loss (a scalar, or `[N]` for `reduction: 'none'`). */
  loss: Float64Array
  /** The perturbed logits, `[N, C]` flat. */
  perturbed: Float64Array
  /** The closed-form gradient (rules with one). */
  gradient?: Float64Array | undefined
  /** Automatic differentiation of the loss's sum w.r.t. the logits. */
  autodiff?: Float64Array | undefined
}

/**
 * Compares what a backend computed for a case with the reference, at relative tolerance `rtol`
 * (values below 1e-30 count as zero), leaving out what the case's `float32Exceptions` name on
 * float32 backends (`rtol > 1e-6`) and its `float64Exceptions` elsewhere. Autodiff against a
 * central difference is held to at most {@link CENTRAL_DIFFERENCE_RTOL}, the difference's own
 * accuracy. A non-finite value has error Infinity.
 */
export function compareConformance(
  c: ConformanceCase,
  expected: ConformanceExpectation,
  actual: ConformanceValues,
  rtol: number,
): ConformanceCheck[] {
  const float32 = rtol > 1e-6
  const gradientSkip = float32 ? c.float32Exceptions?.gradient : undefined
  const autodiffSkip = float32 ? (c.float32Exceptions?.autodiff ?? gradientSkip) : c.float64Exceptions?.autodiff
  const lossSkip = float32 ? c.float32Exceptions?.loss : c.float64Exceptions?.loss
  const checks: ConformanceCheck[] = []
  const compare = (what: string, value: Float64Array, reference: ArrayLike<number>, skipped?: string, tolerance = rtol) => {
    const finite = value.every(Number.isFinite)
    checks.push({
      what,
      error: finite ? relativeError(value, reference, NEGLIGIBLE) : Infinity,
      tolerance,
      ...(skipped ? { skipped } : {}),
    })
  }
  compare('loss', actual.loss, expected.loss, lossSkip)
  compare('perturbed logits', actual.perturbed, expected.perturbed, float32 ? c.float32Exceptions?.perturbed : undefined)
  if (expected.gradient !== undefined && actual.gradient !== undefined) {
    compare('closed-form gradient', actual.gradient, expected.gradient, gradientSkip)
  }
  if (actual.autodiff !== undefined) {
    const closed = expected.gradient !== undefined
    compare(
      closed ? 'autodiff gradient = closed form' : 'autodiff gradient = central difference',
      actual.autodiff,
      expected.autodiff(),
      closed ? autodiffSkip : gradientSkip,
      closed ? rtol : Math.max(rtol, CENTRAL_DIFFERENCE_RTOL),
    )
  }
  return checks
}

/**
 * The context of a case's calls on a backend: its sample weights, mask and batch inputs (GCL's
 * `noise`) as tensors, so that a training call draws nothing and every backend sees the same values.
 */
export function caseContext<U>(ops: TensorOps<U>, c: ConformanceCase): LossContext<U> {
  return {
    ...Object.fromEntries(
      Object.entries(c.batchInputs ?? {}).map(([field, rows]) => [field, ops.constant(rows.flat(), [rows.length, rows[0]?.length ?? 0])]),
    ),
    ...(c.sampleWeight === undefined ? {} : { sampleWeight: ops.constant(c.sampleWeight, [c.sampleWeight.length]) }),
    ...(c.mask === undefined ? {} : { mask: ops.constant(c.mask, [c.mask.length]) }),
  }
}

/**
 * Runs one case on a backend and compares it with the float64 reference: the loss, the perturbed
 * logits, the closed-form gradient where the rule has one, and on backends with automatic
 * differentiation the autodiff gradient, which must equal the closed form for stop-gradient rules
 * and a float64 central difference of the loss for through-gradient rules. The values are also
 * checked to be finite.
 */
export async function checkConformance<T>(backend: Backend<T>, c: ConformanceCase): Promise<ConformanceCheck[]> {
  const expected = conformanceExpectation(c)
  return (backend.scope ?? ((fn) => fn()))(async () => {
    // A fresh loss per quantity: a stateful rule (seesaw's counts) moves its state with each call
    // that commits, and every quantity must see the state the reference saw.
    const fresh = () => createLoss(backend.ops, c.spec, c.reduction === undefined ? {} : { reduction: c.reduction })
    const loss = fresh()
    const { logits, labels } = batchOn(backend, c.logits, c.labels)
    const rows = caseContext(backend.ops, c)
    const evaluation = loss.evaluate(logits, labels, rows)
    const values: ConformanceValues = {
      loss: await backend.read(evaluation.loss),
      perturbed: await backend.read(evaluation.batch.logits),
    }
    if (loss.hasClosedFormGradient) values.gradient = await backend.read(fresh().gradient(logits, labels, rows))
    if (backend.grad) {
      const differentiated = fresh()
      values.autodiff = await backend.read(backend.grad((u) => differentiated.evaluate(u, labels, rows).loss, logits))
    }
    return compareConformance(c, expected, values, backend.rtol)
  })
}
