/** Rows `δ_{y_i}` of a host `[C, C]` matrix, `[N, C]` row-major. */
export function gatherHostRows(delta: Float64Array, labels: ArrayLike<number>, c: number): Float64Array {
  const out = new Float64Array(labels.length * c)
  for (let i = 0; i < labels.length; i++) out.set(delta.subarray(labels[i]! * c, (labels[i]! + 1) * c), i * c)
  return out
}

/** `Σ_{i: y_i = c} x_i` of a host `[N, C]` matrix, `[C, C]` row-major. */
export function hostClassSums(x: ArrayLike<number>, labels: ArrayLike<number>, c: number): Float64Array {
  const out = new Float64Array(c * c)
  for (let i = 0; i < labels.length; i++) {
    const row = labels[i]! * c
    for (let j = 0; j < c; j++) out[row + j]! += x[i * c + j]!
  }
  return out
}
