import { logPriorsFromCounts, postHocPredict } from '@logit-perturb/core'
import { gaussianBlobs } from '@logit-perturb/conformance'
import { beforeAll, describe, expect, it } from 'vitest'
import { POST_HOC_METADATA_KEY, appendPostHocAdjustment, runModel } from '../src/index.js'
import { onnx } from '../src/serialize.js'
import { type DenseWeights, classifierModel } from './support/classifier.js'
import { checkModels } from './support/checker.js'
import { trainDenseClassifier } from './support/train.js'

/** Training counts: a head, a middle and a rare class (imbalance 25). */
const COUNTS = [500, 100, 20]
const CENTERS = [
  [0, 0],
  [2.2, 0],
  [1.1, 1.9],
] as const
const TAU = 1

let weights: DenseWeights[]
let original: Uint8Array
/** Points to predict: the training set and a grid over the region of the three classes. */
let probe: number[][]

/** Runs a classifier on `probe` and returns every output as rows. */
async function outputsOf(model: Uint8Array): Promise<Record<string, number[][]>> {
  const out = await runModel(model, { input: { data: Float32Array.from(probe.flat()), dims: [probe.length, 2] } })
  return Object.fromEntries(
    Object.entries(out).map(([name, t]) => {
      const width = t.dims[1]!
      return [name, probe.map((_, i) => Array.from(t.data.subarray(i * width, (i + 1) * width) as Float32Array))]
    }),
  )
}

const argmax = (row: readonly number[]) => row.indexOf(Math.max(...row))

beforeAll(async () => {
  const { points, labels } = gaussianBlobs(COUNTS, CENTERS, 0.7, 11)
  weights = await trainDenseClassifier(points, labels, 3, 12, 40)
  original = classifierModel(weights)
  const grid: number[][] = []
  for (let a = -1.5; a <= 3.7; a += 0.1) for (let b = -1.5; b <= 3.4; b += 0.1) grid.push([a, b])
  probe = [...points, ...grid]
})

describe('appendPostHocAdjustment on a trained tfjs classifier written as an ONNX Gemm/Relu graph', () => {
  it('the trained classifier works: it predicts the training labels mostly right', async () => {
    const { points, labels } = gaussianBlobs(COUNTS, CENTERS, 0.7, 11)
    const logits = (await outputsOf(original)).logits!.slice(0, points.length)
    const accuracy = logits.filter((row, i) => argmax(row) === labels[i]).length / labels.length
    expect(accuracy).toBeGreaterThan(0.8)
  })

  it('replaces the logits by logits − τ·log π under the same name, to 1e-5', async () => {
    const adjusted = appendPostHocAdjustment(original, { classCounts: COUNTS, tau: TAU })
    const before = (await outputsOf(original)).logits!
    const after = await outputsOf(adjusted)
    expect(Object.keys(after)).toEqual(['logits'])
    const shift = logPriorsFromCounts(COUNTS).map((l) => TAU * l)
    let worst = 0
    before.forEach((row, i) => {
      row.forEach((u, c) => {
        worst = Math.max(worst, Math.abs(after.logits![i]![c]! - (u - shift[c]!)) / Math.max(1, Math.abs(u)))
      })
    })
    expect(worst).toBeLessThan(1e-5)
    expect((await checkModels({ adjusted }))[0]).toMatchObject({ ok: true })
  })

  it('changes predictions where it should: toward rarer classes, near the boundary, as postHocPredict says', async () => {
    const adjusted = appendPostHocAdjustment(original, { classCounts: COUNTS, tau: TAU })
    const before = (await outputsOf(original)).logits!
    const after = (await outputsOf(adjusted)).logits!
    expect(after.map(argmax)).toEqual(postHocPredict(before, COUNTS, TAU))
    const logPrior = logPriorsFromCounts(COUNTS)
    const flips = before.map((row, i) => ({ from: argmax(row), to: argmax(after[i]!), row })).filter((f) => f.from !== f.to)
    expect(flips.length).toBeGreaterThan(0)
    for (const f of flips) {
      // A flip always goes to a rarer class, and only where the original margin was smaller than
      // the prior gap τ·(log π_from − log π_to): near the decision boundary.
      expect(logPrior[f.to]!).toBeLessThan(logPrior[f.from]!)
      expect(f.row[f.from]! - f.row[f.to]!).toBeLessThan(TAU * (logPrior[f.from]! - logPrior[f.to]!) + 1e-5)
    }
    // A sample just on the head side of the head/rare boundary flips to the rare class.
    expect(flips.some((f) => f.from === 0 && f.to === 2)).toBe(true)
    // The class centers keep their predictions: the adjustment moves boundaries, not the blobs.
    const centers = await runModel(adjusted, { input: { data: Float32Array.from(CENTERS.flat()), dims: [3, 2] } })
    const rows = [0, 1, 2].map((i) => Array.from((centers.logits!.data as Float32Array).subarray(3 * i, 3 * i + 3)))
    expect(rows.map(argmax)).toEqual([0, 1, 2])
  })

  it('adds adjusted probabilities on request, takes the counts from a spec, and records what it did', async () => {
    const fromSpec = appendPostHocAdjustment(original, {
      spec: { rule: 'logit-adjustment', tau: TAU, classCounts: COUNTS },
      probabilities: true,
    })
    const out = await outputsOf(fromSpec)
    expect(Object.keys(out)).toEqual(['logits', 'adjusted_probabilities'])
    out.adjusted_probabilities!.forEach((p, i) => {
      const row = out.logits![i]!
      const m = Math.max(...row)
      const z = row.reduce((s, v) => s + Math.exp(v - m), 0)
      p.forEach((v, c) => {
        expect(Math.abs(v - Math.exp(row[c]! - m) / z)).toBeLessThan(1e-6)
      })
    })
    const plain = await outputsOf(appendPostHocAdjustment(original, { classCounts: COUNTS, tau: TAU }))
    expect(out.logits).toEqual(plain.logits)
    const meta = onnx.ModelProto.decode(fromSpec).metadataProps.find((p) => p.key === POST_HOC_METADATA_KEY)
    expect(JSON.parse(meta!.value!)).toEqual({ output: 'logits', tau: TAU, classCounts: COUNTS })
    expect((await checkModels({ fromSpec }))[0]).toMatchObject({ ok: true })
  })

  it('reads a zero count as the core does (the smallest positive count), and adjusts a chosen output', async () => {
    const counts = [500, 0, 20]
    const model = classifierModel(weights, { extraOutputs: ['features'] })
    const adjusted = appendPostHocAdjustment(model, { classCounts: counts, tau: 0.5, output: 'logits' })
    const before = await outputsOf(model)
    const after = await outputsOf(adjusted)
    expect(after.features).toEqual(before.features)
    const shift = logPriorsFromCounts(counts).map((l) => 0.5 * l)
    expect(shift.every(Number.isFinite)).toBe(true)
    expect(shift[1]).toBe(shift[2])
    after.logits!.forEach((row, i) => {
      row.forEach((v, c) => {
        expect(Math.abs(v - (before.logits![i]![c]! - shift[c]!))).toBeLessThan(1e-5)
      })
    })
  })
})
