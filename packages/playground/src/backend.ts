import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-webgl'
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm'
// The wasm binaries are bundled and served with the page, never fetched from a CDN.
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url'
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url'
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url'

/** The backends the page can train on, in the order it tries them. */
export const BACKENDS = ['webgl', 'wasm'] as const
/** One of {@link BACKENDS}. */
export type BackendName = (typeof BACKENDS)[number]

/** The backend that runs, and for WebGL the GPU (or software renderer, e.g. SwiftShader) behind it. */
export interface ActiveBackend {
  name: BackendName
  renderer?: string
}

/**
 * Activates WebGL, or wasm where WebGL cannot start (no GPU, WebGL blocked, a headless browser
 * without a software renderer). `preferred` puts one backend first; the other is still the fallback.
 */
export async function chooseBackend(preferred?: BackendName): Promise<ActiveBackend> {
  setWasmPaths({
    'tfjs-backend-wasm.wasm': wasmPlain,
    'tfjs-backend-wasm-simd.wasm': wasmSimd,
    'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
  })
  const order = preferred ? [preferred, ...BACKENDS.filter((b) => b !== preferred)] : [...BACKENDS]
  for (const name of order) {
    // setBackend resolves false (or throws) when the backend fails to initialize.
    const ok = await tf.setBackend(name).catch(() => false)
    if (ok) return name === 'webgl' ? { name, renderer: webglRenderer() } : { name }
  }
  throw new Error(`none of the backends ${order.join(', ')} could start`)
}

/** The renderer string of a fresh WebGL context, when the browser discloses it. */
function webglRenderer(): string | undefined {
  const gl = document.createElement('canvas').getContext('webgl2') ?? document.createElement('canvas').getContext('webgl')
  if (!gl) return undefined
  const info = gl.getExtension('WEBGL_debug_renderer_info')
  const renderer = gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER)
  gl.getExtension('WEBGL_lose_context')?.loseContext()
  return typeof renderer === 'string' ? renderer : undefined
}
