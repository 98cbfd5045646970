/**
 * Dense outputs, the ignore label and soft targets on tfjs: `createTfjsLoss` (channels-last by
 * default, `classAxis: 1` as the option) and `layersLoss` (class ids `[N, H, W]` / `[N, H, W, 1]`,
 * one-hot and soft targets of the output's shape), each equal to the core's float64 reference on
 * the same batch; ignored pixels have gradient 0; rules without soft targets refuse them; no tensor
 * leaks.
 */
import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-layers'
import { describe, expect, it } from 'vitest'
import { type LossOptions, type RuleInput, createLoss, referenceOps } from '@logit-perturb/core'
import { refusal } from '@logit-perturb/conformance'
import { onTfjsBackend } from '@logit-perturb/conformance/backends'
import { createTfjsLoss, layersLoss } from '../src/index.js'

const IGNORE = 255
const C = 4
const COUNTS = [50, 20, 5, 1]
const SPECS: [string, RuleInput][] = [
  ['logit-adjustment', { rule: 'logit-adjustment', classCounts: COUNTS }],
  ['ldam-drw (class weights)', { rule: 'ldam', classCounts: COUNTS, scale: 2, drw: { beta: 0.99, fromEpoch: 0 } }],
]

/** Logits `[2, 3, 3, 4]` (channels-last) and ids `[2, 3, 3]` with three ignored pixels. */
function denseBatch(): { logits: tf.Tensor4D; ids: number[] } {
  const logits = tf.randomNormal([2, 3, 3, C], 0, 2, 'float32', 11) as tf.Tensor4D
  const ids = [0, 1, 2, 3, IGNORE, 0, 1, 1, 0, 2, 0, IGNORE, 3, 0, 0, 1, IGNORE, 2]
  return { logits, ids }
}

/** The core's loss on the float64 reference, for logits and labels read back from tfjs. */
async function reference(
  spec: RuleInput,
  logits: tf.Tensor,
  labels: tf.Tensor,
  options: LossOptions,
  sampleWeight?: tf.Tensor,
): Promise<number> {
  const toRef = async (x: tf.Tensor, dtype: 'float32' | 'int32' = 'float32') => referenceOps.constant(await x.data(), x.shape, dtype)
  const loss = createLoss(referenceOps, spec, options)
  // An evaluation, as a tfjs call outside a gradient is: stateful rules keep their fresh state.
  const ctx = { training: false, ...(sampleWeight ? { sampleWeight: await toRef(sampleWeight) } : {}) }
  const refLabels = await toRef(labels, labels.dtype === 'int32' ? 'int32' : 'float32')
  return loss(await toRef(logits), refLabels, ctx).data[0]!
}

async function mean(x: tf.Tensor): Promise<number> {
  const m = tf.mean(x)
  const v = (await m.data())[0]!
  m.dispose()
  return v
}

