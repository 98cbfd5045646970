import { LogitPerturbError } from '@logit-perturb/core'
import { check } from '@logit-perturb/core/backend'

/**
 * ONNX element types the builder writes (values of `TensorProto.DataType`). Only `float32` and
 * `int32` are visible through `TensorOps`; `int64` (shapes, axes, scatter indices) and `bool`
 * (comparison results before their cast) live inside the graph.
 */
export const ElemType = {
  /** `FLOAT`, 1. */
  float32: 1,
  /** `INT32`, 6. */
  int32: 6,
  /** `INT64`, 7. */
  int64: 7,
  /** `BOOL`, 9. */
  bool: 9,
} as const

/** An element type name of {@link ElemType}. */
export type ElemTypeName = keyof typeof ElemType

/** A node attribute, in the few kinds the builder needs. */
export type Attribute =
  | {
      /** The attribute's name, e.g. `axis`. */
      name: string
      /** An `INT` attribute. */
      kind: 'int'
      /** Its integer value. */
      value: number
    }
  | {
      /** The attribute's name, e.g. `axes`. */
      name: string
      /** An `INTS` attribute. */
      kind: 'ints'
      /** Its integer values. */
      value: readonly number[]
    }
  | {
      /** The attribute's name, e.g. `alpha`. */
      name: string
      /** A `FLOAT` attribute. */
      kind: 'float'
      /** Its value. */
      value: number
    }
  | {
      /** The attribute's name. */
      name: string
      /** A `STRING` attribute. */
      kind: 'string'
      /** Its value. */
      value: string
    }
  | {
      /** The attribute's name, e.g. `value` of a `Constant` node. */
      name: string
      /** A `TENSOR` attribute. */
      kind: 'tensor'
      /** The tensor. */
      value: Initializer
    }

/** One operator node: `outputs = opType(inputs; attributes)` in the default ONNX domain. */
export interface GraphNode {
  /** The node's name, unique in the graph. */
  readonly name: string
  /** The operator, e.g. `Softmax`. */
  readonly opType: string
  /** The names of its input values, in the operator's order. */
  readonly inputs: readonly string[]
  /** The names of its output values. */
  readonly outputs: readonly string[]
  /** Its attributes. */
  readonly attributes: readonly Attribute[]
}

/** A constant tensor stored in the model (an initializer, or a tensor attribute). */
export interface Initializer {
  /** The value name the graph refers to it by. */
  readonly name: string
  /** Its element type. */
  readonly elemType: ElemTypeName
  /** Its shape (`[]` for a scalar). */
  readonly dims: readonly number[]
  /** Row-major values; `int64` data is given as plain integers. */
  readonly data: ArrayLike<number>
}

/**
 * A graph input or output: name, element type and shape. A dimension is a size, a symbolic name
 * (`dim_param`, e.g. `"N"`), or `-1` for an unnamed unknown size.
 */
export interface ValueDecl {
  /** The value's name. */
  readonly name: string
  /** Its element type. */
  readonly elemType: ElemTypeName
  /** Its shape: sizes, symbolic names, or `-1`. */
  readonly dims: readonly (number | string)[]
}

/** A complete graph, ready to serialize: what `serializeModel` turns into `ModelProto` bytes. */
export interface GraphModel {
  /** The graph's name. */
  readonly name: string
  /** The opset of the default ONNX domain the nodes are written for. */
  readonly opset: number
  /** The nodes (ONNX requires them in topological order). */
  readonly nodes: readonly GraphNode[]
  /** The constant tensors the nodes use. */
  readonly initializers: readonly Initializer[]
  /** The graph inputs. */
  readonly inputs: readonly ValueDecl[]
  /** The graph outputs. */
  readonly outputs: readonly ValueDecl[]
  /** The model's `doc_string`. */
  readonly docString?: string
  /** `metadata_props` of the model: free-form key/value strings. */
  readonly metadata?: Readonly<Record<string, string>>
}

/** A graph output to build: the value `source` published under `name`. */
export interface OutputRequest {
  /** The output's name in the model. */
  readonly name: string
  /** The value name inside the builder. */
  readonly source: string
  /** The output's element type. */
  readonly elemType: ElemTypeName
  /** The output's shape: sizes, symbolic names, or `-1`. */
  readonly dims: readonly (number | string)[]
}

