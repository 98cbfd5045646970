import type { AuditEvidence, Finding } from '../finding.js'
import { IGNORE_INDEX } from '../types.js'

/**
 * A constant factor: the implementation's loss and gradient are `k_b` times the spec's on every
 * batch `b`, with `k_b` the batch size `N` (a sum where the spec averages), `1/N` (the reverse), the
 * class count `C` or `1/C` (classes summed or averaged), or one number for every batch (a scale
 * missing or doubled).
 */
export function detectConstantFactor(e: AuditEvidence): Finding | undefined {
  const factors: { k: number; n: number }[] = []
  for (const [b, batch] of e.batches.entries()) {
    const s = e.specResults[b]!
    const i = e.impl.results[b]!
    const c = e.comparisons[b]!
    if (i.error !== undefined || !Number.isFinite(i.loss) || !Number.isFinite(s.loss) || Math.abs(s.loss) < 1e-6) continue
    const k = i.loss / s.loss
    const scale = Math.max(0, ...s.gradient.map(Math.abs))
    const gradientOff = Math.max(0, ...s.gradient.map((g, j) => Math.abs((i.gradient[j] ?? Number.NaN) - k * g)))
    if (!(gradientOff <= 10 * c.gradientTolerance * Math.abs(k) * (scale > 0 ? scale : 1))) return undefined
    // The rows that count: a mean divides by them, ignored labels left out.
    const counted = batch.task === 'single' ? (batch.labels as number[]).filter((y) => y !== IGNORE_INDEX).length : batch.logits.length
    factors.push({ k, n: counted })
  }
  if (factors.length < 2 || factors.every(({ k }) => Math.abs(k - 1) < 1e-4)) return undefined
  const c = e.batches[0]!.task === 'multi' ? e.batches[0]!.logits[0]!.length : undefined
  const near = (a: number, b: number) => Math.abs(a - b) <= 1e-4 * Math.abs(b)
  const all = (f: (n: number) => number) => factors.every(({ k, n }) => near(k, f(n)))
  const sizes = new Set(factors.map(({ n }) => n)).size > 1
  if (sizes && all((n) => n)) {
    return finding(
      'N',
      "the implementation sums over the batch where the spec averages: its loss and gradient are N times the spec's (N, the batch size)",
    )
  }
  if (sizes && all((n) => 1 / n)) {
    return finding('1/N', "the implementation averages over the batch where the spec sums: its loss and gradient are 1/N times the spec's")
  }
  if (c !== undefined && all(() => c)) {
    return finding(
      'C',
      `the implementation sums over the classes where the spec averages them: its loss and gradient are C = ${c} times the spec's`,
    )
  }
  if (c !== undefined && all(() => 1 / c)) {
    return finding(
      '1/C',
      `the implementation averages over the classes where the spec sums them: its loss and gradient are 1/C = 1/${c} times the spec's`,
    )
  }
  const k = factors[0]!.k
  if (all(() => k)) {
    return finding(
      String(round(k)),
      `the implementation's loss and gradient are ${round(k)} times the spec's on every batch: a scale missing or applied twice`,
    )
  }
  return undefined
}

function finding(factor: string, message: string): Finding {
  return { kind: 'constant-factor', severity: 'fault', factor, message }
}

/** Four significant digits. */
export function round(x: number): number {
  return Number(x.toPrecision(4))
}