describe.each(['cpu', 'wasm'])('tfjs-%s: dense inputs', (backend) => {
  it('createTfjsLoss is channels-last by default, channels-first with classAxis 1, and equals the core with ignoreIndex', async () => {
    await onTfjsBackend(backend, async () => {
      const { logits, ids } = denseBatch()
      const labels = tf.tensor3d(ids, [2, 3, 3], 'int32')
      for (const [, spec] of SPECS) {
        const expected = await reference(spec, logits, labels, { classAxis: -1, ignoreIndex: IGNORE })
        const last = createTfjsLoss(spec, { ignoreIndex: IGNORE })
        expect(last.classAxis).toBe(-1)
        expect(last.ignoreIndex).toBe(IGNORE)
        const first = createTfjsLoss(spec, { ignoreIndex: IGNORE, classAxis: 1 })
        const before = tf.memory().numTensors
        const channelsFirst = tf.transpose(logits, [0, 3, 1, 2])
        const a = last(logits, labels)
        const b = first(channelsFirst, labels)
        expect((await a.data())[0]).toBeCloseTo(expected, 5)
        expect((await b.data())[0]).toBeCloseTo(expected, 5)
        // The closed form and tf.grad: exactly 0 at the ignored pixels, in the logits' layout.
        const grad = tf.grad((x: tf.Tensor) => last(x, labels))(logits)
        const closed = last.gradient(logits, labels)
        const firstGrad = first.gradient(channelsFirst, labels)
        expect(closed.shape).toEqual([2, 3, 3, C])
        expect(firstGrad.shape).toEqual([2, C, 3, 3])
        const [g, cf] = [await grad.data(), await closed.data()]
        ids.forEach((y, p) => {
          const row = Array.from(g.slice(p * C, (p + 1) * C))
          if (y === IGNORE) {
            expect(row.every((v) => v === 0)).toBe(true)
            expect(Array.from(cf.slice(p * C, (p + 1) * C)).every((v) => v === 0)).toBe(true)
          } else expect(row.some((v) => v !== 0)).toBe(true)
        })
        tf.dispose([a, b, grad, closed, firstGrad, channelsFirst])
        last.dispose()
        first.dispose()
        expect(tf.memory().numTensors).toBe(before)
      }
      expect(refusal(() => createTfjsLoss({ rule: 'ce' }, { classAxis: 2 as never })).field).toBe('classAxis')
      expect(refusal(() => createTfjsLoss({ rule: 'ce' }, { ignoreIndex: 0.5 })).field).toBe('ignoreIndex')
      tf.dispose([logits, labels])
    })
  })

  it.each(SPECS)(
    'layersLoss with %s: ids [N, H, W] and [N, H, W, 1] and soft [N, H, W, C]; mean R_n = the core mean over labelled pixels',
    async (_name, spec) => {
      await onTfjsBackend(backend, async () => {
        const { logits, ids } = denseBatch()
        const labels = tf.tensor3d(ids, [2, 3, 3], 'int32')
        const soft = tf.softmax(tf.randomNormal([2, 3, 3, C], 0, 1, 'float32', 5))
        const imageWeights = tf.tensor1d([1, 3])
        const lastLoss = createTfjsLoss(spec, { ignoreIndex: IGNORE })
        const firstLoss = createTfjsLoss(spec, { ignoreIndex: IGNORE, classAxis: 1 })
        const fn = layersLoss(lastLoss)
        const channelsFirst = layersLoss(firstLoss)
        const expected = await reference(spec, logits, labels, { classAxis: -1, ignoreIndex: IGNORE })
        const weighted = await reference(spec, logits, labels, { classAxis: -1, ignoreIndex: IGNORE }, imageWeights)
        const softExpected = await reference(spec, logits, soft, { classAxis: -1 })
        const before = tf.memory().numTensors
        for (const yTrue of [labels, tf.tidy(() => tf.reshape(tf.cast(labels, 'float32'), [2, 3, 3, 1]))]) {
          const perSample = fn(yTrue, logits)
          expect(perSample.shape).toEqual([2])
          expect(await mean(perSample)).toBeCloseTo(expected, 5)
          // A fit weight per image (classWeight) weights as the core's per-image sampleWeight.
          const w = tf.mul(perSample, imageWeights)
          expect(await mean(w)).toBeCloseTo(weighted, 5)
          tf.dispose([perSample, w])
          if (yTrue !== labels) yTrue.dispose()
        }
        const cf = tf.transpose(logits, [0, 3, 1, 2])
        const r = channelsFirst(labels, cf)
        expect(await mean(r)).toBeCloseTo(expected, 5)
        const s = fn(soft, logits)
        expect(await mean(s)).toBeCloseTo(softExpected, 5)
        // The gradient of the mean through layersLoss is 0 at the ignored pixels.
        const grad = tf.grad((x: tf.Tensor) => tf.mean(fn(labels, x)))(logits)
        const g = await grad.data()
        ids.forEach((y, p) => {
          if (y === IGNORE) expect(Array.from(g.slice(p * C, (p + 1) * C)).every((v) => v === 0)).toBe(true)
        })
        tf.dispose([cf, r, s, grad])
        // The losses keep their constants (shifts, margins, weights) until disposed.
        lastLoss.dispose()
        firstLoss.dispose()
        expect(tf.memory().numTensors).toBe(before)
        const wrong = [tf.zeros([2, 3]), tf.zeros([4])]
        expect(refusal(() => fn(wrong[0]!, logits)).code).toBe('LABELS_SHAPE')
        expect(refusal(() => fn(labels, wrong[1]!)).code).toBe('LOGITS_SHAPE')
        tf.dispose(wrong)
        expect(tf.memory().numTensors).toBe(before)
        tf.dispose([logits, labels, soft, imageWeights])
      })
    },
  )
})

