/**
 * The `fit.html` page: `model.fit` with `layersLoss` on WebGL, counting the backend's synchronous
 * reads between each training batch's begin and end. It exposes `window.__fitProbe` for the
 * end-to-end test and prints its report on the page.
 */
import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-webgl'
import * as tfl from '@tensorflow/tfjs-layers'
import type { RuleInput } from '@logit-perturb/core'
import { createTfjsLoss, layersLoss, perturbationCallback } from '@logit-perturb/tfjs'
import type { FitProbeResult } from './api.js'

const CLASS_COUNTS = [400, 120, 40, 12]

/** The specs the page probes: plain cross-entropy, a shift, a batch-dependent search, a stateful split. */
export const PROBE_SPECS: RuleInput[] = [
  { rule: 'ce' },
  { rule: 'logit-adjustment', classCounts: CLASS_COUNTS },
  { rule: 'lpl', split: 'prior', classCounts: CLASS_COUNTS },
  { rule: 'lpl', split: 'confidence', momentum: 0.5 },
]

/** Trains 2 epochs of 4 batches with `spec` and the default options; counts sync reads per batch. */
async function probe(spec: RuleInput): Promise<FitProbeResult> {
  const backend = tf.backend() as unknown as { readSync(dataId: unknown): unknown }
  let reads = 0
  const readSync = backend.readSync.bind(backend)
  backend.readSync = (dataId) => {
    reads++
    return readSync(dataId)
  }
  const readsPerBatch: number[] = []
  const n = 128
  const xs = tf.randomNormal([n, 2], 0, 1, 'float32', 7)
  const labels = tf.tensor1d(
    Array.from({ length: n }, (_, i) => (i % 9 === 0 ? 3 : i % 5 === 0 ? 2 : i % 3 === 0 ? 1 : 0)),
    'int32',
  )
  const ys = tf.oneHot(labels, CLASS_COUNTS.length)
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: CLASS_COUNTS.length, inputShape: [2] })] })
  const loss = createTfjsLoss(spec)
  model.compile({ optimizer: tf.train.sgd(0.1), loss: layersLoss(loss) })
  let start = 0
  try {
    const history = await model.fit(xs, ys, {
      epochs: 2,
      batchSize: 32,
      shuffle: false,
      verbose: 0,
      callbacks: [
        perturbationCallback(loss),
        {
          onBatchBegin: async () => {
            start = reads
          },
          onBatchEnd: async () => {
            readsPerBatch.push(reads - start)
          },
        },
      ],
    })
    return { backend: tf.getBackend(), rule: spec.rule, readsPerBatch, losses: history.history.loss as number[] }
  } catch (e) {
    return { backend: tf.getBackend(), rule: spec.rule, readsPerBatch, losses: [], error: String(e) }
  } finally {
    backend.readSync = readSync
    tf.dispose([xs, labels, ys])
    model.dispose()
    loss.dispose()
  }
}

async function runAll(): Promise<FitProbeResult[]> {
  const ok = await tf.setBackend('webgl').catch(() => false)
  if (!ok) return [{ backend: tf.getBackend() ?? '', rule: '', readsPerBatch: [], losses: [], error: 'WebGL could not start' }]
  const results: FitProbeResult[] = []
  for (const spec of PROBE_SPECS) results.push(await probe(spec))
  return results
}

const done = runAll()
;(globalThis as unknown as { __fitProbe: Promise<FitProbeResult[]> }).__fitProbe = done
void done.then((results) => {
  document.querySelector('#report')!.textContent = results
    .map(
      (r) =>
        `${r.backend} ${r.rule}: reads per batch [${r.readsPerBatch.join(', ')}], losses [${r.losses.map((l) => l.toFixed(3)).join(', ')}]${r.error ? `, error ${r.error}` : ''}`,
    )
    .join('\n')
})
