import { LogitPerturbError } from '@logit-perturb/core'
import {
  EMPTY_BATCH,
  check,
  checkBinaryLabelValues,
  checkFiniteValues,
  checkLabelValues,
  checkMaskValues,
  checkSampleWeightValues,
} from '@logit-perturb/core/backend'
import type * as Ort from 'onnxruntime-web'
import type { ElemTypeName } from './graph.js'
import { decodeModel } from './readModel.js'
import type { OnnxRuntime, OnnxSession } from './runtimeTypes.js'
import { serializeModel } from './serialize.js'
import type { SymbolicTensor } from './tensor.js'

let runtime: Promise<typeof Ort> | undefined

/**
 * Imports `onnxruntime-web` once (an optional peer dependency, so exporting and editing models
 * never load it). In Node the import resolves to its Node build, which runs models on the wasm
 * execution provider. Unless the caller chose a thread count first, the wasm backend is set to one
 * thread: these graphs are small, and a thread pool of workers costs more than it saves. Without
 * onnxruntime-web installed, it rejects with `MISSING_PEER_DEPENDENCY` naming the package, and a
 * later call tries the import again.
 */
export function loadOnnxRuntime(): Promise<OnnxRuntime> {
  return importRuntime()
}

function importRuntime(): Promise<typeof Ort> {
  runtime ??= import('onnxruntime-web').then(
    (ort) => {
      if (!ort.env.wasm.numThreads) ort.env.wasm.numThreads = 1
      return ort
    },
    (error: unknown) => {
      runtime = undefined
      throw isMissingRuntime(error)
        ? new LogitPerturbError(
            'MISSING_PEER_DEPENDENCY',
            'running an ONNX model needs the optional peer dependency onnxruntime-web: npm install onnxruntime-web',
          )
        : error
    },
  )
  return runtime
}

/** Whether an import failed because onnxruntime-web itself is not installed (not a failure inside it). */
function isMissingRuntime(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown }
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    typeof message === 'string' &&
    /['"]onnxruntime-web['"]/.test(message)
  )
}

/** A tensor fed to or read from a model: flat row-major data and its dimensions. */
export interface HostTensor {
  /** The values, row-major, in the typed array of the element type (`Uint8Array` for bool). */
  data: Float32Array | Int32Array | BigInt64Array | Uint8Array | Float64Array
  /** The shape. */
  dims: readonly number[]
}

/**
 * Opens an inference session on model bytes with the wasm execution provider. Bytes that are not a
 * model (empty, truncated, random, no graph or no opset) give `INVALID_MODEL` naming the problem as
 * `appendPostHocAdjustment` does; a model that onnxruntime-web refuses otherwise gives `INVALID_MODEL` with
 * the runtime's reason.
 */
export async function createSession(bytes: Uint8Array): Promise<OnnxSession> {
  return openSession(bytes)
}

async function openSession(bytes: Uint8Array): Promise<Ort.InferenceSession> {
  check(bytes instanceof Uint8Array, 'INVALID_MODEL', 'model bytes must be a Uint8Array', 'model')
  const ort = await importRuntime()
  try {
    return await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] })
  } catch (error) {
    // Decoded only on failure, so loading a good model costs nothing more; throws when the bytes do not decode.
    decodeModel(bytes)
    throw new LogitPerturbError('INVALID_MODEL', `onnxruntime-web cannot load the model: ${runtimeReason(error)}`, 'model')
  }
}

/**
 * Runs a model (bytes, or a session from {@link createSession}) on named inputs and returns every
 * output as host data. A session opened here is released afterwards; a session passed in is left
 * open for further runs. Int64 inputs take `BigInt64Array`.
 */
export async function runModel(
  model: Uint8Array | OnnxSession,
  feeds: Readonly<Record<string, HostTensor>>,
): Promise<Record<string, HostTensor>> {
  const ort = await importRuntime()
  const session = await sessionOf(model)
  try {
    check(session.outputNames.length > 0, 'INVALID_MODEL', 'the model has no outputs', 'model')
    const inputs: Record<string, Ort.Tensor> = {}
    for (const [name, t] of Object.entries(feeds)) inputs[name] = new ort.Tensor(tensorType(t.data), t.data, [...t.dims])
    let results: Ort.InferenceSession.OnnxValueMapType
    try {
      results = await session.run(inputs)
    } catch (error) {
      throw new LogitPerturbError('INVALID_PARAMETER', `onnxruntime-web failed to run the model: ${runtimeReason(error)}`)
    }
    const out: Record<string, HostTensor> = {}
    for (const [name, value] of Object.entries(results)) {
      const tensor = value as Ort.Tensor
      out[name] = { data: tensor.data as HostTensor['data'], dims: [...tensor.dims] }
    }
    return out
  } finally {
    if (model instanceof Uint8Array) await session.release()
  }
}

