/**
 * The `float16.html` page: the rules' losses and gradients on WebGL with float32 textures, or with
 * float16 textures (`?textures=float16` sets `WEBGL_FORCE_F16_TEXTURES` before the backend starts, as
 * on many phones). It exposes `window.__textures` for the end-to-end test
 * (`test/e2e/float16.test.ts`), which passes the golden batches and compares the two precisions.
 */
import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-webgl'
// tfjs-layers registers the gradients of tfjs-core's kernels, which tf.valueAndGrad needs.
import '@tensorflow/tfjs-layers'
import { createTfjsLoss } from '@logit-perturb/tfjs'
import type { TextureApi, TextureCase, TextureInfo, TextureResult } from './api.js'

const query = new URLSearchParams(location.search)
const forceF16 = query.get('textures') === 'float16'
const report = document.querySelector<HTMLElement>('#report')!

/** Starts WebGL with the requested textures and says what they store. */
async function start(): Promise<TextureInfo> {
  tf.env().set('PROD', true)
  // Read by the WebGL backend when it starts; a flag set later has no effect on the textures.
  if (forceF16) tf.env().set('WEBGL_FORCE_F16_TEXTURES', true)
  // Shapes as uniforms (unless `?shapes=constants`, tfjs's default): a program compiles once for all
  // the batches' shapes, not once per shape, which halves the time on SwiftShader. The numbers are
  // the same bit for bit (every loss and gradient of the end-to-end test's cases, on float32 and
  // float16 textures).
  if (query.get('shapes') !== 'constants') tf.env().set('WEBGL_USE_SHAPES_UNIFORMS', true)
  const empty = { forceF16, float32Capable: false, float32Enabled: false, shapeUniforms: false, probe: [] }
  const ok = await tf.setBackend('webgl').catch(() => false)
  if (!ok) return { backend: tf.getBackend() ?? '', ...empty, error: 'WebGL could not start' }
  const backend = tf.backend() as unknown as { gpgpu: { gl: WebGL2RenderingContext } }
  // Above CPU_HANDOFF_SIZE_THRESHOLD (128 entries): the WebGL backend hands smaller ops on values
  // it holds on the CPU to its CPU kernels, which compute in float32 whatever the textures.
  const probe = tf.tidy(() => tf.add(tf.tile(tf.tensor1d([1 + 2 ** -12, 1e5]), [256]), 0))
  const info: TextureInfo = {
    backend: tf.getBackend(),
    renderer: renderer(backend.gpgpu.gl),
    forceF16: tf.env().getBool('WEBGL_FORCE_F16_TEXTURES'),
    float32Capable: tf.env().getBool('WEBGL_RENDER_FLOAT32_CAPABLE'),
    float32Enabled: tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED'),
    shapeUniforms: tf.env().getBool('WEBGL_USE_SHAPES_UNIFORMS'),
    probe: Array.from((await probe.data()).slice(0, 2)),
  }
  probe.dispose()
  return info
}

/** The renderer behind the backend's context (a GPU, or SwiftShader), when the browser discloses it. */
function renderer(gl: WebGL2RenderingContext): string | undefined {
  const debug = gl.getExtension('WEBGL_debug_renderer_info')
  const name = gl.getParameter(debug ? debug.UNMASKED_RENDERER_WEBGL : gl.RENDERER)
  return typeof name === 'string' ? name : undefined
}

/** One case: the loss and its gradient w.r.t. the logits in one pass, read back. */
async function runCase(c: TextureCase): Promise<TextureResult> {
  const start = performance.now()
  const loss = createTfjsLoss(c.spec, c.options)
  const logits = tf.tensor(c.logits.values, c.logits.shape, 'float32')
  const labels = tf.tensor(c.labels.values, c.labels.shape, c.labels.dtype)
  const noise = c.noise === undefined ? undefined : tf.tensor(c.noise.values, c.noise.shape, 'float32')
  try {
    const ctx = { training: c.training, ...(noise === undefined ? {} : { noise }) }
    const { value, grad } = tf.valueAndGrad((u: tf.Tensor) => loss(u, labels, ctx) as tf.Scalar)(logits)
    const [lossValue, gradValues] = await Promise.all([value.data(), grad.data()])
    tf.dispose([value, grad])
    return { id: c.id, loss: lossValue[0]!, grad: Array.from(gradValues), ms: performance.now() - start }
  } catch (e) {
    return { id: c.id, loss: Number.NaN, grad: [], ms: performance.now() - start, error: String(e) }
  } finally {
    tf.dispose(noise === undefined ? [logits, labels] : [logits, labels, noise])
    loss.dispose()
  }
}

const ready = start()
const api: TextureApi = {
  ready,
  async run(cases) {
    const info = await ready
    if (info.error) throw new Error(info.error)
    const results: TextureResult[] = []
    for (const c of cases) results.push(await runCase(c))
    report.textContent += `\n${results.length} cases, ${results.filter((r) => r.error).length} errors`
    return results
  },
}
;(globalThis as unknown as { __textures: TextureApi }).__textures = api
void ready.then((info) => {
  report.textContent = JSON.stringify(info, null, 2)
})
