import type { LogitTargets } from './validate.js'

/**
 * The abstract tensor interface every rule is written against.
 *
 * It is deliberately small and symbolic-friendly (the model is einops' backend class and the array
 * API): no method reads a value back to the host, so the same rule code can run eagerly (the float64
 * reference, TensorFlow.js) or build a graph (ONNX). Host-side numbers that a rule needs (margins
 * from class counts, split sets) are computed as plain `number[]` math in `rules/` and enter through
 * {@link TensorOps.constant}; choices that depend on the batch are written with `greater`, `where`,
 * `equal` and friends, never with an `if` on data.
 *
 * Conventions shared by every backend:
 * - float tensors are float64 on the reference and float32 elsewhere; integer tensors (labels) are
 *   created with dtype `'int32'`;
 * - binary element-wise ops broadcast as NumPy does;
 * - comparison ops return a float mask of 0 and 1, and `where` takes such a mask;
 * - `softmax`, `logSoftmax` work on the last axis and are numerically stable (max-shifted);
 * - `shape` may report `-1` for a dimension that a symbolic backend only knows at run time (the
 *   batch size of an ONNX graph).
 */
export interface TensorOps<T> {
  /** A short name of the backend, e.g. `"reference"`, `"tfjs-cpu"`, `"onnx"`. */
  readonly name: string

  /** A tensor holding `data` (row-major) with the given shape. */
  constant(data: ArrayLike<number>, shape: readonly number[], dtype?: 'float32' | 'int32'): T
  /** The static shape; `-1` where a symbolic backend does not know a dimension. */
  shape(x: T): readonly number[]
  /** The same data seen with another shape; one dimension may be `-1`. */
  reshape(x: T, shape: readonly number[]): T
  /**
   * The axes of `x` permuted: output axis `k` is input axis `perm[k]` (NumPy's `transpose`). Dense
   * batches `[N, C, d1, …, dk]` move their class axis last with it.
   */
  transpose(x: T, perm: readonly number[]): T

  /** `a + b`, element-wise, broadcasting. */
  add(a: T, b: T): T
  /** `a − b`, element-wise, broadcasting. */
  sub(a: T, b: T): T
  /** `a · b`, element-wise, broadcasting. */
  mul(a: T, b: T): T
  /** `a / b`, element-wise, broadcasting. */
  div(a: T, b: T): T
  /** `max(a, b)`, element-wise, broadcasting. */
  maximum(a: T, b: T): T
  /** `min(a, b)`, element-wise, broadcasting. */
  minimum(a: T, b: T): T

  /** `−x`, element-wise. */
  neg(x: T): T
  /** `|x|`, element-wise. */
  abs(x: T): T
  /** `exp(x)`, element-wise. */
  exp(x: T): T
  /** The natural logarithm, element-wise. */
  log(x: T): T
  /** The square root, element-wise. */
  sqrt(x: T): T
  /** `−1`, `0` or `1` by the sign of `x`, at every magnitude (`1e-30` is positive). */
  sign(x: T): T
  /** The largest integer `≤ x`, element-wise. */
  floor(x: T): T
  /** Rounds half to even (Python's `round`, ONNX `Round`, `tf.round`). */
  round(x: T): T

  /** `log(softmax(x))` along the last axis, computed as `x − max − log Σ exp(x − max)`. */
  logSoftmax(x: T): T
  /** `softmax(x)` along the last axis. */
  softmax(x: T): T
  /** `log(1 + exp(x))`, computed as `max(x, 0) + log1p(exp(−|x|))`. */
  softplus(x: T): T
  /**
   * The logistic function `σ(x) = 1/(1 + exp(−x))`, element-wise, without overflow at any
   * magnitude (`σ(−1e4) = 0`, `σ(1e4) = 1`): `exp` is only taken of `−|x|`.
   */
  sigmoid(x: T): T

  /** The sum over `axes`; the reduced axes are dropped unless `keepDims`. */
  sum(x: T, axes: readonly number[], keepDims?: boolean): T
  /** The mean over `axes`; the reduced axes are dropped unless `keepDims`. */
  mean(x: T, axes: readonly number[], keepDims?: boolean): T
  /** The maximum over `axes`; the reduced axes are dropped unless `keepDims`. */
  max(x: T, axes: readonly number[], keepDims?: boolean): T
  /** 2-D matrix product, optionally transposing either side. */
  matmul(a: T, b: T, transposeA?: boolean, transposeB?: boolean): T

