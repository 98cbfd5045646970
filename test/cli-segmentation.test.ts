/**
 * `lpl train --task segmentation` and `--mixup`: the scene builder (labels, the ignore border,
 * determinism, the long tail), the IoU metric on a hand-computed example, mixup batches, the
 * refusal of rules without soft targets, and both tasks end to end on tiny fake data.
 */
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { mulberry32 } from '@logit-perturb/core'
import type { ImageSet } from '../packages/cli/src/data/fashionMnist.js'
import {
  BACKGROUND,
  GARMENT_SIDE,
  GARMENT_THRESHOLD,
  IGNORE,
  SCENE_SIDE,
  buildScenes,
  pixelCounts,
  shrinkGarment,
} from '../packages/cli/src/data/scenes.js'
import { addPixels, confusionMatrix, segmentationScores } from '../packages/cli/src/report/iou.js'
import { betaSample } from '../packages/cli/src/train/beta.js'
import { METHODS } from '../packages/cli/src/train/methods.js'
import { mixBatch, mixEpoch } from '../packages/cli/src/train/mixup.js'
import { methodsForSoftTargets } from '../packages/cli/src/train/softTargets.js'
import { writeFakeFashionMnist } from '../packages/cli/test/fakeData.js'
import { lpl } from '../packages/cli/test/run.js'

/**
 * Ten fake classes, `perClass` images each: class `c` is a filled 20×16 block of intensity
 * `60 + 19c` (so its label can be read back from its pixels), with a zero frame.
 */
function blockImages(perClass: number): ImageSet {
  const count = 10 * perClass
  const images = new Uint8Array(count * 784)
  const labels = new Uint8Array(count)
  for (let i = 0; i < count; i++) {
    const c = i % 10
    labels[i] = c
    for (let y = 4; y < 24; y++) for (let x = 6; x < 22; x++) images[i * 784 + y * 28 + x] = 60 + 19 * c
  }
  return { images, labels, count, pixels: 784 }
}

const longTail = (ratio: number) => Array.from({ length: 10 }, (_, k) => ratio ** (-k / 9))
const everyImage = (set: ImageSet) => Array.from({ length: set.count }, (_, i) => i)
const neighbours = (at: number) => {
  const y = Math.floor(at / SCENE_SIDE)
  const x = at % SCENE_SIDE
  return [
    [y - 1, x],
    [y + 1, x],
    [y, x - 1],
    [y, x + 1],
  ]
    .filter(([a, b]) => a! >= 0 && a! < SCENE_SIDE && b! >= 0 && b! < SCENE_SIDE)
    .map(([a, b]) => a! * SCENE_SIDE + b!)
}

