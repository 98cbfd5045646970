import { check } from './errors.js'
import { describeValue } from './validate.js'

/**
 * A dimension of a traced input: a size; `'N'`, the batch; `'d1'`, `'d2'`, … the trailing sizes of
 * dense inputs, known at run time; or `'...'`, any number of trailing axes (a renderer whose
 * layout takes any rank).
 */
export type TraceDim = number | 'N' | `d${number}` | '...'

/**
 * How a renderer moves dense inputs (docs/spec.md#10-dense-inputs) to the rows the core evaluates,
 * and results back. The rows are those of the core's `batchRows`: the class axis moved last, then
 * one row per position in row-major order, `M = N·d1·…·dk`. `like` is the logits input
 * `[N, C, d1, …, dk]`, whose sizes the renderer reads at run time (ONNX: `Shape`; PyTorch: `.shape`).
 */
export interface TraceLayout<T> {
  /** `x` `[N, C, d1, …, dk]` as rows `[M, C]`: logits, soft targets, multi-label matrices. */
  entries(x: T): T
  /** `x` `[N, d1, …, dk]` as `[M]`: class ids, sample weights, the mask. */
  positions(x: T): T
  /** Rows `[M, C]` in the layout of `like`, `[N, C, d1, …, dk]`: perturbed logits, gradients. */
  entriesBack(x: T, like: T): T
  /** `[M]` in the layout of `like`'s positions, `[N, d1, …, dk]`: per-position losses. */
  positionsBack(x: T, like: T): T
}

/** The most trailing axes an export declares (images 2, volumes 3, video 4: room to spare). */
export const MAX_SPATIAL_DIMS = 8

/**
 * The `spatialDims` option of a trace: an integer `k` in `[0, MAX_SPATIAL_DIMS]` (default 0: rows
 * `[N, C]`), or `'any'`. Throws `INVALID_PARAMETER` naming it.
 */
export function checkSpatialDims(value: unknown): number | 'any' {
  if (value === undefined) return 0
  check(
    value === 'any' || (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_SPATIAL_DIMS),
    'INVALID_PARAMETER',
    `must be an integer in [0, ${MAX_SPATIAL_DIMS}] (the number of trailing axes of dense logits [N, C, d1, …, dk]) or "any", got ${describeValue(value)}`,
    'spatialDims',
  )
  return value
}

/** The trailing dimensions of dense inputs: `'d1'` … `'dk'`, or `'...'` for any number. */
export function trailingDims(spatialDims: number | 'any'): TraceDim[] {
  return spatialDims === 'any' ? ['...'] : Array.from({ length: spatialDims }, (_, k) => `d${k + 1}` as const)
}

/** A trace's way between its declared inputs and the core's rows; see {@link traceRows}. */
export interface TraceRows<T> {
  /** Logits, soft targets or a multi-label matrix as rows `[M, C]`. */
  entries(x: T): T
  /** Class ids, sample weights or the mask as `[M]`. */
  positions(x: T): T
  /** Rows `[M, C]` in the layout of the logits input. */
  entriesBack(x: T): T
  /** `[M]` in the layout of the logits input's positions. */
  positionsBack(x: T): T
}

/**
 * The rows of a trace's inputs: through the renderer's `layout` for dense inputs (`spatialDims`
 * other than 0; `INVALID_PARAMETER` naming it when the renderer has none), unchanged for `[N, C]`
 * rows, so that a model of rows is the graph it always was. `logits` is the declared logits input.
 */
export function traceRows<T>(layout: TraceLayout<T> | undefined, spatialDims: number | 'any', logits: T): TraceRows<T> {
  if (spatialDims === 0) return { entries: (x) => x, positions: (x) => x, entriesBack: (x) => x, positionsBack: (x) => x }
  check(layout !== undefined, 'INVALID_PARAMETER', 'this renderer takes logits [N, C] only: it has no dense layout', 'spatialDims')
  return {
    entries: (x) => layout.entries(x),
    positions: (x) => layout.positions(x),
    entriesBack: (x) => layout.entriesBack(x, logits),
    positionsBack: (x) => layout.positionsBack(x, logits),
  }
}
