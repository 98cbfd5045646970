import { LogitPerturbError } from '@logit-perturb/core'
import { check } from '@logit-perturb/core/backend'
import type * as Ort from 'onnxruntime-web'
import type { ElemTypeName } from './graph.js'
import { rememberModelBytes } from './modelFacts.js'
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
  let session: Ort.InferenceSession
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] })
  } catch (error) {
    // Decoded only on failure, so loading a good model costs nothing more; throws when the bytes do not decode.
    decodeModel(bytes)
    throw new LogitPerturbError('INVALID_MODEL', `onnxruntime-web cannot load the model: ${runtimeReason(error)}`, 'model')
  }
  // A loss model's metadata (its ignore label, what its labels hold) is read from these bytes when it runs.
  rememberModelBytes(session, bytes)
  return session
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
export async function sessionOf(model: Uint8Array | OnnxSession): Promise<Ort.InferenceSession> {
  check(
    model instanceof Uint8Array || typeof (model as Partial<Ort.InferenceSession> | null)?.run === 'function',
    'INVALID_MODEL',
    'must be ONNX model bytes (a Uint8Array) or a session from createSession',
    'model',
  )
  // Sessions come from createSession, which opens onnxruntime-web's own.
  return model instanceof Uint8Array ? openSession(model) : (model as Ort.InferenceSession)
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
