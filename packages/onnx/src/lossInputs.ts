import {
  check,
  checkBinaryLabelValues,
  checkFiniteValues,
  checkLabelValues,
  checkLogitValues,
  checkMaskValues,
  checkProbabilityValues,
  checkSampleWeightValues,
} from '@logit-perturb/core/backend'
import type { LossModelFacts } from './modelFacts.js'
import type { HostTensor } from './runner.js'

/**
 * The labels of a loss model: class ids (a flat list, row-major over the positions `[N, d1, …, dk]`
 * of dense logits), or rows `[N][C]` (soft targets, multi-label 0/1 rows), or any of them as a
 * tensor with dims (dense soft targets: the logits' shape).
 */
export type LossLabels = ArrayLike<number> | readonly (readonly number[])[] | HostTensor

/**
 * The `labels` feed of a loss model for logits of shape `dims` (`[N, C]` or `[N, C, d1, …, dk]`),
 * checked on the host with the core's checks, since the graph checks nothing: class ids as int64
 * `[N, d1, …, dk]` in `[0, C)` or equal to the model's ignore label; soft targets (probabilities in
 * `[0, 1]`) or multi-label rows (0 or 1) as float32 with the logits' shape. `LABELS_SHAPE` and
 * `LABEL_VALUE` as the core's losses give them.
 */
export function labelFeed(labels: LossLabels, dims: readonly number[], facts: LossModelFacts): HostTensor {
  const [n, width] = dims as [number, number]
  // Several heads: logits [N, E·C], class ids over the C classes.
  const c = width / facts.heads
  const positions = [n, ...dims.slice(2)]
  // A model without metadata takes rows as multi-label rows, as models exported before soft targets.
  const rows = facts.targets === 'probabilities' || facts.targets === 'multi-label' || (facts.targets === undefined && isRows(labels, n))
  if (!rows) {
    const ids = idValues(labels, positions)
    const ignore = facts.ignoreIndex
    // An ignored position holds no class: checked as class 0, so that a bad id keeps its own index.
    checkLabelValues(ignore === undefined ? ids : Array.from(ids, (y) => (y === ignore ? 0 : y)), c)
    return { data: BigInt64Array.from(Array.from(ids, (y) => BigInt(y))), dims: positions }
  }
  const values = rowValues(labels, dims)
  const classesLast = toClassesLast(values, dims)
  if (facts.targets === 'probabilities') checkProbabilityValues(classesLast, c)
  else checkBinaryLabelValues(classesLast, c)
  return { data: Float32Array.from(values), dims }
}

/**
 * A per-position input (`sample_weight`, `mask`) of logits with positions `[N, d1, …, dk]`: one
 * entry per position, or one per sample, repeated at each of its positions. `SHAPE_MISMATCH`,
 * `SAMPLE_WEIGHT_VALUE` and `MASK_VALUE` as the core's losses give them.
 */
export function positionFeed(values: ArrayLike<number>, positions: readonly number[], field: 'sampleWeight' | 'mask'): HostTensor {
  const n = positions[0]!
  const size = sizeOf(positions)
  check(
    values.length === size || values.length === n,
    'SHAPE_MISMATCH',
    positions.length === 1
      ? `${values.length} entries for ${n} rows of logits`
      : `${values.length} entries for ${n} samples or ${size} positions [${positions.join(', ')}] of logits`,
    field,
  )
  if (field === 'sampleWeight') checkSampleWeightValues(values)
  else checkMaskValues(values)
  const each = values.length === size ? 1 : size / n
  return { data: Float32Array.from({ length: size }, (_, k) => values[Math.floor(k / each)]!), dims: positions }
}

function sizeOf(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1)
}

function isTensor(labels: LossLabels): labels is HostTensor {
  return 'dims' in labels && 'data' in labels
}

/** Whether `labels` are given as rows `[N][C]`, or as a tensor with a class axis. */
function isRows(labels: LossLabels, n: number): boolean {
  if (isTensor(labels)) return labels.dims.length >= 2
  return n > 0 && Array.isArray((labels as ArrayLike<unknown>)[0])
}

