/** A constant of the module: registered as a buffer in `__init__` and cast to the logits' dtype per call. */
export interface PyBuffer {
  /** The buffer's attribute name, `const_<k>`. */
  readonly name: string
  /** Its Python expression in `__init__` (`torch.tensor([...], dtype=torch.float64)`). */
  readonly init: string
  /** `'float32'`: cast to the logits' dtype in each call; `'int32'`: an index tensor (`torch.long`). */
  readonly dtype: 'float32' | 'int32'
}

/** A scope of statements: a function body, a branch, a loop body. */
interface Block {
  readonly lines: string[]
  /** Expressions already bound in this scope (and the scopes around it), by their code. */
  readonly known: Map<string, PyTensor>
  /** The body of a method of its own ({@link PythonProgram.detached}): the bindings around it are not its. */
  readonly isolated?: boolean
}

/**
 * A method of the module besides `_evaluate_rows`: the two halves of a custom gradient (see
 * `createPythonOps`). `lines` is its body, unindented; the first line of `header` is the `def`.
 */
export interface PyMethod {
  readonly header: readonly string[]
  readonly lines: readonly string[]
}

/** What the dry run of a block produced, to compare two traces of a loop body. */
export interface Trace<R> {
  readonly lines: readonly string[]
  readonly result: R
}

/**
 * The Python statements a symbolic backend writes, in nested blocks (a function body, the branches
 * of an `if`, a `for` loop), with fresh variable names and common subexpressions shared: an
 * expression already bound in the current scope or one around it is not written twice, so tracing
 * a rule again for another reduction adds only the lines that differ. Constants become buffers of
 * the module.
 */
export class PythonProgram {
  private readonly blocks: Block[] = [{ lines: [], known: new Map() }]
  /** Statements written at the start of the function whatever block is current: the casts of buffers. */
  private readonly prologue: string[] = []
  private counter = 0
  private readonly buffersByKey = new Map<string, PyBuffer>()
  /** The module's constants, in the order they were first used. */
  readonly buffers: PyBuffer[] = []
  /** The module's other methods, in the order they were written. */
  readonly methods: PyMethod[] = []
  /** Names bound outside the fresh ones that traced code reads: the function's inputs, the state's casts. */
  private readonly outerNames = new Set<string>()

  /** Records `name` as a variable of the function (an input), which a method's body may read. */
  declareName(name: string): void {
    this.outerNames.add(name)
  }

  /** The methods, each body cleaned as {@link body} cleans the function's, indented by `indent`. */
  methodSources(indent: string): string[] {
    return this.methods.flatMap((m) => [
      ...m.header.map((l) => indent + l),
      ...this.withPreferredNames(withTemporariesFreed(withLoopTemporariesFreed(withoutDeadBindings(m.lines)))).map((l) =>
        l === '' ? l : `${indent}    ${l}`,
      ),
      '',
    ])
  }

  /**
   * The variables `lines` read that they do not bind (fresh names and the function's inputs), in
   * the order they are first read: what a method whose body they are must be given.
   */
  freeNames(lines: readonly string[], parameters: readonly string[]): string[] {
    const bound = new Set(parameters)
    const free: string[] = []
    for (const l of lines) {
      const read = l.replace(/^\s*(for \S+ in|[a-z][a-z0-9_, ]* =)/, '')
      for (const name of read.match(/(?<![.\w])[a-z][a-z0-9_]*\b/g) ?? []) {
        if (bound.has(name) || free.includes(name) || !(FRESH_NAME.test(name) || this.outerNames.has(name))) continue
        free.push(name)
      }
      const target = /^\s*(?:for (\S+) in|([a-z][a-z0-9_, ]*) =)/.exec(l)
      for (const name of (target?.[1] ?? target?.[2] ?? '').split(/,\s*/)) if (name !== '') bound.add(name)
    }
    return free
  }

  /**
   * The statements of the outermost block, indented by `indent`, without the bindings nothing reads
   * (a rule computes some values only for its reverse pass, which torch's autograd replaces).
   */
  body(indent: string): string[] {
    const lines = withLoopTemporariesFreed(
      withOptionalOnlyBindingsMoved(withoutDeadBindings([...this.prologue, ...this.blocks[0]!.lines]), this.optionalHeaders),
    )
    return this.withPreferredNames(lines).map((l) => (l === '' ? l : indent + l))
  }

  /** The names the rule's code gives variables (`TensorOps.label`): `<stem>_<k>` becomes `<name>_<k>`. */
  private readonly preferred = new Map<string, string>()