/** Mixup rows `λ·e_a + (1 − λ)·e_b`, and the same rows' first classes. */
const mixed = [
  [0.7, 0.3, 0],
  [0, 0.6, 0.4],
  [0.2, 0, 0.8],
  [1, 0, 0],
]
const rows = [
  [2, 0.5, -1],
  [0.1, 1.5, 0.2],
  [0.3, 0.2, 0.9],
  [1.2, -0.4, 0.1],
]

describe.each(['cpu', 'wasm'])('tfjs-%s: soft targets in layersLoss', (backend) => {
  it('rules with soft targets take them; lpl and seesaw refuse them with SOFT_TARGETS naming the rule, and take one-hot rows as ids', async () => {
    await onTfjsBackend(backend, async () => {
      const logits = tf.tensor2d(rows)
      const soft = tf.tensor2d(mixed)
      const oneHot = tf.oneHot(tf.tensor1d([0, 1, 2, 0], 'int32'), 3)
      const ids = tf.tensor1d([0, 1, 2, 0], 'int32')
      const counts = [100, 10, 1]
      for (const spec of [{ rule: 'ce' }, { rule: 'vs', classCounts: counts }, { rule: 'ldam', classCounts: counts }] as RuleInput[]) {
        const expected = await reference(spec, logits, soft, {})
        const r = layersLoss(createTfjsLoss(spec))(soft, logits)
        expect(await mean(r)).toBeCloseTo(expected, 5)
        r.dispose()
      }
      const refused: RuleInput[] = [
        { rule: 'lpl', split: 'prior', classCounts: counts },
        { rule: 'seesaw', classCounts: counts },
      ]
      for (const spec of refused) {
        const loss = createTfjsLoss(spec)
        const fn = layersLoss(loss)
        const before = tf.memory().numTensors
        const error = refusal(() => fn(soft, logits))
        expect(error.code).toBe('SOFT_TARGETS')
        expect(error.message).toContain(`rule ${spec.rule}`)
        expect(tf.memory().numTensors).toBe(before)
        const expected = await reference(spec, logits, ids, {})
        const r = fn(oneHot, logits)
        expect(await mean(r)).toBeCloseTo(expected, 5)
        r.dispose()
        loss.dispose()
      }
      tf.dispose([logits, soft, oneHot, ids])
    })
  })
})

describe('without value checks (checks: shapes, as on WebGL)', () => {
  it('a row that is not one-hot is never argmaxed: for a rule without soft targets, its sample reads NaN, is masked out and gets gradient 0', async () => {
    await onTfjsBackend('cpu', async () => {
      const spec: RuleInput = { rule: 'lpl', split: 'prior', classCounts: [100, 10, 1] }
      const unchecked = createTfjsLoss(spec, { checks: 'shapes' })
      const checked = createTfjsLoss(spec)
      const fn = layersLoss(unchecked)
      const logits = tf.tensor2d(rows)
      const targets = tf.tensor2d([[1, 0, 0], mixed[1]!, [0, 0, 1], [1, 0, 0]])
      const kept = [0, 2, 3]
      const keptTargets = tf.oneHot(tf.tensor1d([0, 2, 0], 'int32'), 3)
      const keptLogits = tf.tensor2d(kept.map((i) => rows[i]!))
      const before = tf.memory().numTensors
      const result = fn(targets, logits)
      const r = Array.from(await result.data())
      expect(Number.isNaN(r[1])).toBe(true)
      // The other rows: as if row 1 were not in the batch (a masked row takes no part in LPL's statistics).
      const dropped = layersLoss(checked)(keptTargets, keptLogits)
      const d = Array.from(await dropped.data())
      kept.forEach((i, k) => {
        expect(r[i]).toBeCloseTo(d[k]!, 5)
      })
      const grad = tf.grad((x: tf.Tensor) => tf.mean(fn(targets, x)))(logits)
      const g = (await grad.array()) as number[][]
      expect(g[1]!.every((v) => v === 0)).toBe(true)
      expect(g.flat().every(Number.isFinite)).toBe(true)
      // The checked loss refuses the same rows.
      expect(refusal(() => layersLoss(checked)(targets, logits)).code).toBe('SOFT_TARGETS')
      tf.dispose([result, dropped, grad])
      unchecked.dispose()
      checked.dispose()
      expect(tf.memory().numTensors).toBe(before)
      tf.dispose([logits, targets, keptTargets, keptLogits])
    })
  })
})
