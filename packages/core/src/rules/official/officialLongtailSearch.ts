import type { TensorOps } from '../../ops.js'
import { repeat } from '../../control.js'
import type { CountedRows } from '../classSums.js'
import { type ClassSlots, perSlot, slotSums, slotZeros, slotsToClasses } from '../classSlots.js'
import { officialStep } from './officialStep.js'

/** Inputs of {@link officialLongtailSearch}; per-class tensors are `[C, 1]`. */
export interface OfficialSearchInputs<T> {
  /** Logits the search starts from, `[N, C]`. */
  logits: T
  /** Labels, the class count and the rows that count. */
  rows: CountedRows<T>
  /** The slots of the classes present (`classSlots`, from the counted rows' class counts). */
  slots: ClassSlots<T>
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
 * row `c` of the result is `δ^{k_c + 1}_c`. Returns that selection for the classes present,
 * `[P, C]` by slot (`classSlots`). Cost per step: one softmax over the batch, a segment sum and
 * `O(P·C)` element-wise work (the class counts are taken once, before the steps: one sum across
 * workers per step); memory: one step's tensors on backends with a scoped `loop`.
 */
export function officialLongtailSearch<T>(ops: TensorOps<T>, inp: OfficialSearchInputs<T>): T {
  const c = inp.rows.numClasses
  const zero = slotZeros(ops, inp.slots, c)
  const stepOf = perSlot(ops, inp.stepOf, inp.slots)
  const signedAlpha = perSlot(ops, inp.signedAlpha, inp.slots)
  const [, selected] = repeat(ops, inp.steps, [zero, zero], (_, [delta, chosen], k) => {
    const next = ops.add(delta!, ops.mul(signedAlpha, officialStep(ops, shifted(ops, inp, delta!), inp.rows, inp.slots, c).direction))
    return [next, ops.where(ops.equal(stepOf, k), next, chosen!)]
  })
  return selected!
}

/**
 * The vector–Jacobian product of {@link officialLongtailSearch}: `∂L/∂z` (`[N, C]`) from
 * `upstream = ∂L/∂δ_selected` (`[P, C]` by slot), by a hand-written reverse pass. The forward is
 * run again keeping each step's logits `u_k` (`K` tensors `[N, C]`); then, from `Λ = 0`, for
 * `k = K − 1 … 0`, with `G = M − I`, `r_b = max(‖G[:, b]‖, 1e-15)` and `D[a, :] = G[a, :]/r_a`:
 *
 *     Λ_c += upstream_c                         (classes with k_c = k)
 *     W    = s ⊙ Λ;   t_b = Σ_j W_bj G_bj
 *     Ḡ_ab = W_ab/r_a − G_ab·t_b/r_b³           (the second term only where r_b was not floored)
 *     ū_i  = p_i ⊙ (P̄_i − p_i·P̄_i),  P̄_i = Ḡ_{y_i}/n_{y_i}   (zero for masked rows)
 *     ∂L/∂z_i += ū_i;   Λ_c += Σ_{i: y_i = c} ū_i
 *
 * Rows `a` run over the classes present only: an absent class has `Λ = 0`, so `W` and `t` are 0
 * there. Cost: twice the forward's ops; memory `K·N·C`.
 */
export function officialLongtailSearchVjp<T>(ops: TensorOps<T>, inp: OfficialSearchInputs<T>, upstream: T): T {
  const c = inp.rows.numClasses
  const zero = slotZeros(ops, inp.slots, c)
  const stepOf = perSlot(ops, inp.stepOf, inp.slots)
  const signedAlpha = perSlot(ops, inp.signedAlpha, inp.slots)
  const trajectory = repeat(ops, inp.steps, [zero], (_, [delta, ...kept]) => {
    const u = shifted(ops, inp, delta!)
    const next = ops.add(delta!, ops.mul(signedAlpha, officialStep(ops, u, inp.rows, inp.slots, c).direction))
    return [next, ...kept, u]
  }).slice(1)
  const floor = ops.constant([1e-15], [])
  // The sum starts from the first reverse step's term, not from `[N, C]` zeros (one array fewer
  // alive at the peak); `K ≥ 1`.
  const [gradient] = repeat(ops, inp.steps, [ops.constant([0], []), zero], (r, [dz, adjoint]) => {
    const k = inp.steps - 1 - r
    const u = trajectory[k]!
    const probs = ops.softmax(u)
    const lambda = ops.add(adjoint!, ops.mul(ops.equal(stepOf, ops.constant([k], [])), upstream))
    const step = officialStep(ops, u, inp.rows, inp.slots, c)
    const g = step.g
    const w = ops.mul(signedAlpha, lambda)
    const t = slotsToClasses(ops, ops.sum(ops.mul(w, g), [1]), inp.slots)
    const free = ops.greater(step.columnNorms, floor)
    const cubed = ops.mul(step.columnNorms, ops.mul(step.columnNorms, step.columnNorms))
    const columnTerm = ops.reshape(ops.div(ops.mul(free, t), cubed), [1, c])
    const gBar = ops.sub(ops.div(w, step.rowNorms), ops.mul(g, columnTerm))
    const sampleBar = ops.gather(ops.div(gBar, step.slotCounts), inp.slots.rows, 0)
    let uBar = ops.mul(probs, ops.sub(sampleBar, ops.sum(ops.mul(probs, sampleBar), [1], true)))
    if (inp.rows.rowMask !== undefined) uBar = ops.mul(uBar, inp.rows.rowMask)
    return [r === 0 ? uBar : ops.add(dz!, uBar), ops.add(lambda, slotSums(ops, uBar, { ...inp.rows, rowMask: undefined }, inp.slots))]
  })
  return gradient!
}

/** `z + δ_{slot(y)}`. */
function shifted<T>(ops: TensorOps<T>, inp: OfficialSearchInputs<T>, delta: T): T {
  return ops.add(inp.logits, ops.gather(delta, inp.slots.rows, 0))
}