  /**
   * Records that the variable `variable` (a fresh `<stem>_<k>`) is what the rule calls `name`; a
   * first name wins. Names only: the code is the same.
   */
  prefer(variable: string, name: string): void {
    if (this.freshNames.has(variable) && /^[a-z][a-z0-9_]*$/.test(name) && !this.preferred.has(variable)) {
      this.preferred.set(variable, `${name}_${variable.slice(variable.lastIndexOf('_') + 1)}`)
    }
  }

  /** `lines` with each preferred variable renamed; the counter keeps every `<name>_<k>` unique. */
  private withPreferredNames(lines: readonly string[]): string[] {
    if (this.preferred.size === 0) return [...lines]
    const pattern = new RegExp(`\\b(${[...this.preferred.keys()].join('|')})\\b`, 'g')
    return lines.map((line) => line.replace(pattern, (v) => this.preferred.get(v) ?? v))
  }

  /** What `key` was remembered as in the current scope or one around it (up to a method's body). */
  lookup(key: string): PyTensor | undefined {
    for (let i = this.blocks.length - 1; i >= 0; i--) {
      const known = this.blocks[i]!.known.get(key)
      if (known !== undefined) return known
      if (this.blocks[i]!.isolated) break
    }
    return undefined
  }

  /** Remembers `tensor` as the value of `key` in the current scope. */
  remember(key: string, tensor: PyTensor): void {
    this.current().known.set(key, tensor)
  }

  /** The names {@link fresh} gave: the only ones a preferred name may replace. */
  private readonly freshNames = new Set<string>()

  /** A fresh variable name `<stem>_<k>`. */
  fresh(stem: string): string {
    const name = `${stem}_${this.counter++}`
    this.freshNames.add(name)
    return name
  }

  /** Writes `line` in the current block. */
  line(text: string): void {
    this.current().lines.push(text)
  }

  /**
   * Binds `code` to a fresh variable (`<stem>_<k> = code`) unless the same code is already bound in
   * scope; returns the tensor that names it.
   */
  bind(stem: string, code: string, make: (name: string) => PyTensor): PyTensor {
    const known = this.lookup(code)
    if (known !== undefined) return known
    const name = this.fresh(stem)
    this.line(`${name} = ${code}`)
    const tensor = make(name)
    this.remember(code, tensor)
    return tensor
  }

  /**
   * As {@link bind}, but to the given `name` (unique: a buffer's), written at the start of the
   * function and known in every scope: for values that depend on nothing the function computes (a buffer cast to the logits'
   * dtype), which a rule may keep across the traces of several branches.
   */
  bindAtStart(name: string, code: string, make: (name: string) => PyTensor): PyTensor {
    const known = this.blocks[0]!.known.get(code)
    if (known !== undefined) return known
    this.outerNames.add(name)
    this.prologue.push(`${name} = ${code}`)
    const tensor = make(name)
    this.blocks[0]!.known.set(code, tensor)
    return tensor
  }

  /** The headers of the blocks {@link optionalBlock} wrote. */
  private readonly optionalHeaders = new Set<string>()

  /**
   * As {@link block}, for an `if` whose body runs only on some calls (`if with_gradient:`): the
   * bindings that only such blocks read are moved into them when the body is written.
   */
  optionalBlock<R>(header: string, fn: () => R): R {
    this.optionalHeaders.add(header)
    return this.block(header, fn)
  }

  /** Runs `fn` with its statements in a nested block under `header` (`if ...:`, `for ...:`). */
  block<R>(header: string, fn: () => R): R {
    this.line(header)
    const outer = this.current()
    const inner: Block = { lines: [], known: new Map() }
    this.blocks.push(inner)
    try {
      const result = fn()
      if (inner.lines.length === 0) inner.lines.push('pass')
      for (const l of inner.lines) outer.lines.push(`    ${l}`)
      return result
    } finally {
      this.blocks.pop()
    }
  }

  /**
   * Runs `fn` with its statements written in the current block, but what it binds known only while
   * it runs: later statements compute such a value again rather than read it. An unrolled
   * iteration is traced this way, so that a reverse pass that recomputes a step (for memory) is
   * not turned back into one that keeps every step's intermediates alive.
   */
  scoped<R>(fn: () => R): R {
    this.blocks.push({ lines: this.current().lines, known: new Map() })
    try {
      return fn()
    } finally {
      this.blocks.pop()
    }
  }

