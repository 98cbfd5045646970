import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu'
import { describe, expect, it } from 'vitest'
import { LogitPerturbError, createLoss, referenceOps } from '@logit-perturb/core'
import type { RuleInput } from '@logit-perturb/core'
import { createTfjsLoss, createTfjsOps, labelsFromTargets, layersLoss, perturbationCallback } from '../src/index.js'
import { refusal } from '@logit-perturb/conformance'
import { onTfjsBackend } from '@logit-perturb/conformance/backends'

const logitsRows = [
  [2, 0.5, -1],
  [0.1, 1.5, 0.2],
  [0.3, 0.2, 0.9],
  [1.2, -0.4, 0.1],
]
const labelIds = [0, 1, 2, 0]

describe.each(['cpu', 'wasm'])('tfjs-%s adapter', (backend) => {
  it("layersLoss takes one-hot and integer targets and gives per-sample losses whose mean is the rule's weighted mean", async () => {
    await onTfjsBackend(backend, async () => {
      const spec = { rule: 'ldam', classCounts: [100, 10, 1], scale: 2, drw: { beta: 0.99, fromEpoch: 0 } } satisfies RuleInput
      const expected = createLoss(referenceOps, spec)(
        referenceOps.constant(logitsRows.flat(), [4, 3]),
        referenceOps.constant(labelIds, [4], 'int32'),
      ).data[0]!
      const fn = layersLoss(createTfjsLoss(spec))
      const yPred = tf.tensor2d(logitsRows)
      for (const yTrue of [tf.oneHot(tf.tensor1d(labelIds, 'int32'), 3), tf.tensor1d(labelIds), tf.tensor2d(labelIds, [4, 1])]) {
        const perSample = fn(yTrue, yPred)
        expect(perSample.shape).toEqual([4])
        expect((await tf.mean(perSample).data())[0]).toBeCloseTo(expected, 5)
      }
    })
  })

  it('bad targets throw LABEL_VALUE or LABELS_SHAPE, naming the row or the shape', async () => {
    await onTfjsBackend(backend, async () => {
      expect(
        refusal(() =>
          labelsFromTargets(
            tf.tensor2d([
              [1, 0, 0],
              [0, 1, 1],
            ]),
            3,
          ),
        ).message,
      ).toMatch(/row 1 has 2 ones/)
      expect(refusal(() => labelsFromTargets(tf.tensor2d([[0.5, 0.5, 0]]), 3)).message).toMatch(/row 0 holds 0.5/)
      expect(refusal(() => labelsFromTargets(tf.tensor1d([0, 1.5]), 3)).message).toMatch(/label 1.5 at index 1/)
      expect(
        refusal(() =>
          labelsFromTargets(
            tf.tensor2d([
              [0, 1],
              [1, 0],
            ]),
            3,
          ),
        ).message,
      ).toMatch(/one-hot \[N, 3\]/)
    })
  })

  it('sign is exact at every magnitude, sigmoid is finite at 1e4', async () => {
    await onTfjsBackend(backend, async () => {
      const ops = createTfjsOps()
      const x = tf.tensor1d([-1e-30, -1e-8, 0, 1e-12, 1e-37, 3])
      expect(Array.from(await ops.sign(x).data())).toEqual([-1, -1, 0, 1, 1, 1])
      expect(
        Array.from(
          await tf
            .grad((v: tf.Tensor) => tf.sum(ops.sign(v)))(x)
            .data(),
        ),
      ).toEqual([0, 0, 0, 0, 0, 0])
      const s = Array.from(await ops.sigmoid(tf.tensor1d([-1e4, 0, 2, 1e4])).data())
      expect(s[0]).toBe(0)
      expect(s[1]).toBe(0.5)
      expect(s[2]).toBeCloseTo(1 / (1 + Math.exp(-2)), 6)
      expect(s[3]).toBe(1)
    })
  })

  it('multi-label rules take 0/1 label matrices, also as model.compile targets, and refuse other entries', async () => {
    await onTfjsBackend(backend, async () => {
      const spec = { rule: 'db-negative-tolerant', classCounts: [300, 40, 5], numSamples: 1000 } satisfies RuleInput
      const targets = [
        [1, 0, 1],
        [0, 1, 0],
        [1, 1, 0],
        [0, 0, 0],
      ]
      const expected = createLoss(referenceOps, spec)(
        referenceOps.constant(logitsRows.flat(), [4, 3]),
        referenceOps.constant(targets.flat(), [4, 3]),
      ).data[0]!
      const loss = createTfjsLoss(spec)
      expect(loss.task).toBe('multi')
      expect((await loss(tf.tensor2d(logitsRows), tf.tensor2d(targets)).data())[0]).toBeCloseTo(expected, 5)
      const perSample = layersLoss(loss)(tf.tensor2d(targets), tf.tensor2d(logitsRows))
      expect(perSample.shape).toEqual([4])
      expect((await tf.mean(perSample).data())[0]).toBeCloseTo(expected, 5)
      const bad = targets.map((row, i) => row.map((v, j) => (i === 2 && j === 1 ? 0.5 : v)))
      expect(() => loss(tf.tensor2d(logitsRows), tf.tensor2d(bad))).toThrow(/entry 0.5 at row 2, label 1/)
      expect(() => loss(tf.tensor2d(logitsRows), tf.tensor1d(labelIds, 'int32'))).toThrow(/0\/1 matrix \[N, C\]/)
    })
  })

  it("fit's validation passes leave the running confidences alone; state round-trips through JSON", async () => {
    await onTfjsBackend(backend, async () => {
      const xs = tf.tensor2d(logitsRows)
      const ys = tf.oneHot(tf.tensor1d(labelIds, 'int32'), 3)
      const trainOnce = async (validate: boolean) => {
        const model = tfl.sequential({
          layers: [tfl.layers.dense({ units: 3, inputShape: [3], kernelInitializer: 'identity', useBias: false })],
        })
        const loss = createTfjsLoss({ rule: 'lpl', split: 'confidence', momentum: 0.5 })
        model.compile({ optimizer: tf.train.sgd(0.1), loss: layersLoss(loss) })
        await model.fit(xs, ys, {
          epochs: 3,
          batchSize: 2,
          shuffle: false,
          verbose: 0,
          callbacks: perturbationCallback(loss),
          ...(validate
            ? {
                validationData: [
                  tf.tensor2d([
                    [5, -5, -5],
                    [-5, 5, -5],
                  ]),
                  tf.oneHot(tf.tensor1d([0, 1], 'int32'), 3),
                ],
              }
            : {}),
        })
        const saved = await loss.saveState()
        model.dispose()
        return { saved, loss }
      }
      const plain = await trainOnce(false)
      const validated = await trainOnce(true)
      expect(validated.saved).toEqual(plain.saved)
      const restored = createTfjsLoss({ rule: 'lpl', split: 'confidence', momentum: 0.5 })
      restored.loadState(JSON.parse(JSON.stringify(plain.saved)))
      expect(await restored.saveState()).toEqual(plain.saved)
      expect(() => restored.loadState({ version: 1, confidence: [2], seen: [1] })).toThrow(/state\.confidence/)
      expect(await restored.saveState()).toEqual(plain.saved)
      for (const l of [plain.loss, validated.loss, restored]) l.dispose()
    })
  })
})

