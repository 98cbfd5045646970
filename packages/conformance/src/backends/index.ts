import type { AnyBackend } from '../backend.js'
import { referenceBackend } from '../backend.js'
import { onnxBackends } from './onnx.js'
import { tfjsBackends } from './tfjs.js'

export { onTfjsBackend, tfjsBackends } from './tfjs.js'
export { onnxBackends, onnxWasmBackend } from './onnx.js'

/**
 * Every backend of the workspace, the float64 reference first: the list the shared suites run on.
 * `opSearch` adds the tfjs backends with LPL's search forced onto tensor ops.
 */
export async function workspaceBackends(options: { opSearch?: boolean } = {}): Promise<AnyBackend[]> {
  return [referenceBackend, ...(await tfjsBackends(options)), ...(await onnxBackends())]
}