/** A session on `model`: opened on bytes (the caller releases it), or the caller's own. */
async function sessionOf(model: Uint8Array | OnnxSession): Promise<Ort.InferenceSession> {
  check(
    model instanceof Uint8Array || typeof (model as Partial<Ort.InferenceSession> | null)?.run === 'function',
    'INVALID_MODEL',
    'must be ONNX model bytes (a Uint8Array) or a session from createSession',
    'model',
  )
  // Sessions come from createSession, which opens onnxruntime-web's own.
  return model instanceof Uint8Array ? openSession(model) : (model as Ort.InferenceSession)
}

/** The optional per-row inputs of {@link runLossModel}, for a model exported with them. */
export interface RowInputs {
  /** Sample weights `[N]` (finite, `≥ 0`), for a model with a `sample_weight` input. */
  sampleWeight?: ArrayLike<number>
  /** A 0/1 row mask `[N]`, for a model with a `mask` input. */
  mask?: ArrayLike<number>
  /**
   * The rule's state, one `[C]` list per field, for a model exported with `state: 'io'` (its
   * `state_<field>` inputs): the rule's fresh state (`loss.rule.state.initial(C)`) for a first call,
   * then the last call's `nextState`.
   */
  state?: Readonly<Record<string, ArrayLike<number>>>
}

/** What {@link runLossModel} returns; arrays are flat row-major `[N, C]`. */
export interface LossModelResult {
  /** The scalar loss. */
  loss: number
  /** The perturbed logits `a ⊙ u + δ_y`, `[N, C]` row-major. */
  perturbedLogits: Float32Array
  /** Absent for rules without a closed-form gradient (see `exportLossModel`). */
  gradLogits?: Float32Array
  /** The moved state, by field (a training model's `next_state_<field>` outputs); absent when the model has none. */
  nextState?: Record<string, Float32Array>
}

/**
 * Runs a model from `exportLossModel` on one batch: `logits` as rows (`[N][C]`) or flat with
 * `dims`; labels as class ids (`[N]`), or, for a multi-label model, as rows of 0 and 1 (`[N][C]`).
 * Labels are checked on the host (the graph does not check them): `LABEL_VALUE` for an id outside
 * `[0, C)` or an entry other than 0 or 1, `LABELS_SHAPE` for a length other than `N` (rows of
 * length other than `C`); `LOGITS_SHAPE` for logits whose `C` is not the model's or an empty batch,
 * `LOGITS_NOT_FINITE` for NaN or ±Infinity in the logits. A model that is not such a loss model (inputs other than `logits` and
 * `labels`, no `loss` or `perturbed_logits` output, outputs of other sizes) gives `INVALID_MODEL`;
 * so does a model exported with `reduction: 'none'` (run it with {@link runModel}). `rows` feeds
 * the `sample_weight` and `mask` inputs of a model exported with them (checked on the host:
 * `SAMPLE_WEIGHT_VALUE`, `MASK_VALUE`), and `rows.state` its `state_<field>` inputs (`INVALID_MODEL`
 * naming the field when one is missing or unknown, `INVALID_STATE` when one is not `[C]`).
 */