describe("where LPL's search runs", () => {
  it('as a host loop on cpu and wasm (with its reverse pass for gradient through), as ops when asked, and says so', async () => {
    for (const backend of ['cpu', 'wasm']) {
      await onTfjsBackend(backend, async () => {
        const counts = [100, 10, 1]
        expect(createTfjsLoss({ rule: 'lpl', split: 'prior', classCounts: counts }).searchPath).toBe('host')
        expect(createTfjsLoss({ rule: 'lpl', split: 'prior', classCounts: counts, gradient: 'through' }).searchPath).toBe('host')
        expect(createTfjsLoss({ rule: 'official-longtail', classCounts: counts, headClasses: 1 }).searchPath).toBe('host')
        expect(createTfjsLoss({ rule: 'official-longtail', classCounts: counts, headClasses: 1 }, { search: 'ops' }).searchPath).toBe('ops')
        expect(createTfjsLoss({ rule: 'lpl', split: 'prior', classCounts: counts }, { search: 'ops' }).searchPath).toBe('ops')
        expect(createTfjsLoss({ rule: 'logit-adjustment', classCounts: counts }).searchPath).toBe('none')
      })
    }
    expect(() => createLoss(referenceOps, { rule: 'lpl', split: 'confidence' }, { search: 'host' })).toThrow(/reference does not/)
  })

  it('follows a change of tfjs backend: searchPath says what the next call will do', async () => {
    // A backend tfjs does not read synchronously (as WebGL and WebGPU): the CPU implementation under
    // another name, which is only made active here, never asked to compute.
    tf.registerBackend('no-sync-reads', () => new MathBackendCPU())
    try {
      await onTfjsBackend('cpu', async () => {
        const loss = createTfjsLoss({ rule: 'lpl', split: 'prior', classCounts: [100, 10, 1] })
        expect(loss.searchPath).toBe('host')
        await tf.setBackend('no-sync-reads')
        expect(loss.searchPath).toBe('ops')
        await tf.setBackend('cpu')
        expect(loss.searchPath).toBe('host')
      })
    } finally {
      tf.removeBackend('no-sync-reads')
    }
  })
})

