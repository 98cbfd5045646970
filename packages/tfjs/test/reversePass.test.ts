/**
 * The hand-written reverse passes of the searches (LPL with `gradient: 'through'`, the released
 * long-tail preset) against `tf.grad` through the same search's ops: on the host (the cpu and wasm
 * default) and as tensor ops (the WebGL and WebGPU path), with and without masked rows.
 */
import * as tf from '@tensorflow/tfjs-core'
import { describe, expect, it } from 'vitest'
import { type LossContext, type RuleInput, createLoss, mulberry32 } from '@logit-perturb/core'
import { singleLabelBatch } from '@logit-perturb/conformance'
import { onTfjsBackend } from '@logit-perturb/conformance/backends'
import { tfjsBackend } from '../src/index.js'

const COUNTS = [500, 200, 80, 30, 12, 5]
const SPECS: [string, RuleInput][] = [
  ['lpl prior, normalized steps', { rule: 'lpl', split: 'prior', classCounts: COUNTS, gradient: 'through' }],
  ['lpl prior, plain steps', { rule: 'lpl', split: 'prior', classCounts: COUNTS, gradient: 'through', normalize: false, alpha: 0.5 }],
  ['lpl confidence', { rule: 'lpl', split: 'confidence', numClasses: COUNTS.length, momentum: 0, gradient: 'through' }],
  [
    'la + lpl',
    {
      rule: 'lpl',
      split: 'prior',
      classCounts: COUNTS,
      gradient: 'through',
      base: { rule: 'logit-adjustment', tau: 1, classCounts: COUNTS },
    },
  ],
  ['official-longtail', { rule: 'official-longtail', classCounts: COUNTS, headClasses: 2 }],
]

/** The gradient of the mean loss w.r.t. the logits on one variant of the backend. */
function gradientOn(
  backend: ReturnType<typeof tfjsBackend>,
  spec: RuleInput,
  logits: number[][],
  labels: number[],
  ctx: LossContext<tf.Tensor>,
) {
  const loss = createLoss(backend.ops, spec)
  const y = tf.tensor1d(labels, 'int32')
  const g = tf.grad((x: tf.Tensor) => loss(x, y, ctx) as tf.Tensor)(tf.tensor2d(logits))
  const values = Float64Array.from(g.dataSync())
  loss.dispose()
  return values
}

function relativeError(a: Float64Array, b: Float64Array): number {
  let diff = 0
  let scale = 0
  for (let k = 0; k < a.length; k++) {
    diff = Math.max(diff, Math.abs(a[k]! - b[k]!))
    scale = Math.max(scale, Math.abs(b[k]!))
  }
  return diff / scale
}

describe.each(['cpu', 'wasm'])('tfjs-%s', (name) => {
  const host = tfjsBackend(name)
  const ops = tfjsBackend(name, { hostSearch: false })
  const autodiff = tfjsBackend(name, { autodiff: true })
  it.each(SPECS)('%s: the host and op reverse passes equal autodiff through the ops', async (_name, spec) => {
    await onTfjsBackend(name, async () => {
      const rand = mulberry32(7)
      const { logits, labels } = singleLabelBatch(rand, 24, COUNTS.length, 3)
      for (const masked of [false, true]) {
        const ctx: LossContext<tf.Tensor> = masked ? { mask: tf.tensor1d(labels.map((_, i) => (i % 5 === 0 ? 0 : 1))) } : {}
        const before = tf.memory().numTensors
        const oracle = gradientOn(autodiff, spec, logits, labels, ctx)
        const fromHost = gradientOn(host, spec, logits, labels, ctx)
        const fromOps = gradientOn(ops, spec, logits, labels, ctx)
        // What each call made is freed: the tensors left are the three gradients, the labels and the inputs.
        expect(tf.memory().numTensors - before).toBeLessThanOrEqual(9)
        expect(relativeError(fromHost, oracle), `host, masked ${masked}`).toBeLessThan(1e-4)
        expect(relativeError(fromOps, oracle), `ops, masked ${masked}`).toBeLessThan(1e-4)
        // The search moves the gradient away from the plain cross-entropy's: the check can fail.
        const plain = gradientOn(autodiff, { rule: 'ce', numClasses: COUNTS.length }, logits, labels, ctx)
        expect(relativeError(plain, oracle)).toBeGreaterThan(1e-3)
      }
    })
  })
})
