import type { RefTensor, RuleInput, RuleSpec } from '@logit-perturb/core'
import type { Equivalence, HostBatch } from '@logit-perturb/core/verify'
import { createLoss, parseSpec, referenceOps } from '@logit-perturb/core'
import { referenceBackend } from '@logit-perturb/core/verify'
import type { BatchCase } from '@logit-perturb/conformance'
import { expect } from 'vitest'
import { rows } from '../support/host.js'

/** The batch of a case as reference tensors. */
export function tensors(b: BatchCase): { logits: RefTensor; labels: RefTensor } {
  return {
    logits: referenceOps.constant(b.logits, [b.n, b.c]),
    labels: referenceOps.constant(b.labels, [b.n], 'int32'),
  }
}

/** The reference loss value of a spec on a case. */
export function lossOf(spec: RuleInput, b: BatchCase, ctx = {}): number {
  const { logits, labels } = tensors(b)
  return createLoss(referenceOps, spec)(logits, labels, ctx).data[0]!
}

/** The reference perturbed logits of a spec on a case. */
export function perturbedOf(spec: RuleInput, b: BatchCase): Float64Array {
  const { logits, labels } = tensors(b)
  return createLoss(referenceOps, spec).perturb(logits, labels).data
}

/** Per-class loss variation of a spec on a case. */
export function variationOf(spec: RuleInput, b: BatchCase): { delta: Float64Array; counts: Float64Array } {
  const { logits, labels } = tensors(b)
  const e = createLoss(referenceOps, spec).explain(logits, labels)
  return { delta: e.lossVariation.data, counts: e.classCounts.data }
}

/** fast-check run options: enough runs to find a wrong implementation, few enough for CI. */
export const RUNS = { numRuns: Number(process.env.PROPERTY_RUNS ?? 40) }

/** The batch of a case on the host, as the equivalences take it. */
export function hostBatch(b: BatchCase): HostBatch {
  return { logits: rows(b.logits, b.c), labels: b.labels }
}

/**
 * The largest violation of one of the core's equivalences (the ones `lpl verify` checks) by a spec
 * on a case, on the float64 reference; the equivalence must be one of the spec's rule.
 */
export async function violation<S extends RuleSpec, O>(
  property: Equivalence<S, O>,
  spec: RuleInput,
  b: BatchCase,
  options?: O,
): Promise<number> {
  const parsed = parseSpec(spec)
  if (!property.appliesTo(parsed, true)) throw new Error(`"${property.name}" is not a property of ${parsed.rule}`)
  return property.check(referenceBackend, parsed, hostBatch(b), options)
}

/** Asserts `actual` equals `expected` entry by entry to 1e-9, relative to `max(1, |expected|)`. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, what).toBe(expected.length)
  for (let k = 0; k < expected.length; k++) {
    const scale = Math.max(1, Math.abs(expected[k]!))
    expect(Math.abs(actual[k]! - expected[k]!) / scale, `${what}[${k}]: ${actual[k]} vs ${expected[k]}`).toBeLessThan(1e-9)
  }
}

/** A batch as plain rows, single- or multi-label. */
export interface RowBatch {
  n: number
  c: number
  logits: number[]
  /** Single-label: `[N]` class ids; multi-label: flat `[N, C]` 0/1 entries. */
  labels: number[]
  multi: boolean
}
