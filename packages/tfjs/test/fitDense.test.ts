/**
 * `model.fit` with the new targets: mixup rows `[N, C]` on a small dense model, and a small
 * channels-last segmentation model with class ids `[N, H, W]` and ignored pixels (255), through
 * `acceptSparseTargets`. The loss `fit` reports for a one-batch epoch equals the core's reference
 * loss on the same batch (the model's outputs before the step), training lowers it, `classWeight`
 * weights samples as tfjs-layers does, and no tensor leaks.
 */
import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import { describe, expect, it } from 'vitest'
import { type LossOptions, type RuleInput, createLoss, referenceOps } from '@logit-perturb/core'
import { circleCenters, gaussianBlobs, refusal } from '@logit-perturb/conformance'
import { onTfjsBackend } from '@logit-perturb/conformance/backends'
import { acceptSparseTargets, createTfjsLoss, layersLoss, perturbationCallback } from '../src/index.js'

const IGNORE = 255

/** The core's mean loss on the float64 reference, for the model's logits and the targets read back from tfjs. */
async function reference(spec: RuleInput, logits: tf.Tensor, targets: tf.Tensor, options: LossOptions = {}): Promise<number> {
  const loss = createLoss(referenceOps, spec, options)
  const ref = async (x: tf.Tensor, dtype: 'float32' | 'int32') => referenceOps.constant(await x.data(), x.shape, dtype)
  const value = loss(await ref(logits, 'float32'), await ref(targets, targets.dtype === 'int32' ? 'int32' : 'float32'), {
    training: false,
  })
  return value.data[0]!
}

/** The logits of `model` on `xs`, as a tensor the caller frees. */
function predict(model: tfl.LayersModel, xs: tf.Tensor): tf.Tensor {
  return model.predict(xs) as tf.Tensor
}

/**
 * A timm-style mixup batch: `x̃ = λ·x + (1 − λ)·x.flip(0)`, `ỹ = λ·e_y + (1 − λ)·e_y.flip(0)`, with
 * `λ` fixed (timm draws it from Beta(α, α)).
 */
function mixup(x: tf.Tensor2D, oneHot: tf.Tensor2D, lambda: number): { xs: tf.Tensor2D; ys: tf.Tensor2D } {
  return tf.tidy(() => ({
    xs: tf.add(tf.mul(x, lambda), tf.mul(tf.reverse(x, 0), 1 - lambda)) as tf.Tensor2D,
    ys: tf.add(tf.mul(oneHot, lambda), tf.mul(tf.reverse(oneHot, 0), 1 - lambda)) as tf.Tensor2D,
  }))
}

function denseModel(): tfl.Sequential {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 16, activation: 'relu', inputShape: [2], kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
      tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
    ],
  })
}

/**
 * A fully convolutional model: `[N, 6, 6, 2]` → logits `[N, 6, 6, 3]`, channels-last. Its first
 * layer is a 3 × 3 `conv2d` where the backend can train one; tfjs-wasm has no kernel for the
 * filter's gradient (`Conv2DBackpropFilter`), so there it is a dense layer applied at each pixel.
 */
function segmentationModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [6, 6, 2] })
  const init = tfl.initializers.glorotUniform({ seed: 3 })
  const first =
    tf.getKernel('Conv2DBackpropFilter', tf.getBackend()) === undefined
      ? tfl.layers.dense({ units: 8, activation: 'relu', kernelInitializer: init })
      : tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init })
  const hidden = first.apply(input) as tfl.SymbolicTensor
  // A 1 × 1 convolution: a dense layer at each pixel.
  const logits = tfl.layers
    .dense({ units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) })
    .apply(hidden) as tfl.SymbolicTensor
  return tfl.model({ inputs: input, outputs: logits })
}

