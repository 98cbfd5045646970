import {
  type TensorOps,
  broadcastShapes,
  check,
  checkConstant,
  matmulShape,
  normalizeAxes,
  reducedShape,
  reshapedShape,
  transposedShape,
  segmentSumShape,
  staticSize,
} from '@logit-perturb/core/backend'
import { type Attribute, ElemType, type ElemTypeName, GraphBuilder } from './graph.js'

import type { SymbolicTensor } from './tensor.js'

/** A {@link TensorOps} that builds an ONNX graph; `graph` is where its nodes go. */
export interface SymbolicOps extends TensorOps<SymbolicTensor> {
  /** The graph the ops append their nodes to. */
  readonly graph: GraphBuilder
  /**
   * A graph input as a tensor: `dims` may hold `-1` for a size fed at run time, which the model
   * declares as the symbolic dimension `dimName` (default `"N"`), or a name, declared as that
   * symbolic dimension (`"d1"`, the height of dense logits). An int64 input (labels, as ONNX models
   * usually take them) is cast to int32, the integer type the rules work with.
   */
  input(name: string, dtype: 'float32' | 'int32' | 'int64', shape: readonly (number | string)[], dimName?: string): SymbolicTensor
}

/**
 * The symbolic backend (einops' symbolic backends are the model): every op appends ONNX nodes
 * (default domain, opset of `graph`, 17 by default) to `graph` and returns a {@link SymbolicTensor}
 * carrying the static shape and element type, so the core's rules, written once against
 * `TensorOps`, become ONNX graphs without being re-derived. It reads no values, so it has no
 * `checks`: label ranges and finiteness are the caller's business when the graph runs.
 *
 * How each op maps, where it is not one ONNX operator of the same name:
 * - `constant` → an initializer (float32 or int32); small and all-zero constants are shared;
 * - integer operands of float-only ops (and mixed int/float pairs) are cast to float32 first, so
 *   results match the reference, which computes everything in float64; `div` is always a true
 *   division in float32;
 * - `greater`, `equal` → `Greater`/`Equal` then `Cast` to a float 0/1 mask; `where` casts its mask
 *   to bool (or reuses the comparison's boolean);
 * - `oneHot(labels, C)` → `Equal(labels[:, None], [0..C−1])` cast to float (a label outside
 *   `[0, C)` gives a zero row);
 * - `segmentSum` → `ScatterND` with `reduction = "add"` into zeros `[S, ...]`: `O(N·C)`, no
 *   one-hot product; a count given as a tensor makes the zeros with `Expand` at run time;
 * - `cumsum` → `CumSum`; `cast` → `Cast` (float to int32 truncates);
 * - `matmul` → `Gemm` with `transA`/`transB`; `softmax`/`logSoftmax` → `Softmax`/`LogSoftmax` on
 *   axis −1; `softplus` → `Softplus`; `sigmoid` → `Sigmoid` (onnxruntime-web computes it to about
 *   1e-7 absolute, not relative: `σ(−15)` is 17% off and `σ(x)` is 0 below −18; the rules use it
 *   where an absolute error of that size is harmless); `round` → `Round` (half to even);
 *   `stopGradient` → `Identity`;
 * - `sum`/`mean`/`max` → `ReduceSum`/`ReduceMean`/`ReduceMax` (no axes: `Identity`, as the reference).
 */
