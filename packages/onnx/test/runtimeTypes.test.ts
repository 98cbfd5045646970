/**
 * The structural onnxruntime-web types of the public API fit the real module: `tsc` (run by
 * `pnpm typecheck`) fails here if onnxruntime-web's module or sessions stop fitting them.
 */
import type * as Ort from 'onnxruntime-web'
import { describe, expectTypeOf, it } from 'vitest'
import type { OnnxRuntime, OnnxSession } from '../src/index.js'

describe('the structural onnxruntime-web types', () => {
  it('are satisfied by onnxruntime-web', () => {
    expectTypeOf<typeof Ort>().toMatchTypeOf<OnnxRuntime>()
    expectTypeOf<Ort.InferenceSession>().toMatchTypeOf<OnnxSession>()
  })
})
