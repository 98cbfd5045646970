import type { Backend } from '@logit-perturb/core/verify'
import { GraphBuilder } from './graph.js'
import { evaluateSymbolic } from './runner.js'
import { createSymbolicOps } from './symbolicOps.js'
import type { SymbolicTensor } from './tensor.js'

/**
 * The symbolic ONNX backend run by onnxruntime-web (wasm execution provider) as a check harness
 * ({@link Backend} of the core), for `checkConformance`. Tensors are graph values; `read(x)` builds
 * the model whose one output is `x` (constants as initializers, only the nodes `x` needs), runs it
 * and returns the values. `scope` releases the nodes a check added, so a long suite keeps a small
 * graph. No `grad`: ONNX's standard operators have no automatic differentiation, so through-gradients
 * are skipped, with the reason.
 */
export function onnxWasmBackend(): Backend<SymbolicTensor> {
  const graph = new GraphBuilder()
  return {
    name: 'onnx-wasm',
    ops: createSymbolicOps(graph),
    rtol: 1e-4,
    read: async (x) => (await evaluateSymbolic([x]))[0]!,
    scope: async (fn) => {
      const mark = graph.mark()
      try {
        return await fn()
      } finally {
        graph.release(mark)
      }
    },
  }
}