  /** `[N]` integer labels to an `[N, depth]` float matrix of 0 and 1. */
  oneHot(labels: T, depth: number): T
  /** Slices of `x` along `axis` picked by the integer `indices` (`[N]`). */
  gather(x: T, indices: T, axis: number): T
  /**
   * Sums the rows of `x` (`[N, ...]`) into `numSegments` rows by their integer ids (`[N]`): class
   * sums in `O(N·C)`, where a one-hot matrix product would cost `O(N·C²)`. `numSegments` is a
   * number, or a scalar tensor where the count depends on the batch (the classes present in it,
   * `classSlots`): a symbolic backend then sizes the result at run time (its static shape says
   * `-1`), an eager one reads the count.
   */
  segmentSum(x: T, segmentIds: T, numSegments: number | T): T
  /** The running sum along `axis` (inclusive: entry `k` is `x_0 + … + x_k`), as `np.cumsum`. */
  cumsum(x: T, axis: number): T
  /**
   * `x` as another element type: `'int32'` truncates toward zero (the rules only cast exact
   * integers held as floats, such as slot ids), `'float32'` is the backend's float type.
   */
  cast(x: T, dtype: 'float32' | 'int32'): T

  /** 1 where `a > b`, else 0 (float). */
  greater(a: T, b: T): T
  /** 1 where `a == b`, else 0 (float). */
  equal(a: T, b: T): T
  /** `a` where the float mask `cond` is non-zero, `b` elsewhere. */
  where(cond: T, a: T, b: T): T

  /** The value of `x`, seen by automatic differentiation as a constant. */
  stopGradient(x: T): T

  /**
   * Optional: samples of the normal distribution `N(0, stddev²)` with the shape of `like` (`[N, C]`,
   * whose values are not read), float. `seed` makes the draw reproducible: the same seed gives the
   * same draw on a backend. Absent: the backend's own generator. The reference draws with a seeded
   * mulberry32 and Box–Muller (a seed from `Math.random` when none is given), tfjs with
   * `tf.randomNormal`, the PyTorch module with `torch.randn_like` (seeded by `torch.manual_seed`,
   * not by `seed`). Rules draw through `drawNormal`, which makes a seeded draw on the host (the same
   * numbers on every JS backend) and calls this for an unseeded one, on training calls that do not
   * pass their input (GCL's `noise`, `rules/gaussianCloudedLogit.ts`); a symbolic graph (ONNX)
   * leaves it out and takes the values as an input.
   */
  readonly randomNormal?: (like: T, stddev: number, seed?: number) => T

  /**
   * The most negative finite number the backend's float tensors hold; absent: float32's
   * (`FLOAT32_LOWEST`, −3.4e38). WebGL with float16 textures holds −65504, and reads a larger
   * magnitude back as NaN: the rules hold log-probabilities and their masking offsets within it
   * (docs/spec.md#12-masked-classes).
   */
  readonly lowest?: number

  /**
   * Optional value checks, for backends that can look at data cheaply (the reference, eager
   * frameworks). A symbolic backend leaves them out. They throw a `LogitPerturbError`.
   */
  readonly checks?: ValueChecks<T>

  /**
   * Optional synchronous read-back, for eager backends whose tensors live in host memory (tfjs's
   * cpu and wasm backends). Where it exists, a rule may run a small loop on the host instead of
   * dispatching many tiny ops (LPL's search: see `lplSearchHost`); nothing requires it, and a
   * symbolic or GPU backend leaves it out.
   */
  readonly readSync?: (x: T) => ArrayLike<number>

  /**
   * Optional, for backends with automatic differentiation: `f(x)`, differentiated by the
   * vector–Jacobian product `f` returns instead of through its ops, which are not recorded for
   * autodiff at all (a search whose result is a constant costs no backward pass). Tensors the
   * gradient needs must go through `save` and come back as `saved` (a scoped backend frees the
   * rest when `f` returns); host arrays may be captured. See `withGradient`, which falls back to
   * `f(x).value` elsewhere.
   */
  readonly customGradient?: (x: T, f: (x: T, save: (tensors: readonly T[]) => void) => CustomGradient<T>) => T

