import { LogitPerturbError, check } from '@logit-perturb/core'
import type * as Ort from 'onnxruntime-web'
import type { ElemTypeName } from './graph.js'
import { serializeModel } from './serialize.js'
import type { SymbolicTensor } from './tensor.js'

/** The `onnxruntime-web` module, as imported by {@link loadOnnxRuntime}. */
export type OnnxRuntime = typeof Ort

let runtime: Promise<OnnxRuntime> | undefined

/**
 * Imports `onnxruntime-web` once (an optional peer dependency, so exporting and editing models
 * never load it). In Node the import resolves to its Node build, which runs models on the wasm
 * execution provider. Unless the caller chose a thread count first, the wasm backend is set to one
 * thread: these graphs are small, and a thread pool of workers costs more than it saves.
 */
export function loadOnnxRuntime(): Promise<OnnxRuntime> {
  runtime ??= import('onnxruntime-web').then((ort) => {
    if (!ort.env.wasm.numThreads) ort.env.wasm.numThreads = 1
    return ort
  })
  return runtime
}

/** A tensor fed to or read from a model: flat row-major data and its dimensions. */
export interface HostTensor {
  data: Float32Array | Int32Array | BigInt64Array | Uint8Array | Float64Array
  dims: readonly number[]
}

/**
 * Opens an inference session on model bytes with the wasm execution provider. A model that
 * onnxruntime-web refuses gives `INVALID_MODEL` with the runtime's message.
 */
export async function createSession(bytes: Uint8Array): Promise<Ort.InferenceSession> {
  const ort = await loadOnnxRuntime()
  try {
    return await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] })
  } catch (error) {
    throw new LogitPerturbError('INVALID_MODEL', `onnxruntime-web cannot load the model: ${messageOf(error)}`)
  }
}

/**
 * Runs a model (bytes, or a session from {@link createSession}) on named inputs and returns every
 * output as host data. A session opened here is released afterwards; a session passed in is left
 * open for further runs. Int64 inputs take `BigInt64Array`.
 */
export async function runModel(
  model: Uint8Array | Ort.InferenceSession,
  feeds: Readonly<Record<string, HostTensor>>,
): Promise<Record<string, HostTensor>> {
  const ort = await loadOnnxRuntime()
  const session = model instanceof Uint8Array ? await createSession(model) : model
  try {
    const inputs: Record<string, Ort.Tensor> = {}
    for (const [name, t] of Object.entries(feeds)) inputs[name] = new ort.Tensor(tensorType(t.data), t.data, [...t.dims])
    let results: Ort.InferenceSession.OnnxValueMapType
    try {
      results = await session.run(inputs)
    } catch (error) {
      throw new LogitPerturbError('INVALID_PARAMETER', `onnxruntime-web failed to run the model: ${messageOf(error)}`)
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

/** What {@link runLossModel} returns; arrays are flat row-major `[N, C]`. */
export interface LossModelResult {
  loss: number
  perturbedLogits: Float32Array
  /** Absent for rules without a closed-form gradient (see `exportLossModel`). */
  gradLogits?: Float32Array
}

/**
 * Runs a model from `exportLossModel` on one batch: `logits` as rows (`[N][C]`) or flat with
 * `dims`; labels as class ids (`[N]`), or, for a multi-label model, as rows of 0 and 1 (`[N][C]`).
 * Labels are checked on the host (the graph does not check them): `LABEL_VALUE` for an id outside
 * `[0, C)` or an entry other than 0 or 1, `LABELS_SHAPE` for a length other than `N` (rows of
 * length other than `C`).
 */
export async function runLossModel(
  model: Uint8Array | Ort.InferenceSession,
  logits: readonly (readonly number[])[] | HostTensor,
  labels: ArrayLike<number> | readonly (readonly number[])[],
): Promise<LossModelResult> {
  const flat: HostTensor = 'dims' in logits ? logits : { data: Float32Array.from(logits.flat()), dims: [logits.length, logits[0]?.length ?? 0] }
  const [n, c] = flat.dims as [number, number]
  check(flat.dims.length === 2, 'LOGITS_SHAPE', `logits must be [N, C], got [${flat.dims.join(', ')}]`, 'logits')
  check(labels.length === n, 'LABELS_SHAPE', `${labels.length} labels for ${n} rows of logits`, 'labels')
  const data = flat.data instanceof Float32Array ? flat.data : Float32Array.from(flat.data as ArrayLike<number>)
  const out = await runModel(model, { logits: { data, dims: [n, c] }, labels: labelFeed(labels, n, c) })
  return {
    loss: Number(out.loss!.data[0]),
    perturbedLogits: out.perturbed_logits!.data as Float32Array,
    ...(out.grad_logits === undefined ? {} : { gradLogits: out.grad_logits.data as Float32Array }),
  }
}

/** Class ids as int64 `[N]`, or multi-label rows as float32 `[N, C]`, checked. */
function labelFeed(labels: ArrayLike<number> | readonly (readonly number[])[], n: number, c: number): HostTensor {
  if (n > 0 && Array.isArray(labels[0])) {
    const rows = labels as readonly (readonly number[])[]
    const matrix = new Float32Array(n * c)
    rows.forEach((row, i) => {
      check(Array.isArray(row) && row.length === c, 'LABELS_SHAPE', `label row ${i} has ${Array.isArray(row) ? row.length : 'no'} entries for ${c} logits`, 'labels')
      row.forEach((y, j) => {
        check(y === 0 || y === 1, 'LABEL_VALUE', `entry ${y} at row ${i}, label ${j} is not 0 or 1`, 'labels')
        matrix[i * c + j] = y
      })
    })
    return { data: matrix, dims: [n, c] }
  }
  const ids = new BigInt64Array(n)
  for (let i = 0; i < n; i++) {
    const y = (labels as ArrayLike<number>)[i]!
    check(Number.isInteger(y) && y >= 0 && y < c, 'LABEL_VALUE', `label ${y} at index ${i} is not an integer class id in [0, ${c})`, 'labels')
    ids[i] = BigInt(y)
  }
  return { data: ids, dims: [n] }
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
  check(values.every((v) => v.graph === graph), 'INVALID_PARAMETER', 'the values belong to different graphs')
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

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
