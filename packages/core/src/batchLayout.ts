import { check } from './errors.js'
import type { TensorOps } from './ops.js'

/**
 * Where a call's logits keep their classes: axis `1` (`[N, C, d1, …, dk]`, the PyTorch and ONNX
 * convention) or the last axis `-1` (`[N, d1, …, dk, C]`, tfjs-layers' channels-last outputs). For
 * `[N, C]` logits the two are the same.
 */
export type ClassAxis = 1 | -1

/** The row view of one call, and the way back to the call's own layout. */
export interface BatchRows<T> {
  /** The logits as rows `[M, C]`, `M = N·d1·…·dk` (every position a sample). */
  readonly logits: T
  /** Class ids as `[M]`, or soft targets / multi-label matrices as `[M, C]`. */
  readonly labels: T
  /** Per-position sample weights `[M]` (a per-image `[N]` weight repeated at its positions). */
  readonly sampleWeight: T | undefined
  /** Per-position mask `[M]`, as `sampleWeight`. */
  readonly mask: T | undefined
  /** Whether the call was dense (logits of rank above 2). */
  readonly dense: boolean
  /** A per-row result `[M]` in the call's layout: `[N, d1, …, dk]`. */
  rowsBack(x: T): T
  /** A per-entry result `[M, C]` in the layout of the call's logits. */
  entriesBack(x: T): T
  /** A per-entry input with the logits' shape (a rule's batch input, GCL's `noise`) as rows `[M, C]`. */
  entries(x: T): T
}

/**
 * The rows of a call (docs/spec.md#10-dense-inputs): logits `[N, C, d1, …, dk]` (class axis 1) or
 * `[N, d1, …, dk, C]` (class axis −1) become `[M, C]` rows, one per position, with the class ids
 * `[N, d1, …, dk]` (or targets with the logits' shape) and the per-image or per-position weights and
 * mask flattened in the same order. `[N, C]` logits pass through unchanged. `labelsWithClasses` says
 * whether the labels carry the class axis (soft targets, multi-label matrices): then they must have
 * the logits' shape, else the logits' shape without the class axis. Throws `LOGITS_SHAPE`,
 * `LABELS_SHAPE` or `SHAPE_MISMATCH` naming the call's own shapes.
 */
export function batchRows<T>(
  ops: TensorOps<T>,
  logits: T,
  labels: T,
  extra: { sampleWeight?: T | undefined; mask?: T | undefined },
  classAxis: ClassAxis,
  labelsWithClasses: boolean,
): BatchRows<T> {
  const shape = ops.shape(logits)
  check(shape.length >= 2, 'LOGITS_SHAPE', `logits must be [N, C] or dense [N, C, d1, …, dk], got shape [${shape.join(', ')}]`, 'logits')
  const { sampleWeight, mask } = extra
  if (shape.length === 2) {
    return { logits, labels, sampleWeight, mask, dense: false, rowsBack: (x) => x, entriesBack: (x) => x, entries: (x) => x }
  }
  const rank = shape.length
  const axis = classAxis === 1 ? 1 : rank - 1
  const c = shape[axis]!
  check(c > 0, 'LOGITS_SHAPE', `logits have no class dimension (C = 0), got shape [${shape.join(', ')}]`, 'logits')
  const positions = shape.filter((_, k) => k !== axis) // [N, d1, …, dk]
  check(
    positions.slice(1).every((d) => d >= 0),
    'LOGITS_SHAPE',
    `dense logits need known trailing sizes, got shape [${shape.join(', ')}]`,
    'logits',
  )
  const trailing = rank === 3 ? 'd1' : rank === 4 ? 'd1, d2' : `d1, …, d${rank - 2}`
  const layout = classAxis === 1 ? `[N, C, ${trailing}]` : `[N, ${trailing}, C]`
  const labelShape = ops.shape(labels)
  const agree = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, k) => d === b[k] || d < 0 || b[k]! < 0)
  check(
    agree(labelShape, labelsWithClasses ? shape : positions),
    'LABELS_SHAPE',
    labelsWithClasses
      ? `targets must have the logits' shape [${shape.join(', ')}], got [${labelShape.join(', ')}]`
      : `labels of logits ${layout} = [${shape.join(', ')}] must be [${positions.join(', ')}], got [${labelShape.join(', ')}]`,
    'labels',
  )
  // Class axis last, then one row per position: [N, C, d…] → [N, d…, C] → [M, C].
  const perm = [0, ...positions.slice(1).map((_, k) => k + 2), 1]
  const lastAxis = (x: T) => (classAxis === 1 ? ops.transpose(x, perm) : x)
  const toRows = (x: T) => ops.reshape(lastAxis(x), [-1, c])
  const inverse = perm.map((_, k) => perm.indexOf(k))
  const channelsLast = [positions[0]!, ...positions.slice(1), c]
  const perPosition = (x: T | undefined, field: 'sampleWeight' | 'mask'): T | undefined => {
    if (x === undefined) return undefined
    const s = ops.shape(x)
    if (s.length === 1) {
      check(
        s[0] === positions[0] || s[0]! < 0 || positions[0]! < 0,
        'SHAPE_MISMATCH',
        `must be [N] = [${positions[0]}] (one per image) or [${positions.join(', ')}] (one per position), got [${s.join(', ')}]`,
        field,
      )
      // One value per image, repeated at each of its positions.
      const ones = ops.constant(new Float64Array(positions.slice(1).reduce((a, b) => a * b, 1)).fill(1), [1, ...positions.slice(1)])
      return ops.reshape(ops.mul(ops.reshape(x, [-1, ...positions.slice(1).map(() => 1)]), ones), [-1])
    }
    check(
      agree(s, positions),
      'SHAPE_MISMATCH',
      `must be [N] = [${positions[0]}] (one per image) or [${positions.join(', ')}] (one per position), got [${s.join(', ')}]`,
      field,
    )
    return ops.reshape(x, [-1])
  }
  return {
    logits: toRows(logits),
    labels: labelsWithClasses ? toRows(labels) : ops.reshape(labels, [-1]),
    sampleWeight: perPosition(sampleWeight, 'sampleWeight'),
    mask: perPosition(mask, 'mask'),
    dense: true,
    entries: toRows,
    rowsBack: (x) => ops.reshape(x, positions),
    entriesBack: (x) => {
      const last = ops.reshape(x, channelsLast)
      return classAxis === 1 ? ops.transpose(last, inverse) : last
    },
  }
}
