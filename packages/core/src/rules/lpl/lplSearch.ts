import { FLOAT32_FLOOR } from '../../numerics.js'
import type { TensorOps } from '../../ops.js'
import { STEP_ROUNDING } from './lplBounds.js'
import { named, repeat } from '../../control.js'
import type { CountedRows } from '../classSums.js'
import { type ClassSlots, perSlot, slotSums, slotZeros } from '../classSlots.js'
import { l2Normalize } from '../norm.js'

/** Inputs of {@link lplSearch}; per-class tensors are `[C, 1]`. */
export interface LplSearchInputs<T> {
  /** Logits the search starts from (`[N, C]`); pass them through `stopGradient` for `gradient: 'stop'`. */
  logits: T
  /** Labels `[N]` (int32). */
  labels: T
  /** The one-hot matrix of `labels`, `[N, C]` (all zeros in masked-out rows). */
  labelMatrix: T
  /** `[N, 1]` float, 1 for the rows that count (see `classSums`); absent: every row. */
  rowMask?: T
  /** The slots of the classes present in the batch (`classSlots`, from the counted rows' class counts). */
  slots: ClassSlots<T>
  /** The sum across workers of the class sums and counts (`LossContext.batchSum`); absent: one worker. */
  batchSum?: (x: T) => T
  /** The class count `C`. */
  numClasses: number
  /** `s_c`: `+1` ascent (P), `−1` descent (N). */
  directions: T
  /** `ε_c ≥ 0`. */
  bounds: T
  /** Step length `α > 0`. */
  alpha: number
  /** `K`, the cap on every class's step count `K_c = min(⌊ε_c/α⌋, K)`. */
  maxSteps: number
  /** How many steps to unroll: at least the largest `K_c` (a static number, so graphs can unroll). */
  unrolledSteps: number
  /** Steps of length `α` along `g_c/‖g_c‖₂` (true) or `α·g_c` (false). */
  normalize: boolean
}

/**
 * LPL's bounded search (Li et al., *Class-level logit perturbation*, TNNLS 2023, Algorithm 1), all
 * classes at once. With `δ_c = 0` and `K_c = min(⌊ε_c/α⌋, K)`, repeat:
 *
 *     g_c = mean_{i: y_i = c} (softmax(u_i + δ_c) − e_c)      (gradient of the class-mean CE w.r.t. δ_c)
 *     δ_c ← δ_c + s_c · α · g_c / ‖g_c‖₂                      (only while the class has steps left)
 *
 * Returns `δ` as a `[P, C]` matrix, one row per class present (row `s` is `δ_c` for the class `c`
 * of slot `s`, see `classSlots`; absent classes take no step). Cost per step: two softmaxes over
 * the batch and a segment sum, `O(N·C + P·C)`, `P ≤ min(N, C)`; only the current `δ` is kept,
 * never the trajectory.
 *
 * With normalized steps only the direction of `g_c` matters, and it is computed so that float32
 * keeps it for confidently classified samples: each sample's residual `p_i − e_c` is written as
 * `(1 − p_{i,c})·(q_i − e_c)`, `q_i` the softmax of its non-target logits, with `1 − p_{i,c}` held
 * at 1e-37 or more so that no float32 backend flushes it to zero.
 */
export function lplSearch<T>(ops: TensorOps<T>, inp: LplSearchInputs<T>): T {
  const plan = searchPlan(ops, inp)
  const zero = slotZeros(ops, inp.slots, inp.numClasses)
  const [delta] = repeat(ops, inp.unrolledSteps, [zero], (_, [current], k) => {
    const delta = named(ops, current!, 'delta')
    const logits = named(ops, ops.add(inp.logits, ops.gather(delta, inp.slots.rows, 0)), 'logits')
    return [ops.add(delta, named(ops, classStep(ops, inp, plan, k, logits).move, 'move'))]
  })
  return delta!
}

/**
 * The vector–Jacobian product of {@link lplSearch}: `∂L/∂z` (`[N, C]`) from `upstream = ∂L/∂δ`
 * (`[P, C]`, by slot), the reverse pass of the steps by hand rather than by autodiff. The forward is run
 * again keeping each step's logits `u_k = z + δ^k_y` (`K` tensors `[N, C]`); then, from
 * `λ = upstream`, for `k = K − 1 … 0`, with the step `δ ← δ + c_k·g/‖g‖` (`c_k = s·α` while the
 * class has steps left):
 *
 *     w   = c_k·(λ − ĝ (ĝ·λ))/‖g‖        (normalized; `c_k·λ/n_c` for plain steps)
 *     t_i = p_i ⊙ (w_{y_i} − p_i·w_{y_i})  (the softmax's Jacobian; `1e-37·q_i ⊙ (…)` for a floored sample)
 *     ∂L/∂z_i += t_i;   λ_c += Σ_{i: y_i = c} t_i
 *
 * Cost: twice the forward's ops plus `O(N·C)` per step; memory `K·N·C`.
 */