describe('the state of a tfjs loss', () => {
  it('setState takes the tensors (kept past a tidy), frees the previous ones, and refuses a state that does not fit', async () => {
    await onTfjsBackend('cpu', async () => {
      const loss = createTfjsLoss({ rule: 'lpl', split: 'learned', numClasses: 3 })
      const before = tf.memory().numTensors
      tf.tidy(() => loss.setState({ theta: tf.tensor1d([0.5, -0.5, 0]) }))
      expect(Array.from(await loss.getState()!.theta!.data())).toEqual([0.5, -0.5, 0])
      const first = loss.getState()!.theta!
      loss.setState({ theta: tf.tensor1d([1, 0, -1]) })
      expect(first.isDisposed).toBe(true)
      // A refused state stays the caller's, to free.
      const wrong = tf.tensor1d([1, 0])
      expect(() => loss.setState({ theta: wrong })).toThrow(LogitPerturbError)
      wrong.dispose()
      expect(Array.from(await loss.getState()!.theta!.data())).toEqual([1, 0, -1])
      loss.dispose()
      expect(tf.memory().numTensors).toBe(before)
    })
  })
})

describe('the constants of a tfjs loss', () => {
  it('are made on the first call, reused by the next ones, and freed by dispose', async () => {
    await onTfjsBackend('cpu', async () => {
      const loss = createTfjsLoss({ rule: 'vs', classCounts: [50, 10, 2] })
      const logits = tf.tensor2d([
        [1, 0, -1],
        [0.5, 0.2, 0.1],
      ])
      const labels = tf.tensor1d([0, 2], 'int32')
      const before = tf.memory().numTensors
      loss(logits, labels).dispose()
      const afterFirst = tf.memory().numTensors
      expect(afterFirst - before).toBe(2) // VS's multiplicative and additive terms
      loss(logits, labels).dispose()
      expect(tf.memory().numTensors).toBe(afterFirst)
      loss.dispose()
      expect(tf.memory().numTensors).toBe(before)
      // Still usable: the constants are made again.
      const again = loss(logits, labels)
      expect(Number.isFinite((await again.data())[0]!)).toBe(true)
      loss.dispose()
      tf.dispose([again, logits, labels])
    })
  })
})