describe('segmentation scenes', () => {
  const set = blockImages(20)

  it('shrinks a garment to 14×14 by averaging 2×2 blocks', () => {
    const one: ImageSet = { images: new Uint8Array(784), labels: new Uint8Array(1), count: 1, pixels: 784 }
    one.images.set([255, 51], 0) // row 0: (0, 0) = 255, (0, 1) = 51
    one.images.set([102, 0], 28) // row 1: (1, 0) = 102, (1, 1) = 0
    const g = shrinkGarment(one, 0)
    expect(g).toHaveLength(GARMENT_SIDE * GARMENT_SIDE)
    expect(g[0]).toBeCloseTo((255 + 51 + 102) / (4 * 255), 6)
    expect(g.slice(1).every((v) => v === 0)).toBe(true)
  })

  it('labels each pixel by the garment under it, 255 on the border, 0 elsewhere', () => {
    const scenes = buildScenes(set, everyImage(set), 50, longTail(10), 3)
    const area = SCENE_SIDE * SCENE_SIDE
    expect(scenes.numClasses).toBe(11)
    let garmentPixels = 0
    let ignored = 0
    for (let n = 0; n < scenes.count; n++) {
      const lab = scenes.labels.subarray(n * area, (n + 1) * area)
      const img = scenes.pixels.subarray(n * area, (n + 1) * area)
      for (let at = 0; at < area; at++) {
        const label = lab[at]!
        const isGarment = (p: number) => lab[p]! !== BACKGROUND && lab[p]! !== IGNORE
        if (label === IGNORE) {
          ignored++
          expect(img[at]!).toBeLessThan(GARMENT_THRESHOLD)
          expect(neighbours(at).some(isGarment)).toBe(true)
        } else if (label === BACKGROUND) {
          expect(img[at]!).toBeLessThan(GARMENT_THRESHOLD)
          expect(neighbours(at).some(isGarment)).toBe(false)
        } else {
          garmentPixels++
          // Class c's block has intensity 60 + 19c; its label is c + 1.
          expect(label).toBeGreaterThanOrEqual(1)
          expect(label).toBeLessThanOrEqual(10)
          expect(img[at]!).toBeCloseTo((60 + 19 * (label - 1)) / 255, 5)
        }
      }
    }
    expect(garmentPixels).toBeGreaterThan(0)
    expect(ignored).toBeGreaterThan(0)
    // Each garment is a 10×8 block after shrinking, with a 36-pixel border around it.
    expect(ignored / garmentPixels).toBeCloseTo(36 / 80, 5)
    const counts = pixelCounts(scenes)
    expect(counts.reduce((a, b) => a + b, 0) + ignored).toBe(scenes.count * area)
    expect(counts.slice(1).reduce((a, b) => a + b, 0)).toBe(garmentPixels)
  })

  it('is deterministic: the same seed gives the same scenes, another seed others', () => {
    const a = buildScenes(set, everyImage(set), 20, longTail(100), 7)
    const b = buildScenes(set, everyImage(set), 20, longTail(100), 7)
    const c = buildScenes(set, everyImage(set), 20, longTail(100), 8)
    expect(b.labels).toEqual(a.labels)
    expect(b.pixels).toEqual(a.pixels)
    expect(c.labels).not.toEqual(a.labels)
  })

  it('draws garment classes with the long tail ρ^(−k/9); balanced with equal weights', () => {
    // Every fake garment has the same 80 pixels, so pixel counts are proportional to garment counts.
    const scenes = buildScenes(set, everyImage(set), 4000, longTail(100), 0)
    const garments = pixelCounts(scenes)
      .slice(1)
      .map((n) => n / 80)
    const total = garments.reduce((a, b) => a + b, 0)
    expect(total).toBeGreaterThan(4000 * 4 * 0.7) // 4 cells, each empty with p = 0.25
    expect(total).toBeLessThan(4000 * 4 * 0.8)
    const weights = longTail(100)
    const sum = weights.reduce((a, b) => a + b, 0)
    garments.forEach((n, k) => {
      const expected = (total * weights[k]!) / sum
      expect(Math.abs(n - expected)).toBeLessThan(4 * Math.sqrt(expected) + 1)
    })
    expect(garments[0]! / garments[9]!).toBeGreaterThan(50)
    // The background outweighs every garment class: a long tail from class 0 on.
    const counts = pixelCounts(scenes)
    expect(counts[0]!).toBeGreaterThan(counts[1]!)

    const balanced = pixelCounts(buildScenes(set, everyImage(set), 1000, new Array(10).fill(1), 1))
      .slice(1)
      .map((n) => n / 80)
    expect(Math.max(...balanced) / Math.min(...balanced)).toBeLessThan(1.5)
  })
})

