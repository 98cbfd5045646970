import type { HostClassRows } from '../hostRows.js'
import { readBatch } from './lplHostBatch.js'
import type { Batch, LplHostSearchInputs } from './lplHostTypes.js'

export type { LplHostSearchInputs } from './lplHostTypes.js'
import { reversePass } from './lplHostReverse.js'
import { Trajectory } from './lplHostState.js'
import { searchClass } from './lplHostSteps.js'

/** The forward search of {@link lplSearchHostWithVjp}, and its reverse pass. */
export interface LplHostSearch {
  /** `δ` for the classes that move (present, with steps): `[P, C]` rows; every other class's is zero. */
  readonly delta: HostClassRows
  /**
   * `∂L/∂z` (`[N, C]` row-major, zero rows for masked-out rows) from `upstream = ∂L/∂δ` (`[P, C]`
   * row-major, the rows of `delta`): {@link lplSearchHostVjp} without reading and exponentiating
   * the logits again.
   */
  vjp(upstream: ArrayLike<number>): Float64Array
}

/**
 * LPL's search (`lplSearch`) as one loop over host arrays, in float64: the same steps, the same
 * step counts `K_c = min(⌊ε_c/α⌋, K)`, the same underflow-safe class directions. Per class `c`
 * (samples `S_c`, masked rows left out), from `δ_c = 0`, `K_c` times:
 *
 *     p_i = softmax(z_i + δ_c),  a_i = max(1 − p_{i,c}, 1e-37),  q_i = softmax of the non-target entries
 *     g   = Σ_{i∈S_c} a_i·(q_i − e_c)                (= Σ (p_i − e_c) where no a_i is floored)
 *     δ_c ← δ_c + s_c·α·g/‖g‖₂   (normalize; no step when g = 0),   δ_c ← δ_c + s_c·α·g/|S_c|   (else)
 *
 * Logits `[N, C]`, returns `δ` for the `P` classes that move (`[P, C]` rows; every other class's row
 * is zero, and none is stored). Time at most
 * `O(K·N·C)`: a class of one sample takes two passes over its row whatever its `K_c` (a power series
 * carries its steps), a class of two one pass per step, a larger one `2m + 1` row passes per
 * step; memory `O(N·C + K·C)`. Backends that can read their tensors synchronously use it instead of
 * a dozen tensor ops per step; the conformance suite checks it against the op path.
 */
export function lplSearchHost(inp: LplHostSearchInputs): HostClassRows {
  return forward(readBatch(inp, true))
}

/**
 * {@link lplSearchHost} keeping what its reverse pass reuses: the logits read and exponentiated once
 * (`O(N·C)`), not the steps. `delta` is `δ` (`[P, C]` rows); `vjp(upstream)` is
 * {@link lplSearchHostVjp} for the same inputs, which replays each class's steps (`O(K·C)` at a
 * time) and runs them backwards; it can be called any number of times. The inputs are copied:
 * changing them afterwards changes neither.
 */
export function lplSearchHostWithVjp(inp: LplHostSearchInputs): LplHostSearch {
  const batch = readBatch(inp, true)
  return { delta: forward(batch), vjp: (upstream) => reversePass(batch, upstream) }
}

/**
 * The vector–Jacobian product of {@link lplSearchHost}: `∂L/∂z` (`[N, C]` row-major; zero rows for
 * masked-out rows and for the samples of classes without steps) from `upstream = ∂L/∂δ` (`[P, C]`
 * row-major, one row per class that moves, in the order of {@link lplSearchHost}'s `classes`), in
 * float64. Each class on its own: its forward steps `δ^k` are recomputed and kept
 * (`O(K·C)`), then from `λ = upstream_c`, for `k = K_c − 1 … 0`, with `g`, `p_i`, `q_i` at `δ^k` and
 * `β = s_c·α`:
 *
 *     w   = β·(λ − ĝ (ĝ·λ))/‖g‖,  ĝ = g/‖g‖        (normalize; w = 0 for a skipped step, g = 0)
 *     w   = β·λ/|S_c|                              (else)
 *     t_i = p_i ⊙ (w − p_i·w)                      (sample with a_i = 1 − p_{i,c})
 *     t_i = 1e-37·q_i ⊙ (w − q_i·w), 0 at c        (floored sample, a_i held at 1e-37)
 *     ∂L/∂z_i += t_i,   λ += Σ_{i∈S_c} t_i
 *
 * Two to three times the forward's time; memory `O(N·C + K·C)`.
 */
export function lplSearchHostVjp(inp: LplHostSearchInputs, upstream: ArrayLike<number>): Float64Array {
  return reversePass(readBatch(inp, false), upstream)
}

function forward(b: Batch): HostClassRows {
  const rows = new Float64Array(b.classes.length * b.c)
  const path = new Trajectory(b)
  for (let p = 0; p < b.classes.length; p++) searchClass(b, p, rows, p * b.c, path, false)
  return { classes: b.classes, rows }
}