export async function runLossModel(
  model: Uint8Array | OnnxSession,
  logits: readonly (readonly number[])[] | HostTensor,
  labels: ArrayLike<number> | readonly (readonly number[])[],
  rows: RowInputs = {},
): Promise<LossModelResult> {
  const flat: HostTensor =
    'dims' in logits ? logits : { data: Float32Array.from(logits.flat()), dims: [logits.length, logits[0]?.length ?? 0] }
  const [n, c] = flat.dims as [number, number]
  check(flat.dims.length === 2, 'LOGITS_SHAPE', `logits must be [N, C], got [${flat.dims.join(', ')}]`, 'logits')
  check(c > 0, 'LOGITS_SHAPE', 'logits have no class dimension (C = 0)', 'logits')
  const session = await sessionOf(model)
  let out: Record<string, HostTensor>
  try {
    checkLossModel(session)
    // The same checks, in the same order, as the core's losses on an eager backend.
    const classes = modelClassCount(session)
    check(classes === undefined || c === classes, 'LOGITS_SHAPE', `logits have ${c} classes but the model has ${classes}`, 'logits')
    check(labels.length === n, 'LABELS_SHAPE', `${labels.length} labels for ${n} rows of logits`, 'labels')
    check(n !== 0, 'LOGITS_SHAPE', EMPTY_BATCH, 'logits')
    const data = flat.data instanceof Float32Array ? flat.data : Float32Array.from(flat.data as ArrayLike<number>)
    const feeds: Record<string, HostTensor> = { logits: { data, dims: [n, c] }, labels: labelFeed(labels, n, c) }
    for (const [field, input] of [
      ['sampleWeight', 'sample_weight'],
      ['mask', 'mask'],
    ] as const) {
      const values = rows[field]
      const takes = session.inputNames.includes(input)
      check(
        takes === (values !== undefined),
        'INVALID_MODEL',
        takes ? `the model takes ${input}: pass ${field}` : `the model has no ${input} input: export it with ${field}: true`,
        field,
      )
      if (values === undefined) continue
      check(values.length === n, 'SHAPE_MISMATCH', `${values.length} entries for ${n} rows of logits`, field)
      if (field === 'sampleWeight') checkSampleWeightValues(values)
      else checkMaskValues(values)
      feeds[input] = { data: Float32Array.from(values), dims: [n] }
    }
    const stateInputs = session.inputNames.filter((name) => name.startsWith(STATE_PREFIX))
    for (const field of Object.keys(rows.state ?? {})) {
      check(
        stateInputs.includes(STATE_PREFIX + field),
        'INVALID_MODEL',
        `the model has no state_${field} input (its state inputs: ${stateInputs.join(', ') || 'none'})`,
        `state.${field}`,
      )
    }
    for (const input of stateInputs) {
      const field = input.slice(STATE_PREFIX.length)
      const values = rows.state?.[field]
      check(
        values !== undefined,
        'INVALID_MODEL',
        `the model takes ${input}: pass state.${field} (the rule's fresh state for a first call)`,
        `state.${field}`,
      )
      check(values.length === c, 'INVALID_STATE', `has ${values.length} entries for ${c} classes`, `state.${field}`)
      feeds[input] = { data: Float32Array.from(values), dims: [c] }
    }
    // The graph has no data checks: NaN or ±Infinity in would be NaN out, so they are refused here.
    checkFiniteValues(flat.data as ArrayLike<number>, 'logits')
    out = await runModel(session, feeds)
  } finally {
    if (model instanceof Uint8Array) await session.release()
  }
  const size = (name: string, want: number, what: string) => {
    const got = out[name]!.data.length
    check(got === want, 'INVALID_MODEL', `output ${name} has ${got} values, not ${what} (${want})`, 'model')
  }
  size('loss', 1, 'a scalar')
  size('perturbed_logits', n * c, `[N, C] = [${n}, ${c}]`)
  if (out.grad_logits !== undefined) size('grad_logits', n * c, `[N, C] = [${n}, ${c}]`)
  const next = Object.keys(out).filter((name) => name.startsWith(NEXT_STATE_PREFIX))
  return {
    loss: Number(out.loss!.data[0]),
    perturbedLogits: out.perturbed_logits!.data as Float32Array,
    ...(out.grad_logits === undefined ? {} : { gradLogits: out.grad_logits.data as Float32Array }),
    ...(next.length === 0
      ? {}
      : { nextState: Object.fromEntries(next.map((name) => [name.slice(NEXT_STATE_PREFIX.length), out[name]!.data as Float32Array])) }),
  }
}

/** The names of a loss model's state inputs and outputs: `state_<field>`, `next_state_<field>`. */
const STATE_PREFIX = 'state_'
const NEXT_STATE_PREFIX = 'next_state_'

/** The class count a loss model's `logits` input declares, when it declares one. */
function modelClassCount(session: Ort.InferenceSession): number | undefined {
  const input = session.inputMetadata?.find((m) => m.name === 'logits')
  const dim = input?.isTensor ? input.shape[1] : undefined
  return typeof dim === 'number' && dim > 0 ? dim : undefined
}