describe('IoU', () => {
  it('matches a hand-computed example, ignoring label 255', () => {
    // true:      0 0 1 1 2 255
    // predicted: 0 1 1 1 0 2
    // IoU_0 = 1 / (1 + 1 + 1) (TP 1, FN 1: a 0 taken for 1, FP 1: the 2 taken for 0) = 1/3
    // IoU_1 = 2 / (2 + 1 + 0) = 2/3; IoU_2 = 0 / (0 + 0 + 1) = 0; mIoU = 1/3; pixel accuracy 3/5.
    const m = confusionMatrix(3)
    addPixels(m, [0, 1, 1, 1, 0, 2], [0, 0, 1, 1, 2, 255], 255)
    expect(m).toEqual([
      [1, 1, 0],
      [0, 2, 0],
      [1, 0, 0],
    ])
    const s = segmentationScores(m)
    expect(s.perClassIoU[0]).toBeCloseTo(1 / 3, 12)
    expect(s.perClassIoU[1]).toBeCloseTo(2 / 3, 12)
    expect(s.perClassIoU[2]).toBe(0)
    expect(s.meanIoU).toBeCloseTo(1 / 3, 12)
    expect(s.pixelAccuracy).toBeCloseTo(3 / 5, 12)
  })

  it('leaves a class neither labelled nor predicted out of the mean', () => {
    const m = confusionMatrix(3)
    addPixels(m, [0, 1, 1], [0, 1, 0], 255)
    const s = segmentationScores(m)
    expect(s.perClassIoU).toEqual([0.5, 0.5, null])
    expect(s.meanIoU).toBe(0.5)
  })

  it('refuses a label that is neither a class nor the ignore label', () => {
    expect(() => addPixels(confusionMatrix(2), [0], [7], 255)).toThrow(/label 7/)
  })
})

describe('mixup', () => {
  it('draws λ ~ Beta(α, α) with mean 1/2 and the variance 1/(4(2α + 1))', () => {
    const rand = mulberry32(1)
    for (const alpha of [0.2, 1, 2]) {
      const draws = Array.from({ length: 20000 }, () => betaSample(alpha, alpha, rand))
      const mean = draws.reduce((a, b) => a + b, 0) / draws.length
      const variance = draws.reduce((a, v) => a + (v - mean) ** 2, 0) / draws.length
      expect(draws.every((v) => v >= 0 && v <= 1)).toBe(true)
      expect(mean).toBeCloseTo(0.5, 1)
      expect(variance).toBeCloseTo(1 / (4 * (2 * alpha + 1)), 2)
    }
  })

  it('mixes a batch with its reverse: x̃ = λx + (1−λ)x_flip, targets λe_y + (1−λ)e_flip', () => {
    const x = Float32Array.from([1, 1, 1, 1, 0, 0, 0, 0, 2, 2, 2, 2]) // three 2×2 images
    const original = x.slice()
    const { targets, lambda } = mixBatch(x, [0, 1, 2], 3, 2, { mixup: 0.4 }, mulberry32(5))
    expect(lambda).toBeGreaterThan(0)
    expect(lambda).toBeLessThan(1)
    for (let i = 0; i < 3; i++) {
      for (let p = 0; p < 4; p++)
        expect(x[i * 4 + p]).toBeCloseTo(lambda * original[i * 4 + p]! + (1 - lambda) * original[(2 - i) * 4 + p]!, 6)
    }
    const expected = [lambda, 0, 1 - lambda, 0, 1, 0, 1 - lambda, 0, lambda]
    expected.forEach((v, k) => {
      expect(targets[k]).toBeCloseTo(v, 6)
    })
  })

  it('CutMix pastes a box of the partner and λ is the share left', () => {
    const side = 8
    const x = new Float32Array(2 * side * side)
    x.fill(1, 0, side * side) // image 0 all ones, image 1 all zeros
    const { targets, lambda } = mixBatch(x, [0, 1], 2, side, { cutmix: 1 }, mulberry32(3))
    const kept = x.subarray(0, side * side).reduce((a, b) => a + b, 0) / (side * side)
    expect(kept).toBeCloseTo(lambda, 6)
    expect(targets[0]! + targets[1]!).toBeCloseTo(1, 6)
  })

  it('mixes an epoch batch by batch, every target row a probability row', () => {
    const n = 10
    const x = Float32Array.from({ length: n * 4 }, (_, i) => i % 4)
    const { targets } = mixEpoch(
      x,
      Array.from({ length: n }, (_, i) => i % 3),
      3,
      2,
      4,
      { mixup: 0.2 },
      mulberry32(2),
    )
    for (let i = 0; i < n; i++) expect(targets[i * 3]! + targets[i * 3 + 1]! + targets[i * 3 + 2]!).toBeCloseTo(1, 6)
  })

  it('keeps the methods whose rule defines soft targets and refuses the others by name', () => {
    const { kept, skipped } = methodsForSoftTargets(METHODS, false)
    expect(kept.map((m) => m.name)).toEqual(expect.arrayContaining(['ce', 'la', 'cb-ce', 'ldam-drw']))
    expect(skipped.map((m) => m.name)).toEqual(expect.arrayContaining(['lpl', 'seesaw', 'la+lpl', 'official-longtail']))
    const named = METHODS.filter((m) => m.name === 'ce' || m.name === 'lpl')
    expect(() => methodsForSoftTargets(named, true)).toThrow(/lpl \(rule lpl\) cannot take/)
  })

  it('lpl train --mixup refuses lpl with a usage error before reading any data', async () => {
    const r = await lpl('train', '--mixup', '0.2', '--methods', 'ce,lpl', '--data', join(tmpdir(), 'no-such-folder'))
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/^lpl: --mixup and --cutmix train on probability rows, which lpl \(rule lpl\) cannot take/)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  })
})

