// The shapes the host search's modules share: its inputs and the batch it reads them into.

/** Inputs of `lplSearchHost`: row-major host arrays. */
export interface LplHostSearchInputs {
  /** Logits the search starts from, `[N, C]` row-major. */
  logits: ArrayLike<number>
  /** Class ids `[N]`, each in `[0, C)`. */
  labels: ArrayLike<number>
  /** The class count `C`. */
  numClasses: number
  /** 1 for the rows that count, 0 for masked-out ones (`[N]`); absent: every row counts. */
  rowMask?: ArrayLike<number>
  /** `s_c` and `ε_c`, one per class. */
  directions: ArrayLike<number>
  /** `ε_c ≥ 0`, one per class: class `c` takes `K_c = min(⌊ε_c/α⌋, maxSteps, unrolledSteps)` steps. */
  bounds: ArrayLike<number>
  /** Step length `α > 0`. */
  alpha: number
  /** `K`, the cap on every `K_c`. */
  maxSteps: number
  /** A second cap on every `K_c`: the number of steps the op path unrolls (`LplSearchInputs.unrolledSteps`). */
  unrolledSteps: number
  /** Steps of length `α` along `g_c/‖g_c‖₂` (true) or `α·g_c` (false). */
  normalize: boolean
}

/**
 * The batch as the search reads it: the counted rows grouped by class (only classes with samples and
 * steps), and per row `i` (label `y`, `m_i = max_{j≠y} z_ij`) the factors `b_ij = exp(z_ij − m_i)`,
 * 0 at `y`, and `e_i = exp(z_iy − m_i)`. With `σ_j = exp(δ_j)` (up to a common factor) the
 * non-target mass is `O_i = Σ_j b_ij·σ_j` and the target's `T_i = e_i·σ_y`: `1 − p_y = O/(O + T)`
 * keeps its digits however close `p_y` is to 1, and `q_i = b_i ⊙ σ/O_i` never underflows (its
 * largest entry is at least `1/C`), so a floored sample needs no second softmax.
 */
export interface Batch {
  c: number
  n: number
  normalize: boolean
  /** The classes that move, ascending. */
  classes: Int32Array
  /** `K_c`, per entry of `classes`. */
  steps: Int32Array
  /** `s_c·α`, per entry of `classes`. */
  signedAlpha: Float64Array
  /** Grouped rows `groupStart[p] … groupStart[p + 1] − 1` belong to `classes[p]`. */
  groupStart: Int32Array
  /** The original row of each grouped row. */
  order: Int32Array
  /**
   * `b`, class by class from `f·C` (`f` the class's first grouped row): row by row, except for a
   * class of two, whose rows are interleaved (`b_ij` at `f·C + 2j + i`) for its one pass over `j`.
   */
  block: Float64Array
  /** `Σ_j b_ij`: `O_i` at `δ = 0`. */
  otherMass: Float64Array
  /** `Σ_j b_ij²`. */
  squareMass: Float64Array
  /** `e_i` (Infinity where `z_iy − m_i` is beyond the float64 range: then `1 − p_y = 0`). */
  targetFactor: Float64Array
  /** `Σ_j b_ij^n`, `n = 1 … MOMENTS`, from `i·MOMENTS`, for the rows of one-sample classes (empty when not asked for). */
  moments: Float64Array
  /** The largest `K_c` and the largest group. */
  maxSteps: number
  maxGroup: number
}
