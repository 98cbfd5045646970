import type { Loss, RefTensor, RuleSpec } from '@logit-perturb/core'
import { parseSpecUnbounded } from '@logit-perturb/core/verify'
import { agrees, compareBatch } from '../compare.js'
import type { AuditEvidence, Finding } from '../finding.js'
import { referenceInputs } from '../referenceInputs.js'
import { auditLoss, specResults } from '../specSide.js'
import type { AuditBatch } from '../types.js'
import { round } from './constantFactor.js'

/** Fields that fix the problem, not the formula: never fitted. */
const NOT_FITTED = new Set(['version', 'numClasses', 'numSamples'])

/**
 * A parameter that explains the difference: for each numeric field of the spec (its base's too),
 * the value that brings the spec's losses closest to the implementation's (a grid around the spec's
 * value, its sign flipped included, then a golden-section search), kept when the spec at that value
 * is equivalent to the implementation on every batch. `sign-flipped` when the value has the opposite
 * sign of the spec's (exactly `−t`, or scaled). The first field that explains it is reported.
 */
export function detectParameter(e: AuditEvidence): Finding | undefined {
  const implLosses = e.impl.results.map((r) => r.loss)
  if (!implLosses.every(Number.isFinite)) return undefined
  for (const [path, t] of numericFields(e.spec)) {
    const at = (v: number) => withField(e.spec, path, v)
    const misfit = (v: number) => {
      const spec = at(v)
      if (spec === undefined) return Number.POSITIVE_INFINITY
      const losses = specLosses(spec, e.batches)
      return losses.reduce((sum, l, b) => sum + ((l - implLosses[b]!) / Math.max(1, Math.abs(implLosses[b]!))) ** 2, 0)
    }
    const integer = Number.isInteger(t) && at(t + 0.5) === undefined
    const best = integer ? bestInteger(misfit, t) : bestReal(misfit, t)
    if (best === undefined || Math.abs(best - t) <= 1e-6 * Math.max(1, Math.abs(t))) continue
    const spec = at(best)!
    const fitted = specResults(spec, e.batches)
    const equivalent = e.batches.every((batch, b) => agrees(compareBatch(batch, fitted[b]!, e.impl.results[b]!, e.impl.dtype)))
    if (!equivalent) continue
    const value = integer ? best : round(best)
    if (t !== 0 && Math.sign(best) === -Math.sign(t)) {
      // The opposite sign: exactly −t, or −t scaled (the released distribution-balanced code's −κ/λ).
      const exact = Math.abs(best + t) <= 1e-3 * Math.abs(t)
      const ratio = round(-best / t)
      return {
        kind: 'sign-flipped',
        severity: 'fault',
        field: path,
        specValue: t,
        value: exact ? -t : value,
        message: `the sign of ${path} is flipped: the implementation is the spec with ${path} = ${exact ? -t : value} (the spec has ${t}${exact ? '' : `: the opposite sign, scaled by ${ratio}`})`,
      }
    }
    return {
      kind: 'parameter',
      severity: 'fault',
      field: path,
      specValue: t,
      value,
      message: `the implementation is the spec with ${path} = ${value} (the spec has ${t})`,
    }
  }
  return undefined
}

/** The numeric fields of a spec and of its base, as paths (`tau`, `base.tau`) with their values. */
function numericFields(spec: RuleSpec): [string, number][] {
  const out: [string, number][] = []
  const visit = (object: Record<string, unknown>, prefix: string) => {
    for (const [key, value] of Object.entries(object)) {
      if (NOT_FITTED.has(key)) continue
      if (typeof value === 'number') out.push([prefix + key, value])
      else if (key === 'base' && typeof value === 'object' && value !== null) visit(value as Record<string, unknown>, `${prefix}${key}.`)
    }
  }
  visit(spec as unknown as Record<string, unknown>, '')
  return out
}

/** The spec with one field set, read without the field's range; undefined where it does not parse. */
function withField(spec: RuleSpec, path: string, value: number): RuleSpec | undefined {
  const copy = structuredClone(spec) as unknown as Record<string, Record<string, unknown>>
  const [first, second] = path.split('.') as [string, string | undefined]
  if (second === undefined) (copy as Record<string, unknown>)[first] = value
  else copy[first]![second] = value
  try {
    return parseSpecUnbounded(copy, [path])
  } catch {
    return undefined
  }
}

/** The spec's losses on the batches in order (a stateful rule's state moving), or NaN where it fails. */
function specLosses(spec: RuleSpec, batches: readonly AuditBatch[]): number[] {
  let loss: Loss<RefTensor>
  try {
    loss = auditLoss(spec)
  } catch {
    return batches.map(() => Number.NaN)
  }
  return batches.map((batch) => {
    const { u, labels, ctx, at } = referenceInputs(batch)
    try {
      const evaluation = loss.evaluate(at(u), labels, ctx)
      loss.commit(evaluation)
      return evaluation.loss.data[0]!
    } catch {
      return Number.NaN
    }
  })
}

/** The best of a grid around `t` (its sign flipped, zero, fractions and multiples), refined by golden sections. */
function bestReal(misfit: (v: number) => number, t: number): number | undefined {
  const base = t === 0 ? 1 : Math.abs(t)
  const grid = [...new Set([-4, -2, -1, -0.5, -0.25, 0, 0.1, 0.25, 0.5, 0.75, 1.25, 1.5, 2, 3, 4, 8, 16].map((f) => f * base))]
    .concat(t === 0 ? [] : [-t])
    .sort((a, b) => a - b)
  const scores = grid.map((v) => misfit(v)).map((s) => (Number.isNaN(s) ? Number.POSITIVE_INFINITY : s))
  const k = scores.indexOf(Math.min(...scores))
  if (!Number.isFinite(scores[k]!)) return undefined
  if (scores[k] === 0) return grid[k]
  let low = grid[Math.max(0, k - 1)]!
  let high = grid[Math.min(grid.length - 1, k + 1)]!
  const ratio = (Math.sqrt(5) - 1) / 2
  for (let step = 0; step < 40; step++) {
    const a = high - ratio * (high - low)
    const b = low + ratio * (high - low)
    if (misfit(a) < misfit(b)) high = b
    else low = a
  }
  const refined = (low + high) / 2
  // A grid point that matches exactly (a sign flipped, a factor of 2) beats the refined value's rounding.
  return misfit(refined) < scores[k]! ? refined : grid[k]
}

/** The best integer within 16 of `t`, and `−t`. */
function bestInteger(misfit: (v: number) => number, t: number): number | undefined {
  const candidates = [...new Set([...Array.from({ length: 33 }, (_, k) => t - 16 + k), -t])]
  const scores = candidates.map((v) => misfit(v)).map((s) => (Number.isNaN(s) ? Number.POSITIVE_INFINITY : s))
  const k = scores.indexOf(Math.min(...scores))
  return Number.isFinite(scores[k]!) ? candidates[k] : undefined
}
