import { LogitPerturbError } from '@logit-perturb/core'
import { check } from '@logit-perturb/core/backend'
import type { onnx as proto } from 'onnx-proto'
import { onnx } from './serialize.js'

/** The lowest default-domain opset of a model `appendPostHocAdjustment` edits: 7, where `Sub` broadcasts as NumPy does. */
export const MIN_EDIT_OPSET = 7

/** An int64 protobuf field as protobufjs decodes it: a number, or a `Long` when the package is present. */
export type Int64 =
  | number
  | {
      /** The value as a JavaScript number (exact up to 2^53). */
      toNumber(): number
    }

/** An int64 field as a number. */
export function int64Value(v: Int64 | null | undefined): number {
  return v === null || v === undefined ? 0 : typeof v === 'number' ? v : v.toNumber()
}

/**
 * Decodes `ModelProto` bytes of a model to edit and checks the parts every edit relies on: a graph
 * with at least one output, and an import of the default ONNX domain at opset {@link MIN_EDIT_OPSET}
 * or later. Anything else (empty, truncated or random bytes, a model without graph) is refused with
 * `INVALID_MODEL` naming the problem. Decoding is a single linear pass over the bytes, so no input
 * can make it hang.
 */
export function readModel(bytes: Uint8Array): ReadModel {
  const { model, graph, opset } = decodeModel(bytes)
  check(graph.output.length > 0, 'INVALID_MODEL', 'the model graph has no outputs', 'model')
  check(opset >= MIN_EDIT_OPSET, 'INVALID_MODEL', `the model's default-domain opset ${opset} is older than ${MIN_EDIT_OPSET}`, 'model')
  return { model, graph, opset }
}

/**
 * Decodes `ModelProto` bytes and checks what any use of a model needs: a graph, and an import of
 * the default ONNX domain. Refuses anything else (not a `Uint8Array`, empty, truncated or random
 * bytes, a model without graph or opset) with `INVALID_MODEL` naming the problem.
 */
export function decodeModel(bytes: Uint8Array): ReadModel {
  check(bytes instanceof Uint8Array, 'INVALID_MODEL', 'model bytes must be a Uint8Array', 'model')
  check(bytes.length > 0, 'INVALID_MODEL', 'the model is empty (0 bytes)', 'model')
  let model: proto.ModelProto
  try {
    model = onnx.ModelProto.decode(bytes)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new LogitPerturbError(
      'INVALID_MODEL',
      `the ${bytes.length} bytes are not an ONNX ModelProto (truncated or not an ONNX file?): ${reason}`,
      'model',
    )
  }
  // Decoded messages are class instances, whose repeated fields are always arrays.
  const graph = model.graph as proto.GraphProto | null | undefined
  check(graph !== null && graph !== undefined, 'INVALID_MODEL', 'the model has no graph (truncated or not an ONNX file?)', 'model')
  const opset = defaultOpset(model)
  check(opset !== undefined, 'INVALID_MODEL', 'the model imports no opset of the default ONNX domain (truncated?)', 'model')
  return { model, graph, opset }
}

/** A decoded model with its main graph and default-domain opset. */
export interface ReadModel {
  model: proto.ModelProto
  graph: proto.GraphProto
  opset: number
}

/** The model's opset of the default domain (`""` or `"ai.onnx"`), if it imports one. */
export function defaultOpset(model: proto.IModelProto): number | undefined {
  const entry = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx')
  return entry === undefined ? undefined : int64Value(entry.version as Int64)
}