export function lplSearchVjp<T>(ops: TensorOps<T>, inp: LplSearchInputs<T>, upstream: T): T {
  const plan = searchPlan(ops, inp)
  const zero = slotZeros(ops, inp.slots, inp.numClasses)
  // State: δ^k and the logits of every step so far.
  const trajectory = repeat(ops, inp.unrolledSteps, [zero], (k, [current, ...kept]) => {
    const u = ops.add(inp.logits, ops.gather(current!, inp.slots.rows, 0))
    return [ops.add(current!, classStep(ops, inp, plan, ops.constant([k], []), u).move), ...kept, u]
  }).slice(1)
  // Zeros shaped like the logits, as a comparison: `0·z` is NaN at a masked class's −∞
  // (docs/spec.md#12-masked-classes).
  const zerosLikeLogits = ops.greater(inp.logits, inp.logits)
  const [gradient] = repeat(ops, inp.unrolledSteps, [zerosLikeLogits, upstream], (r, [dz, lambda]) => {
    const k = inp.unrolledSteps - 1 - r
    const step = classStep(ops, inp, plan, ops.constant([k], []), trajectory[k]!)
    // A class whose g is 0 took no step (its direction is 0, not g/0): nothing flows back.
    const moved = ops.greater(step.norm, ops.constant([0], []))
    const w = inp.normalize
      ? ops.div(
          ops.mul(ops.mul(moved, step.coefficient), ops.sub(lambda!, ops.mul(step.unit, ops.sum(ops.mul(step.unit, lambda!), [1], true)))),
          ops.where(moved, step.norm, ops.constant([1], [])),
        )
      : ops.div(ops.mul(step.coefficient, lambda!), plan.denominator)
    const sampleW = ops.gather(w, inp.slots.rows, 0)
    const softmaxVjp = (probs: T) => ops.mul(probs, ops.sub(sampleW, ops.sum(ops.mul(probs, sampleW), [1], true)))
    let t = softmaxVjp(step.probs)
    if (step.floored !== undefined) {
      t = ops.where(step.floored, ops.mul(ops.constant([MIN_SAMPLE_WEIGHT], []), softmaxVjp(step.nonTargetProbs!)), t)
    }
    if (inp.rowMask !== undefined) t = ops.mul(t, inp.rowMask)
    return [ops.add(dz!, t), ops.add(lambda!, slotSums(ops, t, { rowMask: undefined, batchSum: inp.batchSum }, inp.slots))]
  })
  return gradient!
}

/** The rows the search's slot sums take, summed across workers where `batchSum` is given. */
function rowsOf<T>(inp: LplSearchInputs<T>): Pick<CountedRows<T>, 'rowMask' | 'batchSum'> {
  return { rowMask: inp.rowMask, batchSum: inp.batchSum }
}

/** What every step of the search shares: the class counts and the step counts, `[P, 1]` by slot. */
interface SearchPlan<T> {
  /** `max(n_c, 1)`: the plain step's mean. */
  denominator: T
  /** `s_c·α`. */
  signedAlpha: T
  /** `K_c = min(⌊ε_c/α⌋, K)`. */
  steps: T
  /** `1 − e_{y_i}`, `[N, C]`. */
  nonTarget: T
  /** `1e30·e_{y_i}`, `[N, C]`: subtracted, it takes the target out of a softmax. */
  targetOut: T
}

function searchPlan<T>(ops: TensorOps<T>, inp: LplSearchInputs<T>): SearchPlan<T> {
  return {
    denominator: ops.reshape(ops.maximum(perSlot(ops, inp.slots.counts, inp.slots), ops.constant([1], [])), [-1, 1]),
    signedAlpha: ops.mul(perSlot(ops, inp.directions, inp.slots), ops.constant([inp.alpha], [])),
    steps: ops.minimum(
      ops.floor(ops.add(ops.div(perSlot(ops, inp.bounds, inp.slots), ops.constant([inp.alpha], [])), ops.constant([STEP_ROUNDING], []))),
      ops.constant([inp.maxSteps], []),
    ),
    nonTarget: ops.sub(ops.constant([1], []), inp.labelMatrix),
    // Half the backend's range where it is narrow (float16 textures: the logits minus it stay
    // finite for |z| ≤ 32752); 1e30 elsewhere.
    targetOut: ops.mul(inp.labelMatrix, ops.constant([ops.lowest === undefined ? 1e30 : -ops.lowest / 2], [])),
  }
}

