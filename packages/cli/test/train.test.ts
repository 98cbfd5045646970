import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import * as tf from '@tensorflow/tfjs-core'
import { describe, expect, it } from 'vitest'
import { TRAIN_USAGE } from '../src/commands/train.js'
import { parseIdx } from '../src/data/idx.js'
import { EXTRA_METHODS, METHODS } from '../src/train/methods.js'
import { MULTILABEL_METHODS } from '../src/train/multilabel.js'
import { longTailCounts } from '../src/data/longTail.js'
import { idxBytes, writeFakeFashionMnist } from './fakeData.js'
import { type LplRun, lpl } from './run.js'

const tinyData = writeFakeFashionMnist(50, 20)

/**
 * `lpl train` on tiny fake Fashion-MNIST (50 training and 20 test images per class; 40 at the head,
 * ratio 10, 5 validation images per class, tfjs-cpu), writing to a fresh folder; `args` adds the rest.
 */
async function trainTiny(...args: string[]): Promise<LplRun & { out: string }> {
  const out = mkdtempSync(join(tmpdir(), 'lpl-out-'))
  const r = await lpl(
    'train',
    '--data',
    tinyData,
    '--n-max',
    '40',
    '--ratio',
    '10',
    '--validation-per-class',
    '5',
    '--backend',
    'cpu',
    '--out',
    out,
    ...args,
  )
  return { ...r, out }
}

