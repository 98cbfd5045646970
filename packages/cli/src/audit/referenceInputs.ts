import { type LossContext, type RefTensor, referenceOps } from '@logit-perturb/core'
import type { AuditBatch } from './types.js'

/**
 * Rows `[start, end)` of an audit batch as the float64 reference takes them: the labels (class ids
 * int32 `[n]`, or a 0/1 matrix `[n, W]`) and the context of a training call (the batch's epoch and
 * noise); `at(x)` makes logits `[n, W]` of flat values.
 */
export function referenceInputs(batch: AuditBatch, start = 0, end = batch.logits.length) {
  const rows = batch.logits.slice(start, end)
  const n = rows.length
  const width = batch.logits[0]!.length
  const labels =
    batch.task === 'multi'
      ? referenceOps.constant((batch.labels as number[][]).slice(start, end).flat(), [n, width])
      : referenceOps.constant((batch.labels as number[]).slice(start, end), [n], 'int32')
  const ctx: LossContext<RefTensor> = {
    training: true,
    ...(batch.epoch === undefined ? {} : { epoch: batch.epoch }),
    ...(batch.noise === undefined ? {} : { noise: referenceOps.constant(batch.noise.slice(start, end).flat(), [n, width]) }),
  }
  return { u: Float64Array.from(rows.flat()), labels, ctx, at: (x: ArrayLike<number>) => referenceOps.constant(x, [n, width]) }
}