/** Step `k` of the search at the logits `u` (`[N, C]`), with what its reverse pass needs. */
interface ClassStep<T> {
  /** The update of `δ`, `[P, C]`: `c_k·ĝ` (normalized) or `c_k·g/n_c`. */
  move: T
  /** `c_k`, `[P, 1]`: `s_c·α` while class `c` has steps left, else 0. */
  coefficient: T
  /** `ĝ = g/‖g‖` (normalized steps), `[P, C]`. */
  unit: T
  /** `‖g‖` (normalized steps), `[P, 1]`. */
  norm: T
  /** `softmax(u)`, `[N, C]`. */
  probs: T
  /** The softmax of the non-target logits, `[N, C]` (normalized steps). */
  nonTargetProbs?: T
  /** `[N, 1]`: 1 where a sample's weight `1 − p_y` was held at its floor (normalized steps). */
  floored?: T
}

/** Step `k` (a float scalar tensor) of the search at the logits `u`. */
function classStep<T>(ops: TensorOps<T>, inp: LplSearchInputs<T>, plan: SearchPlan<T>, k: T, u: T): ClassStep<T> {
  const sums = (x: T): T => slotSums(ops, x, rowsOf(inp), inp.slots)
  const coefficient = named(ops, ops.mul(ops.greater(plan.steps, k), plan.signedAlpha), 'step_size')
  const probs = named(ops, ops.softmax(u), 'probs')
  if (!inp.normalize) {
    const others = ops.mul(probs, plan.nonTarget)
    // p_i − e_{y_i}, with the target entry −Σ_{j≠y} p_j (see `softmaxResidual`).
    const g = named(ops, sums(ops.sub(others, ops.mul(inp.labelMatrix, ops.sum(others, [1], true)))), 'class_gradient')
    return { move: ops.div(ops.mul(coefficient, g), plan.denominator), coefficient, unit: g, norm: plan.denominator, probs }
  }
  // Absent classes have g = 0 and take a zero step.
  const direction = classGradientDirection(ops, u, probs, { labelMatrix: inp.labelMatrix, ...plan }, sums)
  named(ops, direction.sums, 'class_gradient')
  const { unit, norm } = l2Normalize(ops, direction.sums, 1)
  named(ops, unit, 'direction')
  return {
    move: ops.mul(coefficient, unit),
    coefficient,
    unit,
    norm,
    probs,
    nonTargetProbs: direction.nonTargetProbs,
    floored: direction.floored,
  }
}

/** Smallest weight a sample keeps in {@link classGradientDirection} (see `FLOAT32_FLOOR`). */
const MIN_SAMPLE_WEIGHT = FLOAT32_FLOOR

/**
 * A positive multiple of each class's gradient `Σ_{i: y_i = c} (p_i − e_c)` (`[P, C]` by slot, or
 * `[C, C]`: `sums` takes the per-sample rows to either), written as
 * `Σ_i a_i·d_i` with `a_i = 1 − p_{i,y_i}` and `d_i = q_i − e_{y_i}`, `q_i` the softmax of the
 * sample's non-target logits. `d_i` never underflows (its entries sum to zero, and the largest
 * non-target entry is at least `1/(C − 1)`); `a_i` does, in float32, once the sample is classified
 * with `p_y > 1 − 1e-38`, where backends disagree (wasm flushes subnormals to zero, cpu keeps them).
 * Holding `a_i ≥ 1e-37` gives every backend the same direction: exact wherever some sample of the
 * class has `a_i ≥ 1e-37`, and the mean of the `d_i` where none has.
 */
export function classGradientDirection<T>(
  ops: TensorOps<T>,
  logits: T,
  probs: T,
  targets: {
    /** `e_{y_i}`, `[N, C]`. */
    labelMatrix: T
    /** `1 − e_{y_i}`. */
    nonTarget: T
    /** `1e30·e_{y_i}`. */
    targetOut: T
  },
  sums: (perSample: T) => T,
): {
  /** `Σ_{i: y_i = c} a_i·d_i`, as `sums` gives it. */
  sums: T
  /** `q_i`, `[N, C]` (0 at the target). */
  nonTargetProbs: T
  /** `[N, 1]`: 1 where `a_i` was raised to its floor. */
  floored: T
} {
  const floor = ops.constant([MIN_SAMPLE_WEIGHT], [])
  const rawWeight = ops.sum(ops.mul(probs, targets.nonTarget), [1], true)
  // The target logit moved far below the rest: its share of this softmax is exactly zero.
  const nonTargetProbs = ops.softmax(ops.sub(logits, targets.targetOut))
  const direction = ops.sub(nonTargetProbs, targets.labelMatrix)
  return {
    sums: sums(ops.mul(ops.maximum(rawWeight, floor), direction)),
    nonTargetProbs,
    floored: ops.greater(floor, rawWeight),
  }
}