/** A position in a {@link GraphBuilder}'s history, from {@link GraphBuilder.mark}. */
export interface GraphMark {
  /** The number of nodes at the mark. */
  readonly nodes: number
  /** The number of initializers at the mark. */
  readonly initializers: number
}

/** Opsets the builder can target: 17 (ONNX 1.12) up to 21; reduce ops take axes as an input from 18 on. */
export const MIN_OPSET = 17
/** The newest opset the builder can target (see {@link MIN_OPSET}). */
export const MAX_OPSET = 21

/**
 * An append-only ONNX graph under construction. Values are named by the builder (`Add_12`, …) and
 * never reused, so a name from a released part of the history can never alias a newer value.
 * `toModel` keeps only the nodes and constants that the requested outputs need, so one builder can
 * hold many computations (a test suite's reads) and each model stays minimal.
 */
export class GraphBuilder {
  /** The opset every node is written for. */
  readonly opset: number
  private readonly nodeList: GraphNode[] = []
  private readonly initializerList: Initializer[] = []
  private readonly inputList: ValueDecl[] = []
  private readonly known = new Set<string>()
  private readonly constantCache = new Map<string, string>()
  private counter = 0

  constructor(options: { opset?: number } = {}) {
    const opset = options.opset ?? MIN_OPSET
    check(
      Number.isInteger(opset) && opset >= MIN_OPSET && opset <= MAX_OPSET,
      'INVALID_PARAMETER',
      `must be an integer from ${MIN_OPSET} to ${MAX_OPSET}, got ${String(opset)}`,
      'opset',
    )
    this.opset = opset
  }

  /** Declares a graph input; its name is the caller's and must not clash with another value. */
  input(decl: ValueDecl): string {
    check(!this.known.has(decl.name), 'INVALID_PARAMETER', `a value named ${decl.name} already exists in the graph`, 'name')
    this.inputList.push(decl)
    this.known.add(decl.name)
    return decl.name
  }

  /**
   * Adds a constant tensor and returns its value name. Small constants and all-zero tensors are
   * shared (rules create the same `1` or zero `[C, C]` matrix many times per loss).
   */
  constant(elemType: ElemTypeName, dims: readonly number[], data: ArrayLike<number>): string {
    const key = cacheKey(elemType, dims, data)
    const cached = key === undefined ? undefined : this.constantCache.get(key)
    if (cached !== undefined) return cached
    let name: string
    if (key?.endsWith('|zeros') && data.length > LARGEST_STORED_ZEROS) {
      // Made at run time (ConstantOfShape) rather than stored: a zero [C, C] start of a search
      // would otherwise put 4 MB of zeros in the file at C = 1000.
      const shape = this.constant('int64', [dims.length], dims)
      const value = { name: this.fresh('zero'), elemType, dims: [1], data: [0] }
      name = this.op('ConstantOfShape', [shape], [{ name: 'value', kind: 'tensor', value }])
    } else {
      name = this.fresh('const')
      this.initializerList.push({ name, elemType, dims: [...dims], data: Array.from(data) })
      this.known.add(name)
    }
    if (key !== undefined) this.constantCache.set(key, name)
    return name
  }

  /** Appends a node with `outputCount` fresh outputs and returns their names. */
  node(opType: string, inputs: readonly string[], attributes: readonly Attribute[] = [], outputCount = 1): string[] {
    for (const input of inputs) {
      check(
        input === '' || this.known.has(input),
        'INVALID_PARAMETER',
        `${opType} reads ${input}, which is not a value of this graph (a tensor from another graph, or released by a scope)`,
      )
    }
    const outputs = Array.from({ length: outputCount }, () => this.fresh(opType))
    this.nodeList.push({ name: `node_${outputs[0]}`, opType, inputs: [...inputs], outputs, attributes })
    for (const o of outputs) this.known.add(o)
    return outputs
  }

  /** Appends a one-output node and returns the output's name. */
  op(opType: string, inputs: readonly string[], attributes: readonly Attribute[] = []): string {
    return this.node(opType, inputs, attributes, 1)[0]!
  }

  /** Whether `name` is a live value of this graph. */
  has(name: string): boolean {
    return this.known.has(name)
  }

  /** The current end of the history; {@link GraphBuilder.release} drops everything added after it. */
  mark(): GraphMark {
    return { nodes: this.nodeList.length, initializers: this.initializerList.length }
  }

