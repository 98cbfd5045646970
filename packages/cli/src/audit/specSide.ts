import { type Loss, type LossContext, type RefTensor, type RuleSpec, createLoss, referenceOps, ruleFacts } from '@logit-perturb/core'
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
  const n = batch.logits.length
  const width = batch.logits[0]!.length
  const u = Float64Array.from(batch.logits.flat())
  const labels =
    batch.task === 'multi'
      ? referenceOps.constant((batch.labels as number[][]).flat(), [n, width])
      : referenceOps.constant(batch.labels as number[], [n], 'int32')
  const ctx: LossContext<RefTensor> = {
    training: true,
    ...(batch.epoch === undefined ? {} : { epoch: batch.epoch }),
    ...(batch.noise === undefined ? {} : { noise: referenceOps.constant(batch.noise.flat(), [n, width]) }),
  }
  const at = (x: Float64Array) => loss.evaluate(referenceOps.constant(x, [n, width]), labels, ctx).loss.data[0]!
  const evaluation = loss.evaluate(referenceOps.constant(u, [n, width]), labels, ctx)
  const value = evaluation.loss.data[0]!
  let gradient: number[]
  if (loss.hasClosedFormGradient) {
    // gradient() commits the batch's state: put back the state it started from.
    const before = loss.getState()
    gradient = Array.from(loss.gradient(referenceOps.constant(u, [n, width]), labels, ctx).data)
    loss.setState(before)
  } else {
    const h = batch.probe.h
    gradient = Array.from(u, (_, k) => (at(moved(u, k, h)) - at(moved(u, k, -h))) / (2 * h))
  }
  const probes = directionalDifferences(at, u, batch.probe)
  loss.commit(evaluation)
  return { loss: value, gradient, probes }
}

/** `(f(u + h·v) − f(u − h·v)) / 2h` for each direction `v` of the probe. */
export function directionalDifferences(f: (x: Float64Array) => number, u: Float64Array, probe: AuditBatch['probe']): number[] {
  return probe.directions.map((v) => {
    const plus = Float64Array.from(u, (x, k) => x + probe.h * v[k]!)
    const minus = Float64Array.from(u, (x, k) => x - probe.h * v[k]!)
    return (f(plus) - f(minus)) / (2 * probe.h)
  })
}

function moved(x: Float64Array, k: number, d: number): Float64Array {
  const out = Float64Array.from(x)
  out[k]! += d
  return out
}
