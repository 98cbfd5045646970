import type { TensorOps } from '../ops.js'
import { referenceOps } from '../reference/ops.js'
import type { RefTensor } from '../reference/tensor.js'

/**
 * What a check needs to know of a backend: its ops, how to read a tensor back, how precise it is,
 * and (for frameworks with automatic differentiation) how to take a gradient. One check body runs on
 * every backend through this harness, as tfjs's `describeWithFlags` does: {@link checkConformance}
 * here, the project's test suites, and `lpl verify`. The tfjs and ONNX adapters each export theirs.
 */
export interface Backend<T> {
  /** The name checks report, e.g. `'tfjs-wasm'`. */
  readonly name: string
  /** The backend's tensor operations, on which the rules run. */
  readonly ops: TensorOps<T>
  /** Relative tolerance against float64 ground truth: 1e-9 for float64, 1e-4 for float32. */
  readonly rtol: number
  /** Reads a tensor back to the host. */
  read(x: T): Promise<Float64Array>
  /** `∂f/∂x` by automatic differentiation, when the backend has it. */
  readonly grad?: (f: (x: T) => T, x: T) => T
  /**
   * Runs `fn` with the backend active and in a memory scope that frees the tensors it made (tfjs
   * selects its backend and opens an engine scope); default: just runs it. Shared suites run every
   * use of `ops` inside it.
   */
  readonly scope?: <R>(fn: () => Promise<R>) => Promise<R>
}

/** The float64 reference backend as a harness: exact, no autodiff. */
export const referenceBackend: Backend<RefTensor> = {
  name: 'reference',
  ops: referenceOps,
  rtol: 1e-9,
  read: async (x) => x.data,
}

/** A backend with its tensor type hidden, so lists of backends of different kinds can be iterated. */
// biome-ignore lint/suspicious/noExplicitAny: an existential type; `unknown` would not accept each backend's tensors
export type AnyBackend = Backend<any>

/**
 * Builds `[N, C]` float logits and the labels on a backend from host arrays: class ids `[N]` as
 * int32, or multi-label rows `[N][C]` of 0 and 1 as a float matrix.
 */
export function batchOn<T>(
  backend: Backend<T>,
  logits: readonly (readonly number[])[],
  labels: readonly number[] | readonly (readonly number[])[],
): {
  /** The logits `[N, C]`, float. */
  logits: T
  /** Class ids `[N]` (int32), or multi-label rows `[N, C]` (float). */
  labels: T
} {
  const c = logits[0]?.length ?? 0
  return {
    logits: backend.ops.constant(logits.flat(), [logits.length, c]),
    labels: isLabelMatrix(labels)
      ? backend.ops.constant(labels.flat(), [labels.length, labels[0]?.length ?? 0])
      : backend.ops.constant(labels, [labels.length], 'int32'),
  }
}

/** Whether host labels are multi-label rows `[N][C]` rather than class ids `[N]`. */
export function isLabelMatrix(labels: readonly number[] | readonly (readonly number[])[]): labels is readonly (readonly number[])[] {
  return Array.isArray(labels[0])
}
