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

  /**
   * The statements of the outermost block, indented by `indent`, without the bindings nothing reads
   * (a rule computes some values only for its reverse pass, which torch's autograd replaces).
   */
  body(indent: string): string[] {
    const lines = withLoopTemporariesFreed(withoutDeadBindings([...this.prologue, ...this.blocks[0]!.lines]))
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

  /** What `key` was remembered as in the current scope or one around it. */
  lookup(key: string): PyTensor | undefined {
    for (let i = this.blocks.length - 1; i >= 0; i--) {
      const known = this.blocks[i]!.known.get(key)
      if (known !== undefined) return known
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
    this.prologue.push(`${name} = ${code}`)
    const tensor = make(name)
    this.blocks[0]!.known.set(code, tensor)
    return tensor
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
   * Traces `fn` without keeping what it writes: the lines it would write (with names counted from
   * where they are now) and its result; names, buffers and bindings are as before afterwards.
   */
  dryRun<R>(fn: () => R): Trace<R> {
    const counter = this.counter
    const prologue = this.prologue.length
    const outerKnown = new Map(this.blocks[0]!.known)
    const buffers = this.buffers.length
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
}
