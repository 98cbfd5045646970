import type { AnyBackend } from '@logit-perturb/core/verify'
import { referenceBackend } from '@logit-perturb/core/verify'
import { onnxWasmBackend } from '@logit-perturb/onnx'
import { tfjsBackends } from './tfjs.js'

export { onTfjsBackend, tfjsBackends } from './tfjs.js'
export { onnxWasmBackend } from '@logit-perturb/onnx'

/**
 * Every backend of the workspace, the float64 reference first: the list the shared suites run on.
 * `opSearch` adds the tfjs backends with LPL's search forced onto tensor ops.
 */
export async function workspaceBackends(options: { opSearch?: boolean } = {}): Promise<AnyBackend[]> {
  return [referenceBackend, ...(await tfjsBackends(options)), onnxWasmBackend()]
}