  /**
   * Traces `fn` into statements of their own, the body of a method: the lines it writes (fresh
   * names counted on from here) and its result. Bindings in scope around it are not shared (its
   * body computes what it needs from what it is given), but for the function's first statements
   * (buffer casts), which the method is then given.
   */
  detached<R>(fn: () => R): Trace<R> {
    const body: Block = { lines: [], known: new Map(), isolated: true }
    this.blocks.push(body)
    try {
      const result = fn()
      return { lines: body.lines, result }
    } finally {
      this.blocks.pop()
    }
  }

  /**
   * Traces `fn` without keeping what it writes: the lines it would write (with names counted from
   * where they are now) and its result; names, buffers and bindings are as before afterwards.
   */
  dryRun<R>(fn: () => R): Trace<R> {
    const counter = this.counter
    const prologue = this.prologue.length
    const outerKnown = new Map(this.blocks[0]!.known)
    const buffers = this.buffers.length
    const methods = this.methods.length
    const keys = [...this.buffersByKey.keys()]
    const preferred = new Map(this.preferred)
    const freshNames = new Set(this.freshNames)
    const scratch: Block = { lines: [], known: new Map() }
    this.blocks.push(scratch)
    try {
      const result = fn()
      return { lines: scratch.lines, result }
    } finally {
      this.blocks.pop()
      this.counter = counter
      this.prologue.length = prologue
      this.blocks[0]!.known.clear()
      for (const [code, tensor] of outerKnown) this.blocks[0]!.known.set(code, tensor)
      this.buffers.length = buffers
      this.methods.length = methods
      for (const key of this.buffersByKey.keys()) if (!keys.includes(key)) this.buffersByKey.delete(key)
      // Names a dry run gave or preferred are given again by the real trace.
      this.preferred.clear()
      for (const [variable, name] of preferred) this.preferred.set(variable, name)
      this.freshNames.clear()
      for (const name of freshNames) this.freshNames.add(name)
    }
  }

  /** The buffer holding `init` (one per distinct constant). */
  buffer(init: string, dtype: 'float32' | 'int32'): PyBuffer {
    const key = `${dtype}:${init}`
    const known = this.buffersByKey.get(key)
    if (known !== undefined) return known
    const buffer: PyBuffer = { name: `const_${this.buffers.length}`, init, dtype }
    this.buffers.push(buffer)
    this.buffersByKey.set(key, buffer)
    return buffer
  }

  private current(): Block {
    return this.blocks[this.blocks.length - 1]!
  }
}

/** A fresh name: `<stem>_<k>`. */
const FRESH = /\b[a-z][a-z0-9_]*_\d+\b/g
const FRESH_NAME = /^[a-z][a-z0-9_]*_\d+$/
const BINDING = /^\s*([a-z][a-z0-9_]*_\d+) = (.*)$/

/** `lines` without the bindings of fresh names that no other line reads, to a fixed point. */
function withoutDeadBindings(lines: readonly string[]): string[] {
  const uses = new Map<string, number>()
  for (const l of lines) for (const m of l.match(FRESH) ?? []) uses.set(m, (uses.get(m) ?? 0) + 1)
  const dead = new Set<number>()
  let changed = true
  while (changed) {
    changed = false
    lines.forEach((l, i) => {
      const binding = dead.has(i) ? null : BINDING.exec(l)
      // Read nowhere but in its own binding (a loop state variable is also read by its update).
      if (binding === null || uses.get(binding[1]!) !== 1) return
      dead.add(i)
      changed = true
      for (const m of binding[2]!.match(FRESH) ?? []) uses.set(m, uses.get(m)! - 1)
      uses.set(binding[1]!, 0)
    })
  }
  return lines.filter((_, i) => !dead.has(i))
}

const indentOf = (line: string): number => line.length - line.trimStart().length
const namesIn = (line: string): string[] => line.match(FRESH) ?? []

/**
 * `lines` with the bindings that only optional blocks read (`if with_gradient:`, see
 * {@link PythonProgram.optionalBlock}) moved into each such block that reads them: the closed-form
 * gradient's one-hot matrix and softmax are then made only when the gradient is asked for. A
 * binding moves with the bindings only it needed; one read anywhere else stays. Only bindings of
 * names bound once, outside loops, whose inputs are bound once, so that each moved statement reads
 * the same values where it lands.
 */