/** Refuses a session whose inputs and outputs are not those of a loss model from `exportLossModel`. */
function checkLossModel(session: Ort.InferenceSession): void {
  const names = (list: readonly string[]) => (list.length ? list.map((name) => `"${name}"`).join(', ') : 'none')
  const io = `inputs ${names(session.inputNames)}, outputs ${names(session.outputNames)}`
  const missing = [
    ...['logits', 'labels'].filter((name) => !session.inputNames.includes(name)).map((name) => `input "${name}"`),
    ...['loss', 'perturbed_logits'].filter((name) => !session.outputNames.includes(name)).map((name) => `output "${name}"`),
  ]
  check(
    missing.length === 0,
    'INVALID_MODEL',
    `not a loss model from exportLossModel: no ${missing.join(', no ')} (the model has ${io})`,
    'model',
  )
  const extra = session.inputNames.filter(
    (name) => !['logits', 'labels', 'sample_weight', 'mask'].includes(name) && !name.startsWith(STATE_PREFIX),
  )
  check(
    extra.length === 0,
    'INVALID_MODEL',
    `the model also takes ${names(extra)}; runLossModel feeds logits, labels, sample_weight, mask and state_<field> only`,
    'model',
  )
}

/**
 * Class ids as int64 `[N]`, or multi-label rows as float32 `[N, C]`, checked on the host with the
 * core's label checks (the graph does not check them), so refusals read as on every other backend.
 */
function labelFeed(labels: ArrayLike<number> | readonly (readonly number[])[], n: number, c: number): HostTensor {
  if (n > 0 && Array.isArray(labels[0])) {
    const rows = labels as readonly (readonly number[])[]
    rows.forEach((row, i) => {
      check(
        Array.isArray(row) && row.length === c,
        'LABELS_SHAPE',
        `label row ${i} has ${Array.isArray(row) ? row.length : 'no'} entries for ${c} logits`,
        'labels',
      )
    })
    const values = rows.flat()
    checkBinaryLabelValues(values, c)
    return { data: Float32Array.from(values), dims: [n, c] }
  }
  const ids = labels as ArrayLike<number>
  checkLabelValues(ids, c)
  return { data: BigInt64Array.from(Array.from(ids, (y) => BigInt(y))), dims: [n] }
}

/**
 * Evaluates symbolic tensors: builds a model whose outputs are `values` (the graph's constants as
 * initializers, and only the nodes the values need), runs it with `feeds` for the graph inputs
 * they depend on, and returns each value as float64 numbers.
 */
export async function evaluateSymbolic(
  values: readonly SymbolicTensor[],
  feeds: Readonly<Record<string, HostTensor>> = {},
): Promise<Float64Array[]> {
  if (values.length === 0) return []
  const graph = values[0]!.graph
  check(
    values.every((v) => v.graph === graph),
    'INVALID_PARAMETER',
    'the values belong to different graphs',
  )
  const outputs = values.map((v, k) => ({
    name: `value_${k}_out`,
    source: v.name,
    elemType: v.dtype as ElemTypeName,
    dims: v.shape.map((d) => (d < 0 ? -1 : d)),
  }))
  const bytes = serializeModel(graph.toModel({ outputs, inputs: Object.keys(feeds), name: 'evaluate' }))
  const out = await runModel(bytes, feeds)
  return outputs.map((o) => Float64Array.from(out[o.name]!.data as ArrayLike<number>))
}

function tensorType(data: HostTensor['data']): 'float32' | 'int32' | 'int64' | 'bool' | 'float64' {
  if (data instanceof Float32Array) return 'float32'
  if (data instanceof Int32Array) return 'int32'
  if (data instanceof BigInt64Array) return 'int64'
  if (data instanceof Uint8Array) return 'bool'
  return 'float64'
}

/**
 * onnxruntime-web's reason for an error, on one line: the message after its `ERROR_MESSAGE:` prefix,
 * without the source file and C++ signature some messages start with.
 */
function runtimeReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  const reason = message.replace(/^[\s\S]*?ERROR_MESSAGE: /, '').replace(/^\S+\.(?:cc|cpp|h):\d+ [^(]*\(.*?\) (?=\S)/, '')
  return reason.replace(/\s+/g, ' ').trim()
}
