import type { TensorOps } from '../../ops.js'
import { repeat } from '../../control.js'
import { type CountedRows, classCounts, classSums } from '../classSums.js'
import { officialStep } from './officialStep.js'

/** Inputs of {@link officialLongtailSearch}; per-class tensors are `[C, 1]`. */
export interface OfficialSearchInputs<T> {
  /** Logits the search starts from, `[N, C]`. */
  logits: T
  /** The one-hot matrix of the labels, `[N, C]` (all zeros in masked-out rows). */
  labelMatrix: T
  /** Labels, the class count and the rows that count. */
  rows: CountedRows<T>
  /** `k_c`, the clamped 0-based step whose perturbation class `c`'s samples take. */
  stepOf: T
  /** `s_c·α`: `−α` for head classes, `+α` for the rest. */
  signedAlpha: T
  /** `K`, the number of steps. */
  steps: number
}

/**
 * The released long-tail code's search (docs/spec.md#4b-the-released-code): `δ⁰ = 0`, then `K`
 * steps `δ^{k+1} = δ^k + s ⊙ D(z + δ^k_y)` with `D` the step direction of {@link officialStep};
 * row `c` of the result is `δ^{k_c + 1}_c`. Returns that selection, `[C, C]`. Cost per step: one
 * softmax over the batch, a segment sum and `O(C²)` element-wise work (the class counts are taken
 * once, before the steps: one sum across workers per step); memory: one step's tensors
 * on backends with a scoped `loop`.
 */
export function officialLongtailSearch<T>(ops: TensorOps<T>, inp: OfficialSearchInputs<T>): T {
  const c = inp.rows.numClasses
  const zero = ops.constant(new Float64Array(c * c), [c, c])
  const counts = classCounts(ops, inp.labelMatrix, inp.rows)
  const [, selected] = repeat(ops, inp.steps, [zero, zero], (_, [delta, chosen], k) => {
    const next = ops.add(
      delta!,
      ops.mul(inp.signedAlpha, officialStep(ops, shifted(ops, inp, delta!), inp.labelMatrix, inp.rows, counts).direction),
    )
    return [next, ops.where(ops.equal(inp.stepOf, k), next, chosen!)]
  })
  return selected!
}

/**
 * The vector–Jacobian product of {@link officialLongtailSearch}: `∂L/∂z` (`[N, C]`) from
 * `upstream = ∂L/∂δ_selected` (`[C, C]`), by a hand-written reverse pass. The forward is run again
 * keeping each step's logits `u_k` (`K` tensors `[N, C]`); then, from `Λ = 0`, for
 * `k = K − 1 … 0`, with `G = M − I`, `r_b = max(‖G[:, b]‖, 1e-15)` and `D[a, :] = G[a, :]/r_a`:
 *
 *     Λ_c += upstream_c                         (classes with k_c = k)
 *     W    = s ⊙ Λ;   t_b = Σ_j W_bj G_bj
 *     Ḡ_ab = W_ab/r_a − G_ab·t_b/r_b³           (the second term only where r_b was not floored)
 *     ū_i  = p_i ⊙ (P̄_i − p_i·P̄_i),  P̄_i = Ḡ_{y_i}/n_{y_i}   (zero for masked rows)
 *     ∂L/∂z_i += ū_i;   Λ_c += Σ_{i: y_i = c} ū_i
 *
 * Cost: twice the forward's ops; memory `K·N·C`.
 */
export function officialLongtailSearchVjp<T>(ops: TensorOps<T>, inp: OfficialSearchInputs<T>, upstream: T): T {
  const c = inp.rows.numClasses
  const zero = ops.constant(new Float64Array(c * c), [c, c])
  const counts = classCounts(ops, inp.labelMatrix, inp.rows)
  const trajectory = repeat(ops, inp.steps, [zero], (_, [delta, ...kept]) => {
    const u = shifted(ops, inp, delta!)
    const next = ops.add(delta!, ops.mul(inp.signedAlpha, officialStep(ops, u, inp.labelMatrix, inp.rows, counts).direction))
    return [next, ...kept, u]
  }).slice(1)
  const safeCounts = ops.reshape(ops.where(ops.equal(counts, ops.constant([0], [])), ops.constant([100], []), counts), [c, 1])
  const floor = ops.constant([1e-15], [])
  const [gradient] = repeat(ops, inp.steps, [ops.mul(inp.logits, ops.constant([0], [])), zero], (r, [dz, adjoint]) => {
    const k = inp.steps - 1 - r
    const u = trajectory[k]!
    const probs = ops.softmax(u)
    const lambda = ops.add(adjoint!, ops.mul(ops.equal(inp.stepOf, ops.constant([k], [])), upstream))
    const step = officialStep(ops, u, inp.labelMatrix, inp.rows, counts)
    const g = step.g
    const w = ops.mul(inp.signedAlpha, lambda)
    const t = ops.sum(ops.mul(w, g), [1])
    const free = ops.greater(step.columnNorms, floor)
    const cubed = ops.mul(step.columnNorms, ops.mul(step.columnNorms, step.columnNorms))
    const columnTerm = ops.reshape(ops.div(ops.mul(free, t), cubed), [1, c])
    const gBar = ops.sub(ops.div(w, ops.reshape(step.columnNorms, [c, 1])), ops.mul(g, columnTerm))
    const sampleBar = ops.gather(ops.div(gBar, safeCounts), inp.rows.labels, 0)
    let uBar = ops.mul(probs, ops.sub(sampleBar, ops.sum(ops.mul(probs, sampleBar), [1], true)))
    if (inp.rows.rowMask !== undefined) uBar = ops.mul(uBar, inp.rows.rowMask)
    return [ops.add(dz!, uBar), ops.add(lambda, classSums(ops, uBar, { ...inp.rows, rowMask: undefined }))]
  })
  return gradient!
}

/** `z + δ_y`. */
function shifted<T>(ops: TensorOps<T>, inp: OfficialSearchInputs<T>, delta: T): T {
  return ops.add(inp.logits, ops.gather(delta, inp.rows.labels, 0))
}