describe('lpl train', () => {
  it('trains on a tiny long-tailed subset end to end and writes results.json and the charts', async () => {
    const { out, ...r } = await trainTiny('--epochs', '1', '--seeds', '0,1', '--methods', 'ce,ce+posthoc,lpl')
    expect(r.stderr).not.toMatch(/unexpected error/)
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/counts 40\/30\/23\/18\/14\/11\/8\/6\/5\/4/)
    expect(r.stdout).toMatch(/^lpl\s+\d+\.\d ± \d+\.\d/m)
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'))
    expect(results.protocol.counts).toEqual(longTailCounts(10, 10, 40))
    expect(results.protocol.seeds).toEqual([0, 1])
    expect(results.summaries.map((s: { method: string }) => s.method)).toEqual(['ce', 'ce+posthoc', 'lpl'])
    for (const s of results.summaries) {
      expect(s.runs).toHaveLength(2)
      expect(s.perClass).toHaveLength(10)
      expect(s.balancedAccuracy.mean).toBeGreaterThanOrEqual(0)
      expect(s.balancedAccuracy.mean).toBeLessThanOrEqual(1)
      expect(Object.keys(s.groups)).toEqual(['head', 'medium', 'tail'])
    }
    expect(typeof results.summaries[1].runs[0].tau).toBe('number')
    expect(results.machine.cpus).toBeGreaterThan(0)
    for (const chart of ['per-class-accuracy.svg', 'balanced-accuracy.svg']) {
      expect(readFileSync(join(out, chart), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>$/)
    }
  })

  it('trains the catalogue methods and records their specs: class-balanced weights from the training counts', async () => {
    const { out, ...r } = await trainTiny('--epochs', '1', '--seeds', '0', '--methods', 'focal,cb-ce,cb-focal,seesaw')
    expect(r.stderr).not.toMatch(/unexpected error/)
    expect(r.status).toBe(0)
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'))
    expect(results.summaries.map((s: { method: string }) => s.method)).toEqual(['focal', 'cb-ce', 'cb-focal', 'seesaw'])
    for (const s of results.summaries) {
      expect(Number.isFinite(s.runs[0].epochLosses[0])).toBe(true)
      expect(s.balancedAccuracy.mean).toBeGreaterThanOrEqual(0)
    }
    const specOf = (name: string) => results.protocol.methods.find((m: { name: string }) => m.name === name).spec
    const counts = longTailCounts(10, 10, 40)
    expect(specOf('cb-ce')).toEqual({ rule: 'ce', weighting: { kind: 'class-balanced', beta: 0.9999, classCounts: counts } })
    expect(specOf('cb-focal')).toMatchObject({ rule: 'focal', gamma: 2, weighting: { kind: 'class-balanced', classCounts: counts } })
    expect(specOf('seesaw')).toEqual({ rule: 'seesaw', numClasses: 10, p: 0.8, q: 2 })
  })

  it('trains the multi-head methods on E·C outputs and records their specs', async () => {
    const { out, ...r } = await trainTiny('--epochs', '1', '--seeds', '0', '--methods', 'bal-experts,sade')
    expect(r.stderr).not.toMatch(/unexpected error/)
    expect(r.status).toBe(0)
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'))
    expect(results.summaries.map((s: { method: string }) => s.method)).toEqual(['bal-experts', 'sade'])
    for (const s of results.summaries) {
      expect(Number.isFinite(s.runs[0].epochLosses[0])).toBe(true)
      // One accuracy per class of the data: predictions are classes, from the mean of the heads.
      expect(s.perClass).toHaveLength(10)
      expect(s.balancedAccuracy.mean).toBeGreaterThan(0)
    }
    const specOf = (name: string) => results.protocol.methods.find((m: { name: string }) => m.name === name).spec
    expect(specOf('bal-experts')).toMatchObject({ rule: 'balanced-experts', taus: [0, 1, 2] })
    expect(specOf('sade')).toMatchObject({ rule: 'diverse-experts', tau: 2 })
  })

  it('is deterministic: the same seed gives the same subset and the same first-epoch loss', async () => {
    const run = async () => {
      const r = await trainTiny('--epochs', '1', '--seeds', '4', '--methods', 'lpl')
      expect(r.status).toBe(0)
      return JSON.parse(readFileSync(join(r.out, 'results.json'), 'utf8')).summaries[0].runs[0].epochLosses[0]
    }
    expect(await run()).toBe(await run())
  })

  it('lists every method in its help, single- and multi-label', () => {
    const usage = TRAIN_USAGE.replace(/\s+/g, ' ')
    for (const m of [...METHODS, ...EXTRA_METHODS, ...MULTILABEL_METHODS])
      expect(usage, m.name).toMatch(new RegExp(`[:,] ${m.name.replace(/[+]/g, '\\+')}(,|$| )`))
  })

  it('says how to install the data when it is missing, in one line', async () => {
    const r = await lpl('train', '--data', join(tmpdir(), 'no-such-folder'), '--quick')
    expect(r.status).toBe(1)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/Fashion-MNIST not found/)
    expect(r.stderr).toMatch(/dataset-fashion-mnist/)
  })

  it('refuses unknown methods, backends and options with a usage error', async () => {
    for (const [args, message] of [
      [['--methods', 'ce,focall'], /unknown method "focall"; known methods: ce, ce\+posthoc, la, focal, cb-ce/],
      [['--backend', 'webgpu'], /unknown backend "webgpu"/],
      [['--epochs', 'two'], /--epochs must be a number/],
      [['--colour'], /Unknown option '--colour'/],
    ] as const) {
      const r = await lpl('train', ...args)
      expect(r.status).toBe(2)
      expect(r.stderr).toMatch(message)
      expect(r.stderr).not.toMatch(/\n\s+at /)
    }
  })
})

describe('IDX files', () => {
  it('reads what it wrote, and names the file and the problem for bad ones', () => {
    const good = idxBytes([2, 2, 2], Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]))
    expect(parseIdx(good, 'x').dims).toEqual([2, 2, 2])
    expect(() => parseIdx(good.subarray(0, good.length - 1), 'x.idx')).toThrow(
      /x\.idx: dimensions \[2, 2, 2\] need 8 data bytes, the file has 7/,
    )
    const wrongMagic = Uint8Array.from(good)
    wrongMagic[0] = 0x1f
    expect(() => parseIdx(wrongMagic, 'y.idx')).toThrow(/y\.idx: not an IDX file \(magic number 0x1f/)
    const wrongType = Uint8Array.from(good)
    wrongType[2] = 0x0d
    expect(() => parseIdx(wrongType, 'z')).toThrow(/type 0xd is not unsigned bytes/)
    expect(() => parseIdx(good.subarray(0, 6), 'h')).toThrow(/header of rank 3 is truncated/)
  })

  it('a truncated data file stops lpl train with one clear line', async () => {
    const data = writeFakeFashionMnist(50, 20)
    const path = join(data, 'train-labels-idx1-ubyte.gz')
    writeFileSync(path, gzipSync(idxBytes([500], new Uint8Array(499))).subarray(0, 30))
    const r = await lpl('train', '--data', data, '--epochs', '1')
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/train-labels-idx1-ubyte\.gz: not a valid gzip file/)
    expect(existsSync(path)).toBe(true)
  })
})