/** Class ids as a flat list over the positions, checked to be as many as the positions. */
function idValues(labels: LossLabels, positions: readonly number[]): ArrayLike<number> {
  if (isTensor(labels)) {
    check(
      labels.dims.length === positions.length && labels.dims.every((d, k) => d === positions[k]),
      'LABELS_SHAPE',
      `class ids of logits with positions [${positions.join(', ')}] must have that shape, got [${labels.dims.join(', ')}]`,
      'labels',
    )
    return Array.from(labels.data as ArrayLike<number | bigint>, Number)
  }
  const ids = labels as ArrayLike<number>
  const size = sizeOf(positions)
  check(
    ids.length === size,
    'LABELS_SHAPE',
    positions.length === 1
      ? `${ids.length} labels for ${size} rows of logits`
      : `${ids.length} labels for the ${size} positions [${positions.join(', ')}] of dense logits`,
    'labels',
  )
  return ids
}

/** Rows with a class axis (`[N][C]`, or a tensor with the logits' shape `dims`), flat in that layout. */
function rowValues(labels: LossLabels, dims: readonly number[]): number[] {
  const [n, c] = dims as [number, number]
  if (isTensor(labels)) {
    check(
      labels.dims.length === dims.length && labels.dims.every((d, k) => d === dims[k]),
      'LABELS_SHAPE',
      `targets must have the logits' shape [${dims.join(', ')}], got [${labels.dims.join(', ')}]`,
      'labels',
    )
    return Array.from(labels.data as ArrayLike<number>)
  }
  check(
    dims.length === 2,
    'LABELS_SHAPE',
    `targets of dense logits [${dims.join(', ')}] are a tensor with their shape: pass { data, dims }`,
    'labels',
  )
  const rows = labels as readonly (readonly number[])[]
  check(rows.length === n, 'LABELS_SHAPE', `${rows.length} labels for ${n} rows of logits`, 'labels')
  rows.forEach((row, i) => {
    check(
      Array.isArray(row) && row.length === c,
      'LABELS_SHAPE',
      `label row ${i} has ${Array.isArray(row) ? row.length : 'no'} entries for ${c} logits`,
      'labels',
    )
  })
  return rows.flat()
}

/**
 * The value check of a loss model's logits (`[N, C]` or `[N, C, d1, …, dk]`) against its `labels`
 * feed (from {@link labelFeed}) and `mask` feed, as the core's losses make it (`checkLogitValues`,
 * `LOGITS_NOT_FINITE`): every entry finite, or `−∞` at a class masked out of its row
 * (docs/spec.md#12-masked-classes), but not at a target of a row that counts (the mask's 1s, ids
 * other than the ignore label) nor in every class of a single-label row.
 */
export function checkLogitFeed(logits: HostTensor, labels: HostTensor, mask: HostTensor | undefined, facts: LossModelFacts): void {
  const dims = logits.dims
  const c = dims[1]!
  const ids = labels.data instanceof BigInt64Array
  // The logits of several heads take no masked class: each is finite, as the core checks them.
  if (facts.heads > 1) {
    checkFiniteValues(logits.data as ArrayLike<number>, 'logits')
    return
  }
  const targets = ids ? Array.from(labels.data, Number) : toClassesLast(labels.data as ArrayLike<number>, dims)
  const rows = logits.data.length / c
  const ignore = facts.ignoreIndex
  const counted = Float32Array.from({ length: rows }, (_, i) =>
    (mask === undefined || mask.data[i] !== 0) && !(ids && targets[i] === ignore) ? 1 : 0,
  )
  const kind = ids ? 'ids' : facts.targets === 'probabilities' ? 'probabilities' : 'multi-label'
  checkLogitValues(toClassesLast(logits.data as ArrayLike<number>, dims), c, { kind, values: targets, counted })
}

/** Values `[N, C, d1, …, dk]` with the class axis moved last, so that a check's row and class are the position's. */
function toClassesLast(values: ArrayLike<number>, dims: readonly number[]): ArrayLike<number> {
  if (dims.length === 2) return values
  const c = dims[1]!
  const inner = sizeOf(dims.slice(2))
  const out = new Array<number>(values.length)
  for (let k = 0; k < values.length; k++) {
    const position = Math.floor(k / (c * inner)) * inner + (k % inner)
    out[position * c + (Math.floor(k / inner) % c)] = values[k]!
  }
  return out
}
