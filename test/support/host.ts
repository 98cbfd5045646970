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