describe('the cosine classifier layer of ldam-drw', () => {
  it('has finite gradients for a row of features that ReLU switched off', async () => {
    await import('@tensorflow/tfjs-backend-cpu')
    await import('@tensorflow/tfjs-layers')
    const { CosineDense } = await import('../src/train/model.js')
    await tf.setBackend('cpu')
    const layer = new CosineDense(3, 1)
    const x = tf.tensor2d([
      [0, 0, 0, 0],
      [1, 2, 0, 1],
    ])
    layer.build(x.shape)
    const grads = tf.grads((input: tf.Tensor) => tf.sum(layer.apply(input) as tf.Tensor))([x])
    const values = await grads[0]!.data()
    expect(Array.from(values).every(Number.isFinite)).toBe(true)
  })
})

describe('lpl train --task multilabel', () => {
  it('trains on canvases end to end and reports per-class average precision', async () => {
    const data = writeFakeFashionMnist(30, 30)
    const out = mkdtempSync(join(tmpdir(), 'lpl-ml-'))
    const r = await lpl(
      'train',
      '--task',
      'multilabel',
      '--data',
      data,
      '--canvases',
      '200',
      '--test-canvases',
      '500',
      '--ratio',
      '10',
      '--epochs',
      '1',
      '--seeds',
      '0',
      '--backend',
      'cpu',
      '--out',
      out,
    )
    expect(r.stderr).not.toMatch(/unexpected error/)
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/200 training canvases/)
    expect(r.stdout).toMatch(/500 test canvases/)
    expect(r.stdout).toMatch(/per-class average precision/)
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'))
    expect(results.protocol.task).toBe('multilabel')
    expect(results.protocol.testCanvases).toBe(500)
    expect(results.summaries.map((s: { method: string }) => s.method)).toEqual([
      'bce',
      'logit-adjusted-bce',
      'db-negative-tolerant',
      'distribution-balanced',
      'lpl-multilabel',
    ])
    for (const s of results.summaries) {
      expect(s.balancedAccuracy.mean).toBeGreaterThan(0)
      expect(s.balancedAccuracy.mean).toBeLessThanOrEqual(1)
    }
    // The long tail of the class rates shows in the positives per class.
    expect(results.protocol.counts[0]).toBeGreaterThan(results.protocol.counts[9])
    expect(readFileSync(join(out, 'balanced-accuracy.svg'), 'utf8')).toMatch(/Test mAP/)
  }, 480_000) // five methods in a child process, each evaluated on 500 test canvases
  it('refuses single-label methods for the multi-label task', async () => {
    const r = await lpl('train', '--task', 'multilabel', '--methods', 'la')
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/unknown multi-label method "la"/)
  })
})

describe('lpl train --methods lpl-learned', () => {
  it('learns signed bounds per class from the validation split and reports them', async () => {
    const { out, ...r } = await trainTiny('--epochs', '2', '--seeds', '0', '--methods', 'lpl-learned')
    expect(r.stderr).not.toMatch(/unexpected error/)
    expect(r.status).toBe(0)
    const run = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).summaries[0].runs[0]
    expect(run.theta).toHaveLength(10)
    expect(run.theta.every((t: number) => Math.abs(t) <= 1.5)).toBe(true)
    expect(run.theta.some((t: number) => t !== 0)).toBe(true)
  })
})
