/**
 * The training overhead of a rule: one epoch of the `lpl train` network on the long-tailed
 * Fashion-MNIST subset (ratio 100, 14,886 images) with the rule, against one epoch with
 * cross-entropy, on the same backend in the same run, alternating the two after a warm-up epoch.
 */
import * as tf from '@tensorflow/tfjs-core'
import { type RuleInput, mulberry32 } from '@logit-perturb/core'
import { onTfjsBackend } from '@logit-perturb/conformance/backends'
import { createTfjsLoss, layersLoss } from '@logit-perturb/tfjs'
import { buildMlp } from '../packages/cli/src/train/model.js'
import { DEFAULT_DATA_DIR, loadFashionMnist } from '../packages/cli/src/data/fashionMnist.js'
import { longTailCounts, longTailSplits } from '../packages/cli/src/data/longTail.js'

export interface EpochTiming {
  backend: string
  rule: string
  /** Median seconds of one epoch over the timed epochs. */
  medianSeconds: number
  epochs: number
  ratioToCe?: number
  data: string
}

/** The training images: Fashion-MNIST when installed, else random images of the same size and counts. */
function trainingData(): { x: Float32Array; y: Int32Array; n: number; source: string } {
  const counts = longTailCounts(100)
  try {
    const set = loadFashionMnist(DEFAULT_DATA_DIR, 'train')
    const { train } = longTailSplits(set, counts, 0, 0)
    const x = new Float32Array(train.length * 784)
    train.forEach((i, row) => {
      for (let p = 0; p < 784; p++) x[row * 784 + p] = set.images[i * 784 + p]! / 255
    })
    return { x, y: Int32Array.from(train, (i) => set.labels[i]!), n: train.length, source: 'Fashion-MNIST, ratio 100' }
  } catch {
    const rand = mulberry32(1)
    const n = counts.reduce((a, b) => a + b, 0)
    const y = Int32Array.from(counts.flatMap((k, c) => new Array<number>(k).fill(c)))
    return {
      x: Float32Array.from({ length: n * 784 }, () => rand()),
      y,
      n,
      source: 'random images (Fashion-MNIST not installed), ratio-100 counts',
    }
  }
}

/** Times epochs of `ce` and each rule, interleaved, on one backend. */
export async function measureEpochs(backend: 'wasm' | 'cpu', rules: RuleInput[], epochs: number): Promise<EpochTiming[]> {
  return onTfjsBackend(backend, async () => {
    const data = trainingData()
    const xs = tf.tensor2d(data.x, [data.n, 784])
    const ys = tf.oneHot(tf.tensor1d(data.y, 'int32'), 10)
    const specs: RuleInput[] = [{ rule: 'ce' }, ...rules]
    const models = specs.map((spec, k) => {
      const model = buildMlp(10, k)
      model.compile({ optimizer: tf.train.momentum(0.05, 0.9, true), loss: layersLoss(createTfjsLoss(spec)) })
      return model
    })
    const times = specs.map(() => [] as number[])
    for (let e = 0; e <= epochs; e++) {
      for (const [k, model] of models.entries()) {
        const t = performance.now()
        await model.fit(xs, ys, { epochs: 1, batchSize: 128, shuffle: false, verbose: 0 })
        if (e > 0) times[k]!.push((performance.now() - t) / 1000) // epoch 0 warms up
      }
    }
    models.forEach((m) => {
      m.dispose()
    })
    tf.dispose([xs, ys])
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!
    const ce = median(times[0]!)
    return specs.map((spec, k) => ({
      backend: `tfjs-${backend}`,
      rule: String(spec.rule) + (k > 0 && specs.filter((s) => s.rule === spec.rule).length > 1 ? `#${k}` : ''),
      medianSeconds: median(times[k]!),
      epochs,
      ratioToCe: median(times[k]!) / ce,
      data: data.source,
    }))
  })
}
