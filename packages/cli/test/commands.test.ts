import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createLoss, logPriorsFromCounts, referenceOps } from '@logit-perturb/core'
import type { RuleInput } from '@logit-perturb/core'
import { runLossModel, runModel } from '@logit-perturb/onnx'
import { exportTorchModule } from '@logit-perturb/pytorch'
import { classifierModel } from '../../onnx/test/support/classifier.js'
import { lpl } from './run.js'

const dir = mkdtempSync(join(tmpdir(), 'lpl-cmd-'))
const counts = [900, 300, 60, 0]
function specFile(name: string, spec: unknown): string {
  const path = join(dir, name)
  writeFileSync(path, JSON.stringify(spec))
  return path
}

describe('lpl verify', () => {
  it('checks a spec on every backend and its equivalences, and passes', async () => {
    const r = await lpl(
      'verify',
      '--spec',
      specFile('la.json', { rule: 'logit-adjustment', tau: 1.5, classCounts: counts }),
      '--batches',
      '2',
    )
    expect(r.status).toBe(0)
    for (const backend of ['tfjs-cpu', 'tfjs-wasm', 'onnx-wasm']) expect(r.stdout).toMatch(new RegExp(`${backend}\\s+loss`))
    expect(r.stdout).toMatch(/1\. τ = 0 is CE\s+\S+\s+\S+\s+ok/)
    expect(r.stdout).toMatch(/3\. counts × 10 give the same loss/)
    expect(r.stdout).toMatch(/all \d+ checks passed/)
  })
  it('names the skipped through-gradient on ONNX, and refuses a bad spec in one line', async () => {
    const ok = await lpl(
      'verify',
      '--spec',
      specFile('ol.json', { rule: 'official-longtail', classCounts: counts, headClasses: 1, steps: 4 }),
      '--batches',
      '1',
    )
    expect(ok.status).toBe(0)
    expect(ok.stdout).toMatch(/autodiff gradient = central difference/)
    const bad = await lpl('verify', '--spec', specFile('bad.json', { rule: 'lpl', split: 'prior', classCounts: counts, alpha: -1 }))
    expect(bad.status).toBe(1)
    expect(bad.stderr.trim()).toMatch(/^lpl: .*bad\.json: INVALID_PARAMETER: alpha: must be > 0, got -1$/)
  })
})

describe('multi-label specs', () => {
  it('are refused by verify and explain with a usage error, and exported', async () => {
    const spec = specFile('bce.json', { rule: 'bce', numClasses: 3 })
    for (const command of ['verify', 'explain']) {
      const r = await lpl(command, '--spec', spec)
      expect(r.status).toBe(2)
      expect(r.stderr).toMatch(/bce is a multi-label rule/)
    }
    expect((await lpl('export', '--spec', spec, '--out', join(dir, 'bce.onnx'))).status).toBe(0)
  })
})

describe('lpl explain', () => {
  it('reports each class on a given batch, and writes the chart', async () => {
    const logits = join(dir, 'logits.json')
    const labels = join(dir, 'labels.json')
    writeFileSync(
      logits,
      JSON.stringify([
        [2, 0, 0, 0],
        [0, 2, 0, 0],
        [0, 0, 2, 0],
        [1, 1, 0, 0],
      ]),
    )
    writeFileSync(labels, JSON.stringify([0, 1, 2, 0]))
    const svg = join(dir, 'explain.svg')
    const r = await lpl(
      'explain',
      '--spec',
      specFile('lpl.json', { rule: 'lpl', split: 'prior', classCounts: counts }),
      '--logits',
      logits,
      '--labels',
      labels,
      '--out',
      svg,
    )
    expect(r.status).toBe(0)
    const rows = r.stdout.split('\n').filter((l) => /^\s+\d\s/.test(l))
    expect(rows).toHaveLength(4)
    expect(rows[0]).toMatch(/^\s+0\s+900\s+2\s+negative\s+-/)
    expect(rows[2]).toMatch(/^\s+2\s+60\s+1\s+positive\s+\d/)
    expect(rows[3]).toMatch(/absent/)
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg[\s\S]*class 2: Δ = [\d.]+ \(positive\)[\s\S]*<\/svg>$/)
  })
  it('works on a random batch when no batch is given', async () => {
    const r = await lpl('explain', '--spec', specFile('ce.json', { rule: 'ce' }), '--classes', '3', '--batch', '30')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/30 samples, 3 classes/)
    expect(r.stdout.match(/\bnone\b/g)).toHaveLength(3)
  })
})

