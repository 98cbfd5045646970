import {
  type LoopBody,
  type TensorOps,
  broadcastShapes,
  check,
  checkConstant,
  dimsAgree,
  matmulShape,
  normalizeAxes,
  reducedShape,
  reshapedShape,
  transposedShape,
  segmentSumShape,
} from '@logit-perturb/core/backend'
import { PythonProgram } from './program.js'
import type { PyTensor } from './tensor.js'

/** A {@link TensorOps} that writes PyTorch statements; `program` is where they go. */
export interface PythonOps extends TensorOps<PyTensor> {
  /** The statements written so far. */
  readonly program: PythonProgram
  /** A tensor named by the Python variable `name` (a function argument), of a known shape and type. */
  input(name: string, dtype: 'float32' | 'int32', shape: readonly number[]): PyTensor
}

/** The Python variables of the emitted function that hold the logits' dtype and device. */
export const DTYPE = 'dtype'
export const DEVICE = 'device'

/** A number as Python source that reads back as the same double. */
export function pyNumber(v: number): string {
  if (Number.isNaN(v)) return 'math.nan'
  if (v === Infinity) return 'math.inf'
  if (v === -Infinity) return '-math.inf'
  if (Object.is(v, -0)) return '-0.0'
  const s = String(v)
  return /[.e]/.test(s) || !Number.isInteger(v) ? s : `${s}.0`
}

