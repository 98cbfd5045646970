import type { AnyBackend } from '@logit-perturb/conformance'

/** The ONNX backends of the shared suites (onnxruntime-web, wasm execution provider). */
export async function onnxBackends(): Promise<AnyBackend[]> {
  return []
}