  /**
   * Drops the nodes and constants added after `mark` (a memory scope, as tfjs's `tidy`): values
   * made since are no longer in the graph, and using one fails with a message saying so.
   */
  release(mark: GraphMark): void {
    for (const node of this.nodeList.splice(mark.nodes)) for (const o of node.outputs) this.known.delete(o)
    for (const init of this.initializerList.splice(mark.initializers)) this.known.delete(init.name)
    for (const [key, name] of this.constantCache) if (!this.known.has(name)) this.constantCache.delete(key)
  }

  /**
   * The model computing `outputs` from the declared `inputs`: only the nodes and constants they
   * depend on, in the order they were added (which is topological, since nodes only read values
   * that exist). Each output gets an `Identity` node, so outputs can carry the caller's names even
   * when they are constants, inputs, or the same value twice. Throws `INVALID_PARAMETER` when an
   * output needs a graph input that is not among `inputs`.
   */
  toModel(options: {
    outputs: readonly OutputRequest[]
    inputs?: readonly string[]
    name?: string
    docString?: string
    metadata?: Readonly<Record<string, string>>
  }): GraphModel {
    const inputs = options.inputs ?? []
    const producer = new Map<string, GraphNode>()
    for (const node of this.nodeList) for (const o of node.outputs) producer.set(o, node)
    const initializers = new Map(this.initializerList.map((i) => [i.name, i]))
    const declared = new Map(this.inputList.map((d) => [d.name, d]))
    const neededNodes = new Set<GraphNode>()
    const neededInits = new Set<string>()
    const stack = options.outputs.map((o) => o.source)
    const seen = new Set<string>()
    while (stack.length > 0) {
      const value = stack.pop()!
      if (value === '' || seen.has(value)) continue
      seen.add(value)
      const node = producer.get(value)
      if (node !== undefined) {
        neededNodes.add(node)
        stack.push(...node.inputs)
        for (const a of node.attributes) if (a.kind === 'tensor') neededInits.add(a.value.name)
      } else if (initializers.has(value)) {
        neededInits.add(value)
      } else if (declared.has(value)) {
        check(
          inputs.includes(value),
          'INVALID_PARAMETER',
          `the requested outputs depend on the graph input ${value}, which the model does not declare`,
        )
      } else {
        throw new LogitPerturbError('INVALID_PARAMETER', `value ${value} is not in the graph (released by a scope, or from another graph)`)
      }
    }
    const outputNames = new Set<string>()
    const identities: GraphNode[] = options.outputs.map((o) => {
      check(
        !outputNames.has(o.name) && !this.known.has(o.name),
        'INVALID_PARAMETER',
        `output name ${o.name} is used twice or clashes with a value of the graph`,
      )
      outputNames.add(o.name)
      return { name: `node_${o.name}`, opType: 'Identity', inputs: [o.source], outputs: [o.name], attributes: [] }
    })
    return {
      name: options.name ?? 'logit_perturb',
      opset: this.opset,
      nodes: [...this.nodeList.filter((n) => neededNodes.has(n)), ...identities],
      initializers: this.initializerList.filter((i) => neededInits.has(i.name)),
      inputs: inputs.map((name) => {
        const d = declared.get(name)
        check(d !== undefined, 'INVALID_PARAMETER', `${name} is not a declared graph input`)
        return d
      }),
      outputs: options.outputs.map((o) => ({ name: o.name, elemType: o.elemType, dims: o.dims })),
      ...(options.docString === undefined ? {} : { docString: options.docString }),
      ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
    }
  }

  private fresh(hint: string): string {
    let name: string
    do name = `${hint}_${this.counter++}`
    while (this.known.has(name))
    return name
  }
}

/** Constants worth sharing: up to 64 values, or all zeros of any size. */
/** All-zero constants with more entries are made by the graph, not stored. */
const LARGEST_STORED_ZEROS = 64

function cacheKey(elemType: ElemTypeName, dims: readonly number[], data: ArrayLike<number>): string | undefined {
  let zero = true
  for (let i = 0; i < data.length && zero; i++) zero = data[i] === 0 && !Object.is(data[i], -0)
  if (!zero && data.length > 64) return undefined
  return `${elemType}|${dims.join(',')}|${zero ? `zeros` : Array.from(data, (v) => (Object.is(v, -0) ? '-0' : String(v))).join(',')}`
}
