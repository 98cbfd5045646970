import { LogitPerturbError, type RuleInput, logitAdjustmentShift, parseSpec, ruleFacts } from '@logit-perturb/core'
import { check, checkClassCounts, checkTau } from '@logit-perturb/core/backend'
import { type Int64, int64Value, readModel } from './readModel.js'
import type { onnx as proto } from 'onnx-proto'
import { onnx } from './serialize.js'

/** Options of {@link appendPostHocAdjustment}. */
export interface PostHocOptions {
  /** A rule spec that carries the training-set class counts (its `classCounts`, or its base's). */
  spec?: RuleInput
  /** The training-set class counts `n_c` (instead of `spec`); zeros are allowed, as in the core. */
  classCounts?: readonly number[]
  /** `τ`; default: the spec's `tau` for a `logit-adjustment` spec, else 1. */
  tau?: number
  /** The logits output to adjust; default: the model's first output. */
  output?: string
  /** Add a softmax of the adjusted logits as an output: `true` names it `adjusted_probabilities`. */
  probabilities?: boolean | string
}

/** Metadata key under which the adjustment is recorded in the model. */
export const POST_HOC_METADATA_KEY = 'logit_perturb.post_hoc'

/**
 * Post-hoc logit adjustment of a trained classifier (Menon et al., ICLR 2021), as an edit of its
 * ONNX model: the chosen logits output `u` (`[N, C]`) is replaced, under the same name, by
 *
 *     u − τ·log π,   π_c = n_c / Σ n
 *
 * with `log π` from the core's `logPriorsFromCounts` (a zero count reads as the smallest positive
 * one, so every entry is finite), stored as a `[1, C]` initializer of the output's float type and
 * subtracted by one `Sub` node. With `probabilities`, a `Softmax` of the adjusted logits is added as
 * a further output. Predicting `argmax` of the new output gives the balanced-error-optimal
 * prediction of the paper when `τ = 1` and the model was trained with plain cross-entropy.
 *
 * Refused, with a `LogitPerturbError` naming the problem: bytes that are not a readable ONNX model
 * (`INVALID_MODEL`), an output that does not exist, is not a float tensor or is a graph input
 * (`INVALID_MODEL`), logits whose declared shape is not rank 2 (`LOGITS_SHAPE`), a declared class
 * dimension that differs from the number of counts (`CLASS_COUNTS_LENGTH`), bad counts or `τ`
 * (`CLASS_COUNTS_VALUE`, `INVALID_SPEC`, `INVALID_PARAMETER`). A symbolic class dimension is
 * accepted; the runtime then checks it against the `[1, C]` shift when the model runs.
 */
export function appendPostHocAdjustment(modelBytes: Uint8Array, options: PostHocOptions): Uint8Array {
  const { counts, tau } = resolveCounts(options)
  const { model, graph } = readModel(modelBytes)
  const names = graph.output.map((o) => o.name)
  const outputName = options.output ?? names[0]!
  const output = graph.output.find((o) => o.name === outputName)
  check(
    output !== undefined,
    'INVALID_MODEL',
    `the model has no output named ${JSON.stringify(outputName)}; its outputs are ${names.map((n) => JSON.stringify(n)).join(', ')}`,
    'output',
  )
  const tensorType = output.type?.tensorType
  check(tensorType !== null && tensorType !== undefined, 'INVALID_MODEL', `output ${outputName} is not a tensor`, 'output')
  const elemType = tensorType.elemType ?? 0
  const DataType = onnx.TensorProto.DataType
  check(
    elemType === DataType.FLOAT || elemType === DataType.DOUBLE,
    'INVALID_MODEL',
    `output ${outputName} holds ${DataType[elemType] ?? `element type ${elemType}`}, not float logits`,
    'output',
  )
  const dims = tensorType.shape?.dim
  check(
    dims !== null && dims !== undefined,
    'LOGITS_SHAPE',
    `output ${outputName} declares no shape, so it cannot be checked to be [N, C] logits`,
    'output',
  )
  check(
    dims.length === 2,
    'LOGITS_SHAPE',
    `output ${outputName} must be [N, C] logits, but has rank ${dims.length} ([${dims.map(describeDim).join(', ')}])`,
    'output',
  )
  const classDim = dims[1]!
  if (classDim.dimValue !== null && classDim.dimValue !== undefined) {
    const c = int64Value(classDim.dimValue as Int64)
    check(
      c === counts.length,
      'CLASS_COUNTS_LENGTH',
      `the model's output ${outputName} has ${c} classes but there are ${counts.length} class counts`,
      'classCounts',
    )
  }
  check(
    !graph.input.some((i) => i.name === outputName),
    'INVALID_MODEL',
    `output ${outputName} is a graph input, not logits computed by the model`,
    'output',
  )
  check(
    graph.node.some((n) => (n.output ?? []).includes(outputName)) || graph.initializer.some((t) => t.name === outputName),
    'INVALID_MODEL',
    `no node of the model computes its output ${outputName}`,
    'output',
  )

  const taken = collectNames(graph)
  const fresh = (base: string): string => {
    let name = base
    for (let k = 1; taken.has(name); k++) name = `${base}_${k}`
    taken.add(name)
    return name
  }
  const unadjusted = fresh(`${outputName}_unadjusted`)
  renameValue(graph, outputName, unadjusted)

  const shiftName = fresh(`${outputName}_log_prior_shift`)
  const shift = logitAdjustmentShift(counts, tau)
  graph.initializer.push(shiftTensor(shiftName, shift, elemType))
  graph.node.push({
    name: fresh(`${outputName}_post_hoc_adjustment`),
    opType: 'Sub',
    domain: '',
    input: [unadjusted, shiftName],
    output: [outputName],
  })
  if (options.probabilities) {
    const probName = typeof options.probabilities === 'string' ? options.probabilities : 'adjusted_probabilities'
    check(!taken.has(probName), 'INVALID_PARAMETER', `the model already has a value named ${probName}`, 'probabilities')
    taken.add(probName)
    // axis 1 of rank-2 logits is the last axis under every Softmax version (the 2-D coercion of
    // opsets before 13 is the identity here), so the edit is correct whatever the model's opset.
    graph.node.push({
      name: fresh(`${probName}_softmax`),
      opType: 'Softmax',
      domain: '',
      input: [outputName],
      output: [probName],
      attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
    })
    graph.output.push({ name: probName, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ ...d })) } } } })
  }
  const record = JSON.stringify({ output: outputName, tau, classCounts: counts })
  model.metadataProps = [
    ...model.metadataProps.filter((p) => p.key !== POST_HOC_METADATA_KEY),
    { key: POST_HOC_METADATA_KEY, value: record },
  ]
  return onnx.ModelProto.encode(model).finish()
}