/** A shape as a Python tuple. */
function pyShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`
}

/**
 * The PyTorch backend (einops' symbolic backends are the model, as for ONNX): every op writes a
 * statement of Python source to `program` and returns a {@link PyTensor} carrying the static shape
 * and element type, so the core's rules, written once against `TensorOps`, become the body of a
 * `torch.nn.Module` without being re-derived. It reads no values, so it has no `checks`; and it has
 * no `customGradient`: torch's autograd differentiates the written ops, the stop-gradient searches
 * are detached, and the through-gradient searches are differentiated step by step.
 *
 * How each op is written, where it is not the torch function of the same name:
 * - float tensors have the logits' dtype (`dtype`, float64 or float32 at run time), integer ones are
 *   `torch.long`; an integer operand of a float op is cast first, and `div` is a true division;
 * - `constant` → a scalar as a number literal, anything larger as a buffer of the module (float64,
 *   cast to `dtype` per call);
 * - `greater`, `equal` → the comparison cast to `dtype`; `where` reads the comparison itself;
 * - `oneHot(labels, C)` → `labels[:, None] == arange(C)` cast to `dtype` (a label outside `[0, C)`
 *   gives a zero row, as on every backend); a sum over the classes of it times row factors, or of
 *   a tensor times it, is a `torch.gather` (`classRowSum`), and the matrix itself is made only
 *   where something else reads it;
 * - `segmentSum` → `zeros(S, ...).index_add(0, ids, x)`: `O(N·C)`, differentiable (a count given
 *   as a tensor is read with `int(...)`);
 * - `cumsum` → `torch.cumsum`; `cast` → `.to(torch.long)` or `.to(dtype)`;
 * - `softplus` → `clamp(x, min=0) + log1p(exp(−|x|))` (torch's own switches to `x` above 20);
 * - `sum`/`mean`/`max` over no axes → the tensor itself, as the reference;
 * - `loop` → a Python `for` loop when the body is the same at every iteration (it reads the
 *   iteration from its `index` tensor), else unrolled;
 * - `stopGradient` → `detach()`;
 * - `randomNormal` → `torch.randn_like(x) * stddev`, from torch's generator (`torch.manual_seed`), not `seed`.
 */
export function createPythonOps(program: PythonProgram = new PythonProgram()): PythonOps {
  const own = (x: PyTensor): PyTensor => {
    check(x.program === program, 'INVALID_PARAMETER', `tensor ${x.expr} belongs to another program`)
    return x
  }
  const make = (expr: string, shape: readonly number[], dtype: 'float32' | 'int32', mask?: string): PyTensor =>
    mask === undefined ? { program, expr, shape: [...shape], dtype } : { program, expr, shape: [...shape], dtype, mask }
  const bind = (stem: string, code: string, shape: readonly number[], dtype: 'float32' | 'int32', mask?: string): PyTensor =>
    program.bind(stem, code, (name) => make(name, shape, dtype, mask))
  /** The operand as a tensor expression: a literal becomes a 0-d tensor of the logits' dtype and device. */
  const tensor = (x: PyTensor): PyTensor => {
    if (own(x).literal === undefined) return x
    const dtype = x.dtype === 'int32' ? 'torch.long' : DTYPE
    const code = `torch.tensor(${x.expr}, dtype=${dtype}, device=${DEVICE})`
    // Made once, at the start of the function, not at each iteration of a loop that uses it.
    return program.lookup(code) ?? program.bindAtStart(program.fresh('scalar'), code, (name) => make(name, [], x.dtype))
  }
  const asFloat = (x: PyTensor): PyTensor => {
    if (own(x).dtype === 'float32') return x
    if (x.literal !== undefined) return make(pyNumber(x.literal), [], 'float32')
    return bind('as_float', `${x.expr}.to(${DTYPE})`, x.shape, 'float32')
  }
  /** Operands brought to one element type: integer only if both are. */
  const unify = (a: PyTensor, b: PyTensor): [PyTensor, PyTensor] => (own(a).dtype === own(b).dtype ? [a, b] : [asFloat(a), asFloat(b)])
  /** An operand of an infix operator: negative literals in parentheses. */
  const operand = (x: PyTensor): string => (x.literal !== undefined && x.expr.startsWith('-') ? `(${x.expr})` : x.expr)

  const infix =
    (stem: string, operator: string, float = false) =>
    (a: PyTensor, b: PyTensor): PyTensor => {
      let [x, y] = float ? [asFloat(a), asFloat(b)] : unify(a, b)
      // Two literals would make a Python number, not a tensor.
      if (x.literal !== undefined && y.literal !== undefined) x = tensor(x)
      return bind(stem, `${operand(x)} ${operator} ${operand(y)}`, broadcastShapes(x.shape, y.shape), x.dtype)
    }
  const extremum = (stem: 'maximum' | 'minimum', bound: 'min' | 'max') => (a: PyTensor, b: PyTensor) => {
    const [x, y] = unify(a, b)
    const shape = broadcastShapes(x.shape, y.shape)
    if (y.literal !== undefined && x.literal === undefined) {
      const clamped = bind(stem, `torch.clamp(${x.expr}, ${bound}=${y.expr})`, shape, x.dtype)
      return stem === 'maximum' ? { ...clamped, clampOf: { x, bound: y } } : clamped
    }
    if (x.literal !== undefined && y.literal === undefined) return bind(stem, `torch.clamp(${y.expr}, ${bound}=${x.expr})`, shape, x.dtype)
    return bind(stem, `torch.${stem}(${tensor(x).expr}, ${tensor(y).expr})`, shape, x.dtype)
  }
  const call = (fn: string, stem: string, float: boolean) => (a: PyTensor) => {
    const x = tensor(float ? asFloat(a) : a)
    return bind(stem, `${fn}(${x.expr})`, x.shape, x.dtype)
  }
  const compare = (stem: string, operator: string) => (a: PyTensor, b: PyTensor) => {
    let [x, y] = unify(a, b)
    if (x.literal !== undefined && y.literal !== undefined) x = tensor(x)
    const condition = `(${operand(x)} ${operator} ${operand(y)})`
    return bind(stem, `${condition}.to(${DTYPE})`, broadcastShapes(x.shape, y.shape), 'float32', condition)
  }
  const reduce =
    (fn: 'sum' | 'mean' | 'amax', stem: string) =>
    (a: PyTensor, axes: readonly number[], keepDims = false) => {
      const x = tensor(fn === 'mean' ? asFloat(a) : a)
      const ax = [...new Set(normalizeAxes(axes, x.shape.length))].sort((p, q) => p - q)
      // torch reads an empty dim list as "all axes"; the interface (and the reference) as "none".
      if (ax.length === 0) return x
      if (fn === 'sum') {
        const overClasses = classRowSum(x, ax, keepDims)
        if (overClasses !== undefined) return overClasses
      }
      const dims = ax.length === 1 ? String(ax[0]) : pyShape(ax)
      // torch.amax refuses an axis of size 0 (a worker's empty shard); the interface's maximum over
      // no entries is −∞, as the reference's: an axis known only at run time gets one entry of −∞.
      const open = fn === 'amax' ? ax.filter((k) => x.shape[k] === -1) : []
      let source = x.expr
      if (open.length > 0) {
        const pad: number[] = []
        for (let d = x.shape.length - 1; d >= Math.min(...open); d--) pad.push(0, open.includes(d) ? 1 : 0)
        source = `torch.nn.functional.pad(${source}, ${pyShape(pad)}, value=-math.inf)`
      }
      return bind(
        stem,
        `torch.${fn}(${source}, dim=${dims}, keepdim=${keepDims ? 'True' : 'False'})`,
        reducedShape(x.shape, ax, keepDims),
        x.dtype,
      )
    }

  /**
   * The sum over the classes (`[N, C]`, axis 1) of `one_hot(ids)·w` (`w`, `[N, 1]`) or of
   * `x·one_hot(ids)·w`, without the `[N, C]` product: `w`, or `x[i, ids_i]·w_i` by a gather,
   * whose backward pass writes one entry per row. A gather of `clamp(x, min=b)` is the clamp of
   * the gather. The same values (the product's other entries are zeros, but for a `−∞` or NaN in
   * `x`, which the clamp or the value checks rule out); ids outside `[0, C)`, which the one-hot
   * matrix makes a zero row, make the gather fail. Undefined where the tensor is neither.
   */
  const classRowSum = (x: PyTensor, axes: readonly number[], keepDims: boolean): PyTensor | undefined => {
    if (x.shape.length !== 2 || axes.length !== 1 || axes[0] !== 1) return undefined
    const rows = (t: PyTensor) => (keepDims ? t : ops.reshape(t, [-1]))
    if (x.oneHot !== undefined) {
      const w = x.oneHot.weight
      return w !== undefined && w.shape.length === 2 && w.shape[1] === 1 && dimsAgree(w.shape[0]!, x.shape[0]!) && w.shape[0] !== 1
        ? rows(w)
        : undefined
    }
    if (x.picked === undefined) return undefined
    const { oneHot } = x.picked
    const source = x.picked.x.clampOf?.x ?? x.picked.x
    const index = bind('ids', `${oneHot.ids.expr}.reshape(-1, 1)`, [oneHot.ids.shape[0]!, 1], 'int32')
    let picked = bind('picked', `torch.gather(${source.expr}, 1, ${index.expr})`, [x.shape[0]!, 1], 'float32')
    const clamp = x.picked.x.clampOf
    if (clamp !== undefined) picked = ops.maximum(picked, clamp.bound)
    return rows(oneHot.weight === undefined ? picked : ops.mul(picked, oneHot.weight))
  }
  /**
   * `a·b`, with the factors of a label matrix kept (see `classRowSum`): `one_hot(ids)·w` times a
   * row factor (`[N, 1]` or a scalar) is `one_hot(ids)·(w·r)`; times a tensor of its own shape, a
   * product whose row sum is a gather.
   */
  const product = (a: PyTensor, b: PyTensor): PyTensor => {
    const result = infix('mul', '*')(a, b)
    const [hot, other] = a.oneHot !== undefined ? [a, b] : b.oneHot !== undefined ? [b, a] : [undefined, undefined]
    if (hot?.oneHot === undefined || other === undefined || other.dtype !== 'float32') return result
    const [n, c] = hot.shape as [number, number]
    const perRow =
      other.shape.length === 0 ||
      (other.shape.length === 2 && other.shape[1] === 1 && (other.shape[0] === 1 || dimsAgree(other.shape[0]!, n)))
    if (perRow && sameShape(result.shape, hot.shape)) {
      const weight = hot.oneHot.weight === undefined ? other : ops.mul(hot.oneHot.weight, other)
      // A weight that is not one per row ([1, 1], a scalar) is left to the plain product's sum.
      return { ...result, oneHot: { ids: hot.oneHot.ids, weight } }
    }
    const full = other.shape.length === 2 && other.shape[0] === n && other.shape[1] === c
    return full ? { ...result, picked: { x: other, oneHot: hot.oneHot } } : result
  }

  const ops: PythonOps = {
    name: 'pytorch',
    program,

    input: (name, dtype, shape) => {
      program.declareName(name)
      return make(name, shape, dtype)
    },

    constant(data, shape, dtype = 'float32') {
      checkConstant(data, shape, dtype)
      const values = Array.from(data)
      const write = dtype === 'int32' ? (v: number) => String(v) : pyNumber
      if (shape.length === 0) return { program, expr: write(values[0]!), shape: [], dtype, literal: values[0]! }
      const torchType = dtype === 'int32' ? 'torch.long' : 'torch.float64'
      const reshaped = shape.length === 1 ? '' : `.reshape(${pyShape(shape)})`
      const progression = arithmeticProgression(values)
      // A constant, or an index table (`0, 1, …, C − 1`, or any exact progression), is written by its
      // rule rather than its values, so the file does not grow with the class count.
      const init = values.every((v) => Object.is(v, values[0]))
        ? `torch.full(${pyShape(shape)}, ${write(values[0]!)}, dtype=${torchType})`
        : progression !== undefined
          ? `${arange(values.length, torchType, progression, write)}${reshaped}`
          : `torch.tensor([${values.map(write).join(', ')}], dtype=${torchType})${reshaped}`
      const buffer = program.buffer(init, dtype)
      const cast = dtype === 'int32' ? `device=${DEVICE}` : `device=${DEVICE}, dtype=${DTYPE}`
      return program.bindAtStart(buffer.name, `self.${buffer.name}.to(${cast})`, (name) => make(name, shape, dtype))
    },
    shape: (x) => own(x).shape,
    reshape(a, shape) {
      const x = tensor(a)
      return bind('reshape', `${x.expr}.reshape(${pyShape(shape)})`, reshapedShape(x.shape, shape), x.dtype)
    },
    transpose(a, perm) {
      const x = tensor(a)
      return bind('transpose', `${x.expr}.permute(${perm.join(', ')})`, transposedShape(x.shape, perm), x.dtype)
    },

    add: infix('add', '+'),
    sub: infix('sub', '-'),
    mul: (a, b) => product(a, b),
    div: infix('div', '/', true),
    maximum: extremum('maximum', 'min'),
    minimum: extremum('minimum', 'max'),

    neg: (a) => {
      const x = tensor(a)
      return bind('neg', `-${x.expr}`, x.shape, x.dtype)
    },
    abs: call('torch.abs', 'abs', false),
    sign: call('torch.sign', 'sign', false),
    exp: call('torch.exp', 'exp', true),
    log: call('torch.log', 'log', true),
    sqrt: call('torch.sqrt', 'sqrt', true),
    floor: call('torch.floor', 'floor', true),
    // torch.round rounds half to even, as the interface asks.
    round: call('torch.round', 'round', true),

    logSoftmax: (a) => {
      const x = tensor(asFloat(a))
      return bind('log_softmax', `torch.log_softmax(${x.expr}, dim=-1)`, x.shape, 'float32')
    },
    softmax: (a) => {
      const x = tensor(asFloat(a))
      return bind('softmax', `torch.softmax(${x.expr}, dim=-1)`, x.shape, 'float32')
    },
    softplus: (a) => {
      const x = tensor(asFloat(a))
      return bind('softplus', `torch.clamp(${x.expr}, min=0) + torch.log1p(torch.exp(-torch.abs(${x.expr})))`, x.shape, 'float32')
    },
    sigmoid: call('torch.sigmoid', 'sigmoid', true),

    sum: reduce('sum', 'sum'),
    mean: reduce('mean', 'mean'),
    max: reduce('amax', 'max'),

    matmul(a, b, transposeA = false, transposeB = false) {
      const [x, y] = [tensor(asFloat(a)), tensor(asFloat(b))]
      const [m, n] = matmulShape(x.shape, y.shape, transposeA, transposeB)
      const left = transposeA ? `${x.expr}.t()` : x.expr
      const right = transposeB ? `${y.expr}.t()` : y.expr
      return bind('matmul', `${left} @ ${right}`, [m, n], 'float32')
    },

    oneHot(labels, depth) {
      check(Number.isInteger(depth) && depth > 0, 'INVALID_PARAMETER', `oneHot depth must be a positive integer, got ${depth}`)
      const ids = tensor(labels)
      const condition = `(${ids.expr}.reshape(-1, 1) == torch.arange(${depth}, device=${DEVICE}))`
      const matrix = bind('one_hot', `${condition}.to(${DTYPE})`, [ids.shape[0]!, depth], 'float32', condition)
      return ids.dtype === 'int32' && ids.shape.length === 1 ? { ...matrix, oneHot: { ids } } : matrix
    },
    gather(a, indices, axis) {
      const x = tensor(a)
      const ids = tensor(indices)
      const [ax] = normalizeAxes([axis], x.shape.length) as [number]
      check(
        ids.dtype === 'int32' && ids.shape.length === 1,
        'SHAPE_MISMATCH',
        `gather needs integer indices [N], got [${ids.shape.join(', ')}]`,
      )
      const shape = [...x.shape.slice(0, ax), ...ids.shape, ...x.shape.slice(ax + 1)]
      return bind('gather', `torch.index_select(${x.expr}, ${ax}, ${ids.expr})`, shape, x.dtype)
    },
    segmentSum(a, segmentIds, numSegments) {
      const x = tensor(asFloat(a))
      const ids = tensor(segmentIds)
      const outShape = segmentSumShape(x.shape, ids.shape, typeof numSegments === 'number' ? numSegments : -1)
      // A count that depends on the batch (the classes present in it) is read once per call.
      const rows =
        typeof numSegments === 'number' ? String(numSegments) : bind('segments', `int(${tensor(numSegments).expr})`, [], 'int32').expr
      const dims = [rows, ...outShape.slice(1)]
      const zeros = `torch.zeros(${dims.length === 1 ? `(${rows},)` : `(${dims.join(', ')})`}, dtype=${DTYPE}, device=${DEVICE})`
      return bind('segment_sum', `${zeros}.index_add(0, ${ids.expr}, ${x.expr})`, outShape, 'float32')
    },
    cumsum(a, axis) {
      const x = tensor(a)
      const [ax] = normalizeAxes([axis], x.shape.length) as [number]
      return bind('cumsum', `torch.cumsum(${x.expr}, dim=${ax})`, x.shape, x.dtype)
    },
    cast(a, dtype) {
      if (own(a).dtype === dtype) return a
      const x = tensor(a)
      return bind('cast', `${x.expr}.to(${dtype === 'int32' ? 'torch.long' : DTYPE})`, x.shape, dtype)
    },

    greater: compare('greater', '>'),
    equal: compare('equal', '=='),
    where(cond, a, b) {
      const condition = own(cond).mask ?? `(${tensor(cond).expr} != 0)`
      const [x, y] = unify(a, b).map(tensor) as [PyTensor, PyTensor]
      const shape = broadcastShapes(broadcastShapes(cond.shape, x.shape), y.shape)
      return bind('where', `torch.where(${condition}, ${x.expr}, ${y.expr})`, shape, x.dtype)
    },

    stopGradient: (a) => {
      const x = tensor(a)
      return bind('detached', `${x.expr}.detach()`, x.shape, x.dtype)
    },
    // torch's generator, seeded by the caller's torch.manual_seed: `seed` is not the module's.
    randomNormal: (like, stddev) => {
      const x = tensor(like)
      return bind('random_normal', `torch.randn_like(${x.expr}) * ${pyNumber(stddev)}`, x.shape, 'float32')
    },

    customGradient: (x, f) => writeCustomGradient(ops, tensor(x), f),
    loop: (count, state, body) => writeLoop(ops, count, state, body),
    label: (x, name) => program.prefer(tensor(x).expr, name),
  }
  return ops
}

/**
 * `f(x).value` with `f(x).gradient` as its backward pass (`TensorOps.customGradient`): two methods
 * of the module, `_<name>_forward` (the value and the tensors `f` saves) and `_<name>_reverse`
 * (the gradient from them), joined by `_CustomGradient`, a `torch.autograd.Function`. Autograd then
 * keeps the saved tensors, not every intermediate of a search of K steps, and runs the rule's own
 * reverse pass. A module compiled by `torch.jit.script`, which has no `autograd.Function`, calls
 * the forward method and differentiates through its ops. The methods are given the tensors their
 * bodies read from the function (`captured`); the same call traced again in scope (another
 * reduction) is written once.
 */
function writeCustomGradient(ops: PythonOps, x: PyTensor, f: Parameters<NonNullable<PythonOps['customGradient']>>[1]): PyTensor {
  const { program } = ops
  const name = program.fresh('search')
  const input: PyTensor = { program, expr: program.fresh('x'), shape: x.shape, dtype: 'float32' }
  let saved: readonly PyTensor[] = []
  const forward = program.detached(() => {
    const result = f(input, (tensors) => {
      saved = tensors
    })
    return {
      value: result.value,
      gradient: result.gradient,
      saved: saved.map((t) => (t.literal === undefined ? t : ops.add(t, ops.constant([0], [])))),
    }
  })
  const value = forward.result.value
  const forwardLines = [...forward.lines, `return ${value.expr}, [${forward.result.saved.map((t) => t.expr).join(', ')}]`]
  const captured = program.freeNames(forwardLines, [input.expr])
  // The same method traced again (another reduction's trace): the same text but for its own names.
  const own = new Map<string, string>()
  const text = forwardLines.join('\n').replace(/\b[a-z][a-z0-9_]*_\d+\b/g, (n) => {
    if (captured.includes(n)) return n
    if (!own.has(n)) own.set(n, `#${own.size}`)
    return own.get(n)!
  })
  const key = `custom gradient of ${x.expr}: ${text}`
  const known = program.lookup(key)
  if (known !== undefined) return known
  const dy: PyTensor = { program, expr: program.fresh('dy'), shape: value.shape, dtype: 'float32' }
  const savedVariables = forward.result.saved.map(
    (t) => ({ program, expr: program.fresh('saved'), shape: t.shape, dtype: t.dtype }) as PyTensor,
  )
  const reverse = program.detached(() => forward.result.gradient(dy, savedVariables))
  const reverseLines = [...reverse.lines, `return ${reverse.result.expr}`]
  const reverseCaptured = program.freeNames(reverseLines, [dy.expr, ...savedVariables.map((t) => t.expr)])
  const unpack = (names: readonly string[], list: string) => names.map((n, i) => `${n} = ${list}[${i}]`)
  const context = 'dtype: torch.dtype, device: torch.device'
  program.methods.push(
    {
      header: [`def _${name}_forward(self, ${input.expr}: Tensor, captured: List[Tensor], ${context}) -> Tuple[Tensor, List[Tensor]]:`],
      lines: [...unpack(captured, 'captured'), ...forwardLines],
    },
    {
      header: [
        '@torch.jit.unused',
        `def _${name}_reverse(self, ${dy.expr}: Tensor, saved: List[Tensor], captured: List[Tensor], ${context}) -> Tensor:`,
      ],
      lines: [
        ...unpack(
          savedVariables.map((t) => t.expr),
          'saved',
        ),
        ...unpack(reverseCaptured, 'captured'),
        ...reverseLines,
      ],
    },
  )
  const list = (names: readonly string[]) => `[${names.join(', ')}]`
  program.block('if torch.jit.is_scripting():', () => {
    program.line(`${name} = self._${name}_forward(${x.expr}, ${list(captured)}, ${DTYPE}, ${DEVICE})[0]`)
  })
  program.block('else:', () => {
    program.line(
      `${name} = _CustomGradient.apply(${x.expr}, self._${name}_forward, self._${name}_reverse, ${list(captured)}, ${list(reverseCaptured)}, ${DTYPE}, ${DEVICE})`,
    )
  })
  const result: PyTensor = { program, expr: name, shape: value.shape, dtype: 'float32' }
  program.remember(key, result)
  return result
}