/** Images `[8, 6, 6, 2]` and their pixel classes `[8, 6, 6]` (the larger of x0, x1, −x0 − x1), every 7th pixel ignored. */
function scenes(): { xs: tf.Tensor4D; ids: tf.Tensor3D; counts: number[] } {
  const xs = tf.randomNormal([8, 6, 6, 2], 0, 1, 'float32', 21) as tf.Tensor4D
  const values = xs.dataSync()
  const counts = [0, 0, 0]
  const ids = Array.from({ length: 8 * 36 }, (_, p) => {
    if (p % 7 === 3) return IGNORE
    const [a, b] = [values[2 * p]!, values[2 * p + 1]!]
    const scores = [a, b, -a - b]
    const y = scores.indexOf(Math.max(...scores))
    counts[y]!++
    return y
  })
  return { xs, ids: tf.tensor3d(ids, [8, 6, 6], 'int32'), counts }
}

describe.each(['cpu', 'wasm'])('tfjs-%s: model.fit', (backend) => {
  const specs: [string, RuleInput][] = [
    ['logit-adjustment (linear)', { rule: 'logit-adjustment', classCounts: [40, 6, 2] }],
    ['ldam (top-two)', { rule: 'ldam', classCounts: [40, 6, 2], scale: 2 }],
  ]
  it.each(specs)(
    'with mixup targets [N, C] and %s: the loss of an epoch equals the core on the same batch, classWeight weights it, training lowers it',
    async (_name, spec) => {
      await onTfjsBackend(backend, async () => {
        const { points, labels } = gaussianBlobs([40, 6, 2], circleCenters(3, 2), 0.6, 5)
        const x = tf.tensor2d(points)
        const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), 3) as tf.Tensor2D
        const { xs, ys } = mixup(x, oneHot, 0.7)
        const classWeight = { 0: 1, 1: 3, 2: 9 }
        const compiled = () => {
          const model = denseModel()
          const loss = createTfjsLoss(spec)
          model.compile({ optimizer: tf.train.sgd(0.2), loss: layersLoss(loss) })
          return { model, loss }
        }
        const fit = async ({ model, loss }: ReturnType<typeof compiled>, epochs: number, weighted = false) => {
          const history = await model.fit(xs, ys, {
            epochs,
            batchSize: 48,
            shuffle: false,
            verbose: 0,
            callbacks: perturbationCallback(loss),
            ...(weighted ? { classWeight } : {}),
          })
          return history.history.loss as number[]
        }

        const plain = compiled()
        const weighted = compiled()
        const logits = predict(plain.model, xs)
        const expected = await reference(spec, logits, ys)
        // tfjs-layers weights a soft row by its argmax class, as for its own categorical losses.
        const loss = createTfjsLoss(spec)
        const perSample = layersLoss(loss)(ys, logits)
        const weights = tf.tensor1d(
          (await tf.argMax(ys, 1).data()).map((c) => classWeight[c as 0 | 1 | 2]),
          'float32',
        )
        const weightedExpected = (await tf.mean(tf.mul(perSample, weights)).data())[0]!
        loss.dispose()

        const [first] = await fit(plain, 1)
        expect(first).toBeCloseTo(expected, 4)
        const [weightedFirst] = await fit(weighted, 1, true)
        expect(weightedFirst).toBeCloseTo(weightedExpected, 4)

        const before = tf.memory().numTensors
        const losses = await fit(plain, 30)
        expect(tf.memory().numTensors).toBe(before)
        expect(losses.every(Number.isFinite)).toBe(true)
        expect(losses[losses.length - 1]!).toBeLessThan(first!)
        tf.dispose([x, oneHot, xs, ys, logits, perSample, weights])
        for (const { model, loss } of [plain, weighted]) {
          model.dispose()
          loss.dispose()
        }
      })
    },
  )

  it('a channels-last segmentation model with ids [N, H, W] and ignored pixels: the loss equals the core, training lowers it', async () => {
    await onTfjsBackend(backend, async () => {
      const { xs, ids, counts } = scenes()
      const spec: RuleInput = { rule: 'logit-adjustment', classCounts: counts }
      const model = segmentationModel()
      const loss = createTfjsLoss(spec, { ignoreIndex: IGNORE })
      const compile = () => model.compile({ optimizer: tf.train.adam(0.05), loss: layersLoss(loss) })
      compile()
      // tfjs-layers wants targets of the output's shape unless told otherwise.
      await expect(model.fit(xs, ids, { epochs: 1, verbose: 0 })).rejects.toThrow(/dimension/)
      acceptSparseTargets(model)

      const logits = predict(model, xs)
      const expected = await reference(spec, logits, ids, { classAxis: -1, ignoreIndex: IGNORE })
      const options = { batchSize: 8, shuffle: false, verbose: 0 as const, callbacks: perturbationCallback(loss) }
      const first = (await model.fit(xs, ids, { ...options, epochs: 1 })).history.loss as number[]
      expect(first[0]).toBeCloseTo(expected, 4)

      // The same ids as [N, H, W, 1], and evaluate (also relaxed), at the weights after the step.
      const column = tf.expandDims(ids, 3)
      const now = predict(model, xs)
      const atNow = await reference(spec, now, ids, { classAxis: -1, ignoreIndex: IGNORE })
      const evaluated = model.evaluate(xs, column, { batchSize: 8 }) as tf.Scalar
      expect((await evaluated.data())[0]).toBeCloseTo(atNow, 4)
      tf.dispose([column, now, evaluated])

      const before = tf.memory().numTensors
      const losses = (await model.fit(xs, ids, { ...options, epochs: 15, validationData: [xs, ids] })).history.loss as number[]
      expect(tf.memory().numTensors).toBe(before)
      expect(losses.every(Number.isFinite)).toBe(true)
      expect(losses[losses.length - 1]!).toBeLessThan(first[0]! * 0.8)

      // compile sets tfjs-layers' check again.
      compile()
      await expect(model.fit(xs, ids, { epochs: 1, verbose: 0 })).rejects.toThrow(/dimension/)
      tf.dispose([xs, ids, logits])
      model.dispose()
      loss.dispose()
    })
  })

  it('a classifier with ids [N] (ignored rows included): fit takes them after acceptSparseTargets, and equals the core', async () => {
    await onTfjsBackend(backend, async () => {
      const { points, labels } = gaussianBlobs([40, 6, 2], circleCenters(3, 2), 0.6, 6)
      const xs = tf.tensor2d(points)
      const ids = tf.tensor1d(
        labels.map((y, i) => (i % 5 === 0 ? IGNORE : y)),
        'int32',
      )
      const spec: RuleInput = { rule: 'lpl', split: 'prior', classCounts: [40, 6, 2] }
      const model = denseModel()
      const loss = createTfjsLoss(spec, { ignoreIndex: IGNORE })
      model.compile({ optimizer: tf.train.sgd(0.1), loss: layersLoss(loss) })
      acceptSparseTargets(model)
      const logits = predict(model, xs)
      const expected = await reference(spec, logits, ids, { ignoreIndex: IGNORE })
      const history = await model.fit(xs, ids, {
        epochs: 1,
        batchSize: 48,
        shuffle: false,
        verbose: 0,
        callbacks: perturbationCallback(loss),
      })
      expect((history.history.loss as number[])[0]).toBeCloseTo(expected, 4)
      tf.dispose([xs, ids, logits])
      model.dispose()
      loss.dispose()
    })
  })
})

describe('acceptSparseTargets', () => {
  it('refuses a model that is not compiled, or has no output with a layersLoss, with INVALID_MODEL', async () => {
    await onTfjsBackend('cpu', async () => {
      const model = denseModel()
      expect(refusal(() => acceptSparseTargets(model)).code).toBe('INVALID_MODEL')
      model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' })
      const error = refusal(() => acceptSparseTargets(model))
      expect(error.code).toBe('INVALID_MODEL')
      expect(error.field).toBe('model')
      model.dispose()
    })
  })
})
