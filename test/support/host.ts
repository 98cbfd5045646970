/**
 * Plain-loop float64 cross-entropy, written independently of the core, for tests to compare with.
 */

/** Rows of a flat `[N, C]` array. */
export function rows(flat: ArrayLike<number>, c: number): number[][] {
  const out: number[][] = []
  for (let i = 0; i < flat.length; i += c) out.push(Array.from({ length: c }, (_, j) => flat[i + j]!))
  return out
}

/** `log Σ exp(row)`, max-shifted. */
export function lse(row: readonly number[]): number {
  const m = Math.max(...row)
  return m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0))
}

/** Per-sample `CE(z_i, y_i)`. */
export function ceRows(z: readonly (readonly number[])[], labels: readonly number[]): number[] {
  return z.map((row, i) => lse(row as number[]) - row[labels[i]!]!)
}

/** `Σ w_{y_i} CE_i / Σ w_{y_i}`, or the plain mean without weights. */
export function weightedCe(z: readonly (readonly number[])[], labels: readonly number[], weights?: readonly number[]): number {
  const ce = ceRows(z, labels)
  const w = labels.map((y) => (weights ? weights[y]! : 1))
  return ce.reduce((s, v, i) => s + v * w[i]!, 0) / w.reduce((a, b) => a + b, 0)
}

/** `|a − b| ≤ rtol · max(|a|, |b|, 1)`. */
export function close(a: number, b: number, rtol = 1e-9): boolean {
  return Math.abs(a - b) <= rtol * Math.max(Math.abs(a), Math.abs(b), 1)
}

/** Counts with zeros read as the smallest positive count, as the library documents. */
export function smoothed(counts: readonly number[]): number[] {
  const floor = Math.min(...counts.filter((n) => n > 0))
  return counts.map((n) => (n > 0 ? n : floor))
}

/** `mean_{i,c} w_ic·(softplus(z_ic) − y_ic·z_ic)` over flat `[N, C]` arrays (weights default 1). */
export function meanBce(z: ArrayLike<number>, y: ArrayLike<number>, weights?: ArrayLike<number>): number {
  let total = 0
  for (let k = 0; k < z.length; k++) total += (weights ? weights[k]! : 1) * (softplus(z[k]!) - y[k]! * z[k]!)
  return total / z.length
}

/** `log(1 + e^x)`, stable. */
export function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)))
}

/**
 * Multi-label priors as the library documents them: `n_c / numSamples`, with counts clamped into
 * `[smallest positive count, numSamples − smallest positive number of negatives]`.
 */
export function clampedPriors(counts: readonly number[], numSamples: number): number[] {
  const low = Math.min(...counts.filter((n) => n > 0))
  const high = numSamples - Math.min(...counts.map((n) => numSamples - n).filter((m) => m > 0))
  return counts.map((n) => Math.min(Math.max(n, low), high) / numSamples)
}
