/**
 * The data-parallel hook on tfjs (docs/spec.md#9-data-parallel-training): two workers that sum their
 * batch statistics with `batchSum` get the perturbed logits and, added up, the loss of the whole
 * batch, on the search paths tfjs takes; the tensors the sums pass through are freed.
 */
import * as tf from '@tensorflow/tfjs-core'
import { describe, expect, it } from 'vitest'
import { type LossContext, type RuleInput, createLoss } from '@logit-perturb/core'
import { onTfjsBackend } from '@logit-perturb/conformance/backends'
import { createTfjsOps } from '../src/index.js'

const logits = [
  [2, 0, -1, -2],
  [0.5, 1, 0, -1],
  [1, 0.2, 0.1, -0.5],
  [0, 0, 1, 0],
  [3, 1, 0, 0],
  [0, 2, 1, 0],
  [0.1, 0, 0, 2],
]
const labels = [0, 1, 0, 2, 0, 3, 3]
const shards = [[0, 1, 2], [3, 4, 5, 6], []]
const counts = [500, 100, 20, 4]
const SPECS: [string, RuleInput][] = [
  ['lpl prior', { rule: 'lpl', split: 'prior', classCounts: counts }],
  ['lpl through', { rule: 'lpl', split: 'prior', classCounts: counts, gradient: 'through' }],
  ['official-longtail', { rule: 'official-longtail', classCounts: counts, headClasses: 1 }],
]

/**
 * Runs the workers in rounds until their sums settle (see test/properties/dataParallel.test.ts); a
 * sum whose shape the workers do not agree on yet (slots of the classes present) is not taken.
 */
function asWorkers<R>(count: number, work: (w: number, ctx: LossContext<tf.Tensor>) => R): R[] {
  let sums: (Float32Array | undefined)[] = []
  for (let round = 0; round < 100; round++) {
    const seen: Float32Array[][] = Array.from({ length: count }, () => [])
    const results = Array.from({ length: count }, (_, w) =>
      work(w, {
        batchSum: (x) => {
          const j = seen[w]!.length
          seen[w]!.push(x.dataSync() as Float32Array)
          const sum = sums[j]
          return sum === undefined || sum.length !== x.size ? x : tf.tensor(sum, x.shape)
        },
      }),
    )
    const next = seen[0]!.map((_, j) => {
      const values = seen.map((s) => s[j]!)
      return values.every((v) => v.length === values[0]!.length) ? values.reduce((a, b) => a.map((v, k) => v + b[k]!)) : undefined
    })
    const settled =
      next.length === sums.length && next.every((t, j) => t !== undefined && sums[j] !== undefined && t.every((v, k) => v === sums[j]![k]))
    sums = next
    if (settled) return results
  }
  throw new Error('the rounds did not settle')
}

describe.each(['cpu', 'wasm'])('tfjs-%s: batchSum', (backend) => {
  it.each(SPECS)('%s: the workers compute the whole batch’s perturbed logits and loss', async (_name, spec) => {
    await onTfjsBackend(backend, async () => {
      const ops = createTfjsOps()
      const batch = (rows: number[]) => ({
        u: tf.tensor2d(
          rows.flatMap((i) => logits[i]!),
          [rows.length, 4],
        ),
        y: tf.tensor1d(
          rows.map((i) => labels[i]!),
          'int32',
        ),
      })
      const whole = batch([0, 1, 2, 3, 4, 5, 6])
      const expected = createLoss(ops, spec).evaluate(whole.u, whole.y)
      const expectedLogits = expected.batch.logits.dataSync()
      const before = tf.memory().numTensors
      const results = asWorkers(shards.length, (w, ctx) =>
        tf.tidy(() => {
          const { u, y } = batch(shards[w]!)
          const loss = createLoss(ops, spec)
          const evaluation = loss.evaluate(u, y, ctx)
          const result = { loss: evaluation.loss.dataSync()[0]!, perturbed: Array.from(evaluation.batch.logits.dataSync()) }
          loss.dispose()
          return result
        }),
      )
      expect(tf.memory().numTensors).toBe(before)
      const total = results.reduce((a, r) => a + r.loss, 0)
      expect(Math.abs(total - expected.loss.dataSync()[0]!)).toBeLessThan(1e-5)
      const inOrder = shards.flat().flatMap((i) => Array.from(expectedLogits.slice(i * 4, (i + 1) * 4)))
      const got = results.flatMap((r) => r.perturbed)
      expect(got.length).toBe(inOrder.length)
      for (let k = 0; k < got.length; k++) expect(Math.abs(got[k]! - inOrder[k]!)).toBeLessThan(1e-5)
    })
  })
})