describe('lpl export', () => {
  it("writes a model whose outputs match the reference on a batch size of the caller's choosing", async () => {
    const spec = {
      rule: 'lpl',
      split: 'prior',
      classCounts: counts,
      base: { rule: 'logit-adjustment', classCounts: counts },
    } satisfies RuleInput
    const out = join(dir, 'loss.onnx')
    const r = await lpl('export', '--spec', specFile('lalpl.json', spec), '--out', out)
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/outputs loss, perturbed_logits, grad_logits/)
    const logits = [
      [2, 0.5, -1, 0],
      [0.1, 0.3, 0.2, 0.4],
      [1, 1, 1, -2],
    ]
    const labels = [0, 2, 1]
    const result = await runLossModel(readFileSync(out), logits, labels)
    const want = createLoss(referenceOps, spec)(referenceOps.constant(logits.flat(), [3, 4]), referenceOps.constant(labels, [3], 'int32'))
      .data[0]!
    expect(Math.abs(result.loss - want)).toBeLessThanOrEqual(1e-5 * want)
  })
  it('--format pytorch writes the module exportTorchModule writes, and refuses the options of ONNX', async () => {
    const spec = { rule: 'lpl', split: 'prior', classCounts: counts } satisfies RuleInput
    const out = join(dir, 'loss.py')
    const r = await lpl(
      'export',
      '--format',
      'pytorch',
      '--spec',
      specFile('lpl-torch.json', spec),
      '--out',
      out,
      '--class-name',
      'TailLoss',
    )
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/class TailLoss\(torch\.nn\.Module\)/)
    expect(readFileSync(out, 'utf8')).toBe(exportTorchModule(spec, { className: 'TailLoss' }).source)
    const refused = await lpl('export', '--format', 'pytorch', '--spec', join(dir, 'lpl-torch.json'), '--out', out, '--opset', '18')
    expect(refused.status).toBe(2)
    expect(refused.stderr).toMatch(/--opset applies to --format onnx only/)
    const unknown = await lpl('export', '--format', 'torchscript', '--spec', join(dir, 'lpl-torch.json'), '--out', out)
    expect(unknown.status).toBe(2)
    expect(unknown.stderr).toMatch(/--format must be onnx or pytorch, got "torchscript"/)
  })
  it('asks for the class count when the spec does not fix it', async () => {
    const r = await lpl('export', '--spec', specFile('ce2.json', { rule: 'ce' }), '--out', join(dir, 'ce.onnx'))
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/pass --classes C/)
    expect((await lpl('export', '--spec', join(dir, 'ce2.json'), '--classes', '5', '--out', join(dir, 'ce.onnx'))).status).toBe(0)
  })
})

describe('lpl adjust', () => {
  it("appends −τ·log π to a classifier's logits", async () => {
    const layers = [
      {
        kernel: [
          [1, -1, 0.5],
          [0.3, 0.2, -0.4],
        ],
        bias: [0.1, 0, -0.1],
      },
      {
        kernel: [
          [1, 0, 0, 0.2],
          [0, 1, 0, 0.1],
          [0.5, 0, 1, -0.3],
        ],
        bias: [0.2, 0, 0.1, 0],
      },
    ]
    const model = join(dir, 'classifier.onnx')
    writeFileSync(model, classifierModel(layers))
    const out = join(dir, 'adjusted.onnx')
    const r = await lpl(
      'adjust',
      '--model',
      model,
      '--spec',
      specFile('la2.json', { rule: 'logit-adjustment', tau: 0.5, classCounts: counts }),
      '--out',
      out,
      '--probabilities',
    )
    expect(r.status).toBe(0)
    const input = { input: { data: Float32Array.from([1, 2, -1, 0.5]), dims: [2, 2] } }
    const before = (await runModel(readFileSync(model), input)).logits!.data as Float32Array
    const after = await runModel(readFileSync(out), input)
    const shift = logPriorsFromCounts(counts)
    Array.from(after.logits!.data as Float32Array).forEach((v, k) => {
      expect(v).toBeCloseTo(before[k]! - 0.5 * shift[k % 4]!, 5)
    })
    expect(after.adjusted_probabilities).toBeDefined()
  })
  it('refuses a model that is not ONNX, in one line', async () => {
    const junk = join(dir, 'junk.onnx')
    writeFileSync(junk, Buffer.from('not a model at all'))
    const r = await lpl('adjust', '--model', junk, '--spec', join(dir, 'la2.json'), '--out', join(dir, 'x.onnx'))
    expect(r.status).toBe(1)
    expect(r.stderr.trim()).toMatch(/^lpl: .*junk\.onnx: INVALID_MODEL: /)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  })
})
