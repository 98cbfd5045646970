import { type Loss, type RefTensor, type RuleSpec, createLoss, referenceOps, ruleFacts } from '@logit-perturb/core'
import { centralDifferences, directionalDifferences } from './differences.js'
import { referenceInputs } from './referenceInputs.js'
import { type AuditBatch, type BatchResult, IGNORE_INDEX } from './types.js'

/**
 * The spec's side of an audit: its float64 reference on every batch, in order, on one loss (a
 * stateful rule's state moves as an implementation's would): the loss, the gradient w.r.t. the
 * logits (the closed form where the rule has one, else central differences of the loss), and the
 * directional differences of the probes. Probes and gradients are computed from the state before
 * the batch; then the batch's call is committed.
 */
export function specResults(spec: RuleSpec, batches: readonly AuditBatch[]): BatchResult[] {
  const loss = auditLoss(spec)
  return batches.map((batch) => specBatch(loss, batch))
}

/** The spec's float64 reference loss as the audit reads it: labels {@link IGNORE_INDEX} count for nothing. */
export function auditLoss(spec: RuleSpec): Loss<RefTensor> {
  return createLoss(referenceOps, spec, ruleFacts(spec).task === 'single' ? { ignoreIndex: IGNORE_INDEX } : {})
}

function specBatch(loss: Loss<RefTensor>, batch: AuditBatch): BatchResult {
  const { u, labels, ctx, at } = referenceInputs(batch)
  const lossAt = (x: Float64Array) => loss.evaluate(at(x), labels, ctx).loss.data[0]!
  const evaluation = loss.evaluate(at(u), labels, ctx)
  let gradient: number[]
  if (loss.hasClosedFormGradient) {
    // gradient() commits the batch's state: put back the state it started from.
    const before = loss.getState()
    gradient = Array.from(loss.gradient(at(u), labels, ctx).data)
    loss.setState(before)
  } else {
    gradient = centralDifferences(lossAt, u, batch.probe.h)
  }
  const probes = directionalDifferences(lossAt, u, batch.probe)
  loss.commit(evaluation)
  return { loss: evaluation.loss.data[0]!, gradient, probes }
}