function withOptionalOnlyBindingsMoved(lines: readonly string[], optional: ReadonlySet<string>): string[] {
  const extent = (i: number) => {
    let end = i + 1
    while (end < lines.length && (lines[end] === '' || indentOf(lines[end]!) > indentOf(lines[i]!))) end++
    return end
  }
  const blocks = lines.flatMap((l, i) => (optional.has(l.trim()) ? [[i, extent(i)] as const] : []))
  const loops = lines.flatMap((l, i) => (/^\s*for .*:$/.test(l) ? [[i, extent(i)] as const] : []))
  const within = (i: number, spans: readonly (readonly [number, number])[]) => spans.findIndex(([a, b]) => i > a && i < b)
  const bound = new Map<string, number>()
  for (const l of lines) {
    for (const name of /^\s*([a-z][a-z0-9_, ]*) = /.exec(l)?.[1]?.split(/,\s*/) ?? []) bound.set(name, (bound.get(name) ?? 0) + 1)
  }
  // Candidates: single bindings outside optional blocks and loops; then, to a fixed point, those
  // read by a line that is neither in an optional block nor another candidate are dropped.
  const candidates = new Map<string, number>()
  lines.forEach((l, i) => {
    const b = BINDING.exec(l)
    if (b === null || within(i, blocks) >= 0 || within(i, loops) >= 0 || bound.get(b[1]!) !== 1) return
    if (namesIn(b[2]!).every((n) => (bound.get(n) ?? 0) <= 1)) candidates.set(b[1]!, i)
  })
  let changed = true
  while (changed) {
    changed = false
    lines.forEach((l, i) => {
      if (within(i, blocks) >= 0) return
      const own = BINDING.exec(l)?.[1]
      const reader = own !== undefined && candidates.get(own) === i ? undefined : l
      for (const name of namesIn(reader ?? '')) if (candidates.delete(name)) changed = true
    })
  }
  if (candidates.size === 0) return [...lines]
  const moved = new Set(candidates.values())
  // What each optional block needs: the candidates it reads and, transitively, theirs.
  const needs = blocks.map(([a, b]) => {
    const need = new Set<number>()
    const visit = (name: string) => {
      const at = candidates.get(name)
      if (at === undefined || need.has(at)) return
      need.add(at)
      for (const n of namesIn(BINDING.exec(lines[at]!)![2]!)) visit(n)
    }
    for (const l of lines.slice(a + 1, b)) for (const n of namesIn(l)) visit(n)
    return need
  })
  const out: string[] = []
  lines.forEach((l, i) => {
    if (moved.has(i)) return
    out.push(l)
    const k = blocks.findIndex(([a]) => a === i)
    if (k < 0) return
    const pad = ' '.repeat(indentOf(lines[i + 1] ?? l))
    for (const at of [...needs[k]!].sort((x, y) => x - y)) out.push(pad + lines[at]!.trimStart())
  })
  return out
}

/**
 * A method body (`lines`, unindented, ending in its `return`) with each name its top-level
 * statements bind deleted after the statement that reads it last, in an eager call: a straight-line
 * body (a custom gradient's reverse pass replays a search of K steps) otherwise keeps every
 * intermediate alive until it returns, and each fresh `[N, C]` allocation costs page faults as
 * well as memory. Left out when scripting, as in {@link withLoopTemporariesFreed}.
 */
function withTemporariesFreed(lines: readonly string[]): string[] {
  const statements: string[][] = []
  for (const l of lines) {
    if (l !== '' && indentOf(l) === 0) statements.push([l])
    else statements[statements.length - 1]?.push(l)
  }
  const lastRead = new Map<string, number>()
  const bound = new Set<string>()
  statements.forEach((statement, k) => {
    const binding = BINDING.exec(statement[0]!)
    for (const [j, l] of statement.entries())
      for (const name of j === 0 && binding !== null ? namesIn(binding[2]!) : namesIn(l)) lastRead.set(name, k)
    // What the method is given stays alive in its caller's lists: deleting the name frees nothing.
    if (binding !== null && !/^(captured|saved)\[\d+\]$/.test(binding[2]!)) bound.add(binding[1]!)
  })
  const freedAfter = new Map<number, string[]>()
  const last = statements.length - 1
  for (const name of bound) {
    const k = lastRead.get(name)
    if (k === undefined || k === last) continue
    freedAfter.set(k, [...(freedAfter.get(k) ?? []), name])
  }
  return statements.flatMap((statement, k) => {
    const names = freedAfter.get(k)
    return names === undefined ? statement : [...statement, `if not torch.jit.is_scripting(): del ${names.join(', ')}`]
  })
}