export function createSymbolicOps(graph: GraphBuilder = new GraphBuilder()): SymbolicOps {
  const own = (x: SymbolicTensor): SymbolicTensor => {
    check(x.graph === graph, 'INVALID_PARAMETER', `tensor ${x.name} belongs to another graph`)
    return x
  }
  const make = (name: string, shape: readonly number[], dtype: 'float32' | 'int32', mask?: string): SymbolicTensor =>
    mask === undefined ? { graph, name, shape: [...shape], dtype } : { graph, name, shape: [...shape], dtype, mask }
  const int64 = (values: readonly number[]): string => graph.constant('int64', [values.length], values)
  const cast = (name: string, to: ElemTypeName): string => graph.op('Cast', [name], [{ name: 'to', kind: 'int', value: ElemType[to] }])
  const asFloat = (x: SymbolicTensor): SymbolicTensor =>
    own(x).dtype === 'float32' ? x : make(cast(x.name, 'float32'), x.shape, 'float32')
  const asInt = (x: SymbolicTensor): string => (own(x).dtype === 'int32' ? x.name : cast(x.name, 'int32'))
  // ScatterND indices must be int64 and address whole rows: ids as an [N, 1] column, made once per
  // ids tensor (a search takes class sums by the same labels at every step).
  const indexColumns = new Map<string, string>()
  const rowIndices = (ids: SymbolicTensor): string => {
    const known = indexColumns.get(own(ids).name)
    if (known !== undefined && graph.has(known)) return known
    const column = graph.op('Reshape', [cast(asInt(ids), 'int64'), int64([-1, 1])])
    indexColumns.set(ids.name, column)
    return column
  }
  // Zeros `[S, ...]` sized by a count known at run time (the classes present in the batch), made once
  // per count and shape: a search sums by class into the same zeros at every step.
  const zeroBlocks = new Map<string, string>()
  const zerosOf = (count: SymbolicTensor, shape: readonly number[]): string => {
    const key = `${own(count).name}:${shape.slice(1).join(',')}`
    const known = zeroBlocks.get(key)
    if (known !== undefined && graph.has(known)) return known
    const dims = graph.op(
      'Concat',
      [graph.op('Reshape', [cast(asInt(count), 'int64'), int64([1])]), int64(shape.slice(1))],
      [{ name: 'axis', kind: 'int', value: 0 }],
    )
    const zeros = graph.op('Expand', [graph.constant('float32', [], [0]), dims])
    zeroBlocks.set(key, zeros)
    return zeros
  }
  /** Operands brought to one element type: int32 only if both are. */
  const unify = (a: SymbolicTensor, b: SymbolicTensor): [SymbolicTensor, SymbolicTensor] =>
    own(a).dtype === own(b).dtype ? [a, b] : [asFloat(a), asFloat(b)]

  const binary =
    (opType: string) =>
    (a: SymbolicTensor, b: SymbolicTensor): SymbolicTensor => {
      const [x, y] = unify(a, b)
      return make(graph.op(opType, [x.name, y.name]), broadcastShapes(x.shape, y.shape), x.dtype)
    }
  const unaryAny =
    (opType: string) =>
    (x: SymbolicTensor): SymbolicTensor =>
      make(graph.op(opType, [own(x).name]), x.shape, x.dtype)
  const unaryFloat =
    (opType: string, attributes: Attribute[] = []) =>
    (x: SymbolicTensor): SymbolicTensor => {
      const f = asFloat(x)
      return make(graph.op(opType, [f.name], attributes), f.shape, 'float32')
    }
  const compare =
    (opType: 'Greater' | 'Equal') =>
    (a: SymbolicTensor, b: SymbolicTensor): SymbolicTensor => {
      const [x, y] = unify(a, b)
      const bool = graph.op(opType, [x.name, y.name])
      return make(cast(bool, 'float32'), broadcastShapes(x.shape, y.shape), 'float32', bool)
    }
  const reduce = (opType: 'ReduceSum' | 'ReduceMean' | 'ReduceMax', x: SymbolicTensor, axes: readonly number[], keepDims: boolean) => {
    const input = opType === 'ReduceMean' ? asFloat(x) : own(x)
    const ax = [...new Set(normalizeAxes(axes, input.shape.length))].sort((p, q) => p - q)
    // ONNX reads an empty axes list as "all axes"; the interface (and the reference) as "none".
    if (ax.length === 0) return make(graph.op('Identity', [input.name]), input.shape, input.dtype)
    const keep: Attribute = { name: 'keepdims', kind: 'int', value: keepDims ? 1 : 0 }
    // ReduceSum takes its axes as an input from opset 13 on; ReduceMean and ReduceMax from 18 on.
    const name =
      opType === 'ReduceSum' || graph.opset >= 18
        ? graph.op(opType, [input.name, int64(ax)], [keep])
        : graph.op(opType, [input.name], [keep, { name: 'axes', kind: 'ints', value: ax }])
    return make(name, reducedShape(input.shape, ax, keepDims), input.dtype)
  }

  const ops: SymbolicOps = {
    name: 'onnx',
    graph,

    input(name, dtype, dims, dimName = 'N') {
      graph.input({ name, elemType: dtype, dims: dims.map((d) => (typeof d === 'number' && d < 0 ? dimName : d)) })
      const shape = dims.map((d) => (typeof d === 'number' ? d : -1))
      if (dtype === 'int64') return make(cast(name, 'int32'), shape, 'int32')
      return make(name, shape, dtype)
    },

    constant(data, shape, dtype = 'float32') {
      checkConstant(data, shape, dtype)
      return make(graph.constant(dtype, shape, data), shape, dtype)
    },
    shape: (x) => own(x).shape,
    reshape(x, shape) {
      const out = reshapedShape(own(x).shape, shape)
      return make(graph.op('Reshape', [x.name, int64(shape)]), out, x.dtype)
    },
    transpose(x, perm) {
      const out = transposedShape(own(x).shape, perm)
      return make(graph.op('Transpose', [x.name], [{ name: 'perm', kind: 'ints', value: [...perm] }]), out, x.dtype)
    },

    add: binary('Add'),
    sub: binary('Sub'),
    mul: binary('Mul'),
    div: (a, b) => binary('Div')(asFloat(a), asFloat(b)),
    maximum: binary('Max'),
    minimum: binary('Min'),

    neg: unaryAny('Neg'),
    abs: unaryAny('Abs'),
    sign: unaryAny('Sign'),
    exp: unaryFloat('Exp'),
    log: unaryFloat('Log'),
    sqrt: unaryFloat('Sqrt'),
    floor: unaryFloat('Floor'),
    round: unaryFloat('Round'),

    logSoftmax: unaryFloat('LogSoftmax', [{ name: 'axis', kind: 'int', value: -1 }]),
    softmax: unaryFloat('Softmax', [{ name: 'axis', kind: 'int', value: -1 }]),
    softplus: unaryFloat('Softplus'),
    sigmoid: unaryFloat('Sigmoid'),

    sum: (x, axes, keepDims = false) => reduce('ReduceSum', x, axes, keepDims),
    mean: (x, axes, keepDims = false) => reduce('ReduceMean', x, axes, keepDims),
    max: (x, axes, keepDims = false) => reduce('ReduceMax', x, axes, keepDims),

    matmul(a, b, transposeA = false, transposeB = false) {
      const [x, y] = [asFloat(a), asFloat(b)]
      const [m, n] = matmulShape(x.shape, y.shape, transposeA, transposeB)
      const name = graph.op(
        'Gemm',
        [x.name, y.name],
        [
          { name: 'transA', kind: 'int', value: transposeA ? 1 : 0 },
          { name: 'transB', kind: 'int', value: transposeB ? 1 : 0 },
        ],
      )
      return make(name, [m, n], 'float32')
    },

    oneHot(labels, depth) {
      check(Number.isInteger(depth) && depth > 0, 'INVALID_PARAMETER', `oneHot depth must be a positive integer, got ${depth}`)
      // Equal against the class ids rather than ONNX OneHot, whose runtime kernels cover only some
      // index/depth/value type combinations; this form works for int32 labels everywhere.
      const column = graph.op('Reshape', [asInt(labels), int64([-1, 1])])
      const classes = graph.constant(
        'int32',
        [1, depth],
        Array.from({ length: depth }, (_, k) => k),
      )
      const bool = graph.op('Equal', [column, classes])
      return make(cast(bool, 'float32'), [staticSize(labels.shape), depth], 'float32', bool)
    },
    gather(x, indices, axis) {
      const rank = own(x).shape.length
      const [ax] = normalizeAxes([axis], rank) as [number]
      const name = graph.op('Gather', [x.name, asInt(indices)], [{ name: 'axis', kind: 'int', value: ax }])
      return make(name, [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)], x.dtype)
    },
    segmentSum(x, segmentIds, numSegments) {
      const data = asFloat(x)
      const outShape = segmentSumShape(data.shape, segmentIds.shape, typeof numSegments === 'number' ? numSegments : -1)
      const zeros =
        typeof numSegments === 'number'
          ? graph.constant('float32', outShape, new Float32Array(staticSize(outShape)))
          : zerosOf(numSegments, outShape)
      const name = graph.op('ScatterND', [zeros, rowIndices(segmentIds), data.name], [{ name: 'reduction', kind: 'string', value: 'add' }])
      return make(name, outShape, 'float32')
    },
    cumsum(x, axis) {
      const [ax] = normalizeAxes([axis], own(x).shape.length) as [number]
      return make(graph.op('CumSum', [x.name, graph.constant('int64', [], [ax])]), x.shape, x.dtype)
    },
    cast(x, dtype) {
      if (own(x).dtype === dtype) return x
      return make(cast(x.name, dtype), x.shape, dtype)
    },

    greater: compare('Greater'),
    equal: compare('Equal'),
    where(cond, a, b) {
      const bool = own(cond).mask ?? cast(cond.name, 'bool')
      const [x, y] = unify(a, b)
      const shape = broadcastShapes(broadcastShapes(cond.shape, x.shape), y.shape)
      return make(graph.op('Where', [bool, x.name, y.name]), shape, x.dtype)
    },

    stopGradient: (x) => make(graph.op('Identity', [own(x).name]), x.shape, x.dtype),
  }
  return ops
}
