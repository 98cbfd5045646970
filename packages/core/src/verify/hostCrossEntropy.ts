/**
 * `Σ_i w_{y_i} CE(z_i, y_i) / Σ_i w_{y_i}` on the host, from flat `[N, C]` logits (plain mean
 * without weights): the loss a single-label rule must give on its perturbed logits, computed apart
 * from the rule's own code.
 */
export function hostWeightedCe(z: Float64Array, c: number, labels: readonly number[], weights?: Float64Array): number {
  let total = 0
  let weightSum = 0
  labels.forEach((y, i) => {
    const row = z.subarray(i * c, (i + 1) * c)
    const m = Math.max(...row)
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0))
    const w = weights ? weights[y]! : 1
    total += w * (lse - row[y]!)
    weightSum += w
  })
  return total / weightSum
}