/**
 * `count` iterations of `body` as a Python `for` loop over fresh state variables, when tracing the
 * body at iterations 0 and 1 writes the same statements (it reads the iteration from its `index`
 * tensor, not from the host number `k`); else unrolled, one traced body per iteration.
 */
function writeLoop(ops: PythonOps, count: number, state: readonly PyTensor[], body: LoopBody<PyTensor>): readonly PyTensor[] {
  const { program } = ops
  const unrolled = () => {
    let current = state
    for (let k = 0; k < count; k++) {
      const state = current
      current = program.scoped(() => body(k, state, ops.constant([k], [])))
    }
    return current
  }
  if (count <= 1) return unrolled()
  const names = state.map(() => program.fresh('state'))
  const k = program.fresh('k')
  const variables = state.map((s, i) => ({ ...s, expr: names[i]!, literal: undefined, mask: undefined }) as PyTensor)
  const trace = (at: number) =>
    program.dryRun(() => {
      const index = program.bind('index', `torch.tensor(float(${k}), dtype=${DTYPE}, device=${DEVICE})`, (name) => ({
        program,
        expr: name,
        shape: [],
        dtype: 'float32',
      }))
      return body(at, variables, index)
    })
  const [first, second] = [trace(0), trace(1)]
  const same =
    first.lines.join('\n') === second.lines.join('\n') &&
    first.result.length === state.length &&
    first.result.every((r, i) => r.expr === second.result[i]!.expr && sameShape(r.shape, state[i]!.shape))
  if (!same) return unrolled()
  // The same loop from the same state, written before in scope (a rule traced again for another
  // reduction): its results.
  const key = `loop ${count} ${state.map((s) => s.expr).join(',')}: ${canonical(first.lines, [...names, k])}`
  const written = state.map((_, i) => program.lookup(`${key} -> ${i}`))
  if (written.every((t) => t !== undefined)) return written as PyTensor[]
  for (const [i, v] of variables.entries()) program.remember(`${key} -> ${i}`, v)
  for (const [i, s] of state.entries()) {
    const initial = s.literal === undefined ? s.expr : `torch.tensor(${s.expr}, dtype=${DTYPE}, device=${DEVICE})`
    program.line(`${names[i]} = ${initial}`)
  }
  program.block(`for ${k} in range(${count}):`, () => {
    const index = program.bind('index', `torch.tensor(float(${k}), dtype=${DTYPE}, device=${DEVICE})`, (name) => ({
      program,
      expr: name,
      shape: [],
      dtype: 'float32',
    }))
    const next = body(0, variables, index)
    program.line(`${names.join(', ')} = ${next.map((t) => t.expr).join(', ')}`)
  })
  return variables
}