  /**
   * Optional: `count` iterations of `body`, each taking the state the previous one returned, for
   * backends that can do better than unrolling: tfjs frees each iteration's intermediates
   * (`tidy`), so a search of `K` steps holds one step's tensors, not `K`; the PyTorch backend
   * writes a `for` loop. `body` gets the iteration's index twice: `k`, a host number, and `index`,
   * a float scalar tensor holding `k`. A body that uses only `index` is the same at every
   * iteration, so a symbolic backend may write it once. See `repeat`, which unrolls elsewhere (the
   * reference, the ONNX graph).
   */
  readonly loop?: (count: number, state: readonly T[], body: LoopBody<T>) => readonly T[]

  /**
   * Optional, for backends that write code: gives `x` the name the rule's own code has for it
   * (`delta`, `counts`), so the written code reads like the rule (the PyTorch module's variables).
   * Changes no value. Rules call it through `named`.
   */
  readonly label?: (x: T, name: string) => void

  /**
   * Optional, for backends with scoped memory (tfjs's `tidy`): makes `x` outlive the scope it was
   * made in. The loss keeps its batch-independent constants this way (see `constantPool`).
   */
  readonly keep?: (x: T) => void
  /** Optional, with `keep`: frees a tensor that `keep` kept. */
  readonly release?: (x: T) => void
}

/** One iteration of {@link TensorOps.loop}: the state after iteration `k` (`index` is `k` as a float scalar tensor). */
export type LoopBody<T> = (k: number, state: readonly T[], index: T) => readonly T[]

/** What the function of {@link TensorOps.customGradient} returns. */
export interface CustomGradient<T> {
  /** `f(x)`. */
  value: T
  /** `∂L/∂x` (the shape of `x`) from `dy = ∂L/∂value`; `saved` are the tensors given to `save`. */
  gradient: (dy: T, saved: readonly T[]) => T
}

/** Data checks a backend may offer; see {@link TensorOps.checks}. */
export interface ValueChecks<T> {
  /**
   * True while a check is a synchronous read that stalls a device pipeline (tfjs on WebGL or
   * WebGPU): a loss with `checks: 'auto'` then checks shapes only. Absent: false.
   */
  readonly stallsDevice?: boolean
  /** Throws `LABEL_VALUE` unless every label is an integer in `[0, numClasses)`. */
  labels(labels: T, numClasses: number): void
  /** Throws `LABEL_VALUE` unless every entry of a multi-label matrix `[N, numClasses]` is 0 or 1. */
  binaryLabels(labels: T, numClasses: number): void
  /** Throws `LABEL_VALUE` unless every entry of soft targets `[N, numClasses]` is a probability in `[0, 1]`. */
  probabilities(targets: T, numClasses: number): void
  /** Throws `LOGITS_NOT_FINITE` if `x` holds NaN or ±Infinity. */
  finite(x: T, what: string): void
  /**
   * Logits `[M, numClasses]` with masked classes (docs/spec.md#12-masked-classes): throws
   * `LOGITS_NOT_FINITE` for NaN or `+∞`, for `−∞` at a target of a row that counts (`counted`, `[M, 1]`
   * or absent: every row), and for a single-label row that is `−∞` in every class; see
   * `checkLogitValues`. Optional: without it, a loss checks the logits with `finite`, and refuses
   * masked classes.
   */
  logits?(logits: T, numClasses: number, targets: T, kind: LogitTargets['kind'], counted: T | undefined): void
  /** Throws `SAMPLE_WEIGHT_VALUE` unless every sample weight (`[N]`) is finite and `≥ 0`. */
  sampleWeight(x: T): void
  /** Throws `MASK_VALUE` unless every entry of a row mask (`[N]`) is 0 or 1. */
  mask(x: T): void
  /**
   * Throws `MISSING_CONTEXT` naming `field` unless every entry of a rule's batch input (GCL's
   * `noise`) lies in `bounds` (`[low, high]`); see `checkEntryValues`. Optional: without it, the
   * loss checks the input's shape only.
   */
  entries?(x: T, field: string, bounds: readonly [number, number]): void
}

/** A scalar float constant. */
export function scalar<T>(ops: TensorOps<T>, value: number): T {
  return ops.constant([value], [])
}