/**
 * `lines` with the temporaries of each `for` loop's body deleted after their last use in an eager
 * call: Python frees a local only when its name is rebound, so without it every `[N, C]`
 * intermediate of a step stays alive through the step and into the next (LPL at 256 × 8142: 8 MiB
 * each, +331 MiB over cross-entropy's peak; with it, about +100). A temporary is a name bound in the body that the body does not read before binding it
 * (not a loop state) and that nothing after the loop reads. TorchScript has no `del` of a local,
 * and frees values after their last use by itself: the statement is left out when scripting.
 */
function withLoopTemporariesFreed(lines: readonly string[]): string[] {
  const out: string[] = []
  let i = 0
  while (i < lines.length) {
    const line = lines[i]!
    out.push(line)
    i++
    if (!/^\s*for .*:$/.test(line)) continue
    const bodyIndent = indentOf(lines[i] ?? '')
    let end = i
    while (end < lines.length && (lines[end] === '' || indentOf(lines[end]!) >= bodyIndent)) end++
    const body = lines.slice(i, end)
    const after = new Set(lines.slice(end).flatMap(namesIn))
    // The body's top-level statements, each with the nested lines under it.
    const statements: string[][] = []
    for (const l of body) {
      if (l !== '' && indentOf(l) === bodyIndent) statements.push([l])
      else statements[statements.length - 1]?.push(l)
    }
    const boundAt = new Map<string, number>()
    const lastRead = new Map<string, number>()
    const carried = new Set<string>()
    statements.forEach((statement, k) => {
      const binding = BINDING.exec(statement[0]!)
      const read = statement.flatMap((l, j) => (j === 0 && binding !== null ? namesIn(binding[2]!) : namesIn(l)))
      for (const name of read) {
        if (!boundAt.has(name)) carried.add(name)
        lastRead.set(name, k)
      }
      if (binding !== null && !boundAt.has(binding[1]!)) boundAt.set(binding[1]!, k)
    })
    const freedAfter = new Map<number, string[]>()
    for (const [name, k] of boundAt) {
      if (carried.has(name) || after.has(name)) continue
      const last = lastRead.get(name) ?? k
      freedAfter.set(last, [...(freedAfter.get(last) ?? []), name])
    }
    const pad = ' '.repeat(bodyIndent)
    statements.forEach((statement, k) => {
      out.push(...statement)
      const names = freedAfter.get(k)
      if (names !== undefined) out.push(`${pad}if not torch.jit.is_scripting(): del ${names.join(', ')}`)
    })
    i = end
  }
  return out
}

/**
 * The value type of the PyTorch backend: a Python expression of the module under construction (a
 * variable, a cast buffer, or a number literal), with its static shape (`-1` for the batch
 * dimension, known when the module runs) and element type. It holds no numbers; running the module
 * gives them.
 */
export interface PyTensor {
  /** The program the expression belongs to; ops refuse operands from another one. */
  readonly program: PythonProgram
  /** The Python expression: a variable name, or a number literal for a scalar constant. */
  readonly expr: string
  /** The static shape; `-1` for a size known only at run time. */
  readonly shape: readonly number[]
  /** `'float32'`: the logits' floating dtype (float64 or float32 at run time); `'int32'`: `torch.long`. */
  readonly dtype: 'float32' | 'int32'
  /** For a scalar constant written as a literal: its value. */
  readonly literal?: number
  /** For a 0/1 mask made by a comparison: the boolean expression, which `where` reads directly. */
  readonly mask?: string
  /** For `one_hot(ids)·weight` (`[N, C]`): its factors, which a sum over the classes reads without it. */
  readonly oneHot?: OneHotFactors
  /** For `x·one_hot(ids)·weight`: its factors, whose sum over the classes is a gather of `x`. */
  readonly picked?: {
    /** The tensor the label matrix multiplies, `[N, C]`. */
    readonly x: PyTensor
    /** The label matrix's factors. */
    readonly oneHot: OneHotFactors
  }
  /** For `clamp(x, min=bound)`: a gather commutes with it. */
  readonly clampOf?: {
    /** The clamped tensor. */
    readonly x: PyTensor
    /** The lower bound, a scalar. */
    readonly bound: PyTensor
  }
}

/**
 * The factors of a label matrix `one_hot(ids)·weight`: `ids`, `[N]` class ids (`torch.long`), and
 * `weight`, one factor per row (`[N, 1]`), absent for 1. A row sum of it, or of its product with a
 * tensor, reads one entry per row instead of `C` (see `createPythonOps`).
 */
export interface OneHotFactors {
  readonly ids: PyTensor
  readonly weight?: PyTensor
}