/**
 * Statements with the names they bind, and the loop's own `names`, renamed by order of appearance:
 * the same text for the same loop traced at two points of the program.
 */
function canonical(lines: readonly string[], names: readonly string[]): string {
  const local = new Set([...names, ...lines.map((l) => /^(\S+) = /.exec(l)?.[1]).filter((n) => n !== undefined)])
  const renamed = new Map<string, string>()
  return lines.join('\n').replace(/\b[a-z][a-z0-9_]*_\d+\b/g, (name) => {
    if (!local.has(name)) return name
    if (!renamed.has(name)) renamed.set(name, `#${renamed.size}`)
    return renamed.get(name)!
  })
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => dimsAgree(d, b[i]!))
}

/**
 * `[start, step]` when `values` are exactly `start + k·step` in float64 for `k = 0, 1, …` (at least
 * three of them, `step ≠ 0`), which `torch.arange(n) * step + start` reproduces to the bit: the same
 * two IEEE operations on the same exact integers `k`.
 */
function arithmeticProgression(values: readonly number[]): [number, number] | undefined {
  if (values.length < 3) return undefined
  const start = values[0]!
  const step = values[1]! - start
  if (step === 0 || !Number.isFinite(step)) return undefined
  for (let k = 0; k < values.length; k++) if (!Object.is(values[k], k * step + start)) return undefined
  return [start, step]
}

/** `torch.arange(n)` scaled and shifted to the progression `[start, step]`. */
function arange(n: number, torchType: string, [start, step]: [number, number], write: (v: number) => string): string {
  const base = `torch.arange(${n}, dtype=${torchType})`
  const scaled = step === 1 ? base : `(${base} * ${write(step)})`
  return start === 0 ? scaled : `(${scaled} + ${write(start)})`
}