describe('lpl train end to end on tiny fake data', () => {
  const data = writeFakeFashionMnist(30, 10)

  it('--task segmentation trains, reports IoU, mIoU and pixel accuracy, and writes results.json', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lpl-seg-'))
    const r = await lpl(
      'train',
      '--task',
      'segmentation',
      '--data',
      data,
      '--scenes',
      '24',
      '--test-limit',
      '20',
      '--epochs',
      '1',
      '--batch-size',
      '8',
      '--seeds',
      '0',
      '--methods',
      'ce,lpl',
      '--out',
      out,
    )
    expect(r.stderr).not.toMatch(/unexpected error/)
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(
      /24 training scenes, labelled pixels per class \d+(\/\d+){10} \(background first; \d+ ignored\); 20 test scenes/,
    )
    expect(r.stdout).toMatch(/method\s+mIoU\s+head\s+medium\s+tail\s+pixel acc\./)
    expect(r.stdout).toMatch(/classes: 0 background, 1 T-shirt\/top/)
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'))
    expect(results.protocol.task).toBe('segmentation')
    expect(results.protocol.ignoreIndex).toBe(255)
    expect(results.protocol.counts).toHaveLength(11)
    for (const s of results.summaries) {
      expect(s.perClass).toHaveLength(11)
      expect(s.balancedAccuracy.mean).toBeGreaterThanOrEqual(0)
      expect(s.balancedAccuracy.mean).toBeLessThanOrEqual(1)
      expect(s.pixelAccuracy.mean).toBeGreaterThan(0)
      expect(Number.isFinite(s.runs[0].epochLosses[0])).toBe(true)
    }
  })

  it('--mixup trains the methods that take soft targets and skips the others with --methods all', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lpl-mix-'))
    const r = await lpl(
      'train',
      '--data',
      data,
      '--n-max',
      '25',
      '--ratio',
      '10',
      '--validation-per-class',
      '3',
      '--epochs',
      '1',
      '--seeds',
      '0',
      '--backend',
      'cpu',
      '--mixup',
      '0.2',
      '--cutmix',
      '1',
      '--out',
      out,
    )
    expect(r.stderr).not.toMatch(/unexpected error/)
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/Skipped with mixing \(their rules read each sample's class\): .*seesaw.*lpl/)
    expect(r.stdout).toMatch(/Training batches mixed: mixup, λ ~ Beta\(0\.2, 0\.2\) or CutMix, λ ~ Beta\(1, 1\)/)
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'))
    expect(results.protocol.mix).toEqual({ mixup: 0.2, cutmix: 1 })
    const names = results.summaries.map((s: { method: string }) => s.method)
    expect(names).toEqual(expect.arrayContaining(['ce', 'la', 'cb-ce', 'ldam-drw']))
    expect(names).not.toContain('lpl')
    for (const s of results.summaries) expect(Number.isFinite(s.runs[0].epochLosses[0])).toBe(true)
  })
})
