import type { AuditBatch, BatchResult } from './types.js'

/**
 * Relative tolerances of the audit's equivalence (docs/spec.md#13-auditing-an-implementation), by
 * the precision the implementation computed in. Each is also widened by the rounding of the logits'
 * magnitude, `8·ε·max|u|`: at `|u| = 10⁴` float32 resolves logit differences to about 10⁻³.
 */
export const AUDIT_TOLERANCE = {
  float64: { rtol: 1e-6, epsilon: 2 ** -52 },
  float32: { rtol: 2e-4, epsilon: 2 ** -23 },
} as const

/** How far one batch's implementation is from the spec, each error over its tolerance. */
export interface BatchComparison {
  batch: string
  /** `|L_impl − L_spec| / max(1, |L_spec|)`. */
  lossError: number
  /** `max |g_impl − g_spec| / max(max |g_spec|, 10⁻³/N)`. */
  gradientError: number
  /** The tolerances of the two errors on this batch. */
  lossTolerance: number
  gradientTolerance: number
  /** Whether the spec's values are finite and the implementation's are not. */
  notFinite: boolean
  /** The implementation's error on this batch, if its call failed. */
  failed?: string
}

/** The comparison of one batch. */
export function compareBatch(
  batch: AuditBatch,
  spec: BatchResult,
  impl: BatchResult,
  dtype: keyof typeof AUDIT_TOLERANCE,
): BatchComparison {
  const { rtol, epsilon } = AUDIT_TOLERANCE[dtype]
  const largest = Math.max(1, ...batch.logits.flat().map(Math.abs))
  const widen = 8 * epsilon * largest
  const specFinite = Number.isFinite(spec.loss) && spec.gradient.every(Number.isFinite)
  const implFinite = Number.isFinite(impl.loss) && impl.gradient.length === spec.gradient.length && impl.gradient.every(Number.isFinite)
  // Relative to the largest entry of the spec's gradient, but never to less than 10⁻³/N: a batch of
  // confident rows has entries near 0, where only absolute differences mean anything.
  const gScale = Math.max(...spec.gradient.map(Math.abs), 1e-3 / batch.logits.length)
  const lossError = Math.abs(impl.loss - spec.loss) / Math.max(1, Math.abs(spec.loss))
  const gradientError =
    impl.gradient.length === spec.gradient.length
      ? Math.max(0, ...spec.gradient.map((g, k) => Math.abs(impl.gradient[k]! - g))) / gScale
      : Number.POSITIVE_INFINITY
  return {
    batch: batch.name,
    lossError: Number.isNaN(lossError) ? Number.POSITIVE_INFINITY : lossError,
    gradientError: Number.isNaN(gradientError) ? Number.POSITIVE_INFINITY : gradientError,
    lossTolerance: rtol + widen,
    gradientTolerance: rtol + widen,
    notFinite: specFinite && !implFinite,
    ...(impl.error === undefined ? {} : { failed: impl.error }),
  }
}

/** Whether a batch's loss and gradient are within tolerance. */
export function agrees(c: BatchComparison): boolean {
  return !c.notFinite && c.failed === undefined && c.lossError <= c.lossTolerance && c.gradientError <= c.gradientTolerance
}