/** The counts and `τ` the options give, validated. */
function resolveCounts(options: PostHocOptions): { counts: number[]; tau: number } {
  check(
    typeof options === 'object' && options !== null,
    'INVALID_PARAMETER',
    'options must be an object with spec or classCounts',
    'options',
  )
  check(
    (options.spec === undefined) !== (options.classCounts === undefined),
    'INVALID_PARAMETER',
    'give exactly one of spec and classCounts',
    'classCounts',
  )
  let counts: readonly number[]
  let specTau: number | undefined
  if (options.classCounts !== undefined) {
    counts = options.classCounts
  } else {
    // The counts the spec carries (its own or its base's), and the τ of a spec that is logit adjustment.
    const spec = parseSpec(options.spec)
    const facts = ruleFacts(spec)
    if (facts.classCounts === undefined) {
      throw new LogitPerturbError('INVALID_SPEC', `a ${spec.rule} spec carries no classCounts; pass classCounts instead`, 'spec')
    }
    counts = facts.classCounts
    specTau = facts.priorTau
  }
  checkClassCounts(counts as number[], undefined, 'classCounts')
  const tau = options.tau ?? specTau ?? 1
  return { counts: [...counts], tau: checkTau(tau) }
}

function shiftTensor(name: string, shift: readonly number[], elemType: number): proto.ITensorProto {
  const double = elemType === onnx.TensorProto.DataType.DOUBLE
  const bytes = new Uint8Array(shift.length * (double ? 8 : 4))
  const view = new DataView(bytes.buffer)
  shift.forEach((v, k) => {
    double ? view.setFloat64(k * 8, v, true) : view.setFloat32(k * 4, v, true)
  })
  return { name, dataType: elemType, dims: [1, shift.length], rawData: bytes }
}

function describeDim(d: proto.TensorShapeProto.IDimension): string {
  if (d.dimValue !== null && d.dimValue !== undefined) return String(int64Value(d.dimValue as Int64))
  return d.dimParam ? d.dimParam : '?'
}

/** Every name used in a graph and its subgraphs: values, nodes, initializers. */
function collectNames(graph: proto.IGraphProto, into = new Set<string>()): Set<string> {
  for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) if (v.name) into.add(v.name)
  for (const t of graph.initializer ?? []) if (t.name) into.add(t.name)
  for (const node of graph.node ?? []) {
    if (node.name) into.add(node.name)
    for (const n of [...(node.input ?? []), ...(node.output ?? [])]) if (n) into.add(n)
    for (const sub of subgraphs(node)) collectNames(sub, into)
  }
  return into
}

/**
 * Renames a value everywhere it is produced or read: node outputs and inputs (also inside
 * subgraphs, which may read outer values by name, and pass them on as their outputs), initializers
 * and `value_info`. The main graph's output keeps the old name, which the caller then gives to the
 * adjusted value.
 */
function renameValue(graph: proto.IGraphProto, from: string, to: string, isSubgraph = false): void {
  const rename = (v: { name?: string | null }): void => {
    if (v.name === from) v.name = to
  }
  ;(graph.initializer ?? []).forEach(rename)
  ;(graph.valueInfo ?? []).forEach(rename)
  if (isSubgraph) (graph.output ?? []).forEach(rename)
  for (const node of graph.node ?? []) {
    node.input = (node.input ?? []).map((n) => (n === from ? to : n))
    node.output = (node.output ?? []).map((n) => (n === from ? to : n))
    for (const sub of subgraphs(node)) renameValue(sub, from, to, true)
  }
}

function subgraphs(node: proto.INodeProto): proto.IGraphProto[] {
  return (node.attribute ?? []).flatMap((a) => [...(a.g ? [a.g] : []), ...(a.graphs ?? [])])
}
