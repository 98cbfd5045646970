/**
 * `lpl audit` against the library's own implementations: every registered rule's exported PyTorch
 * module (float64, and in two workers where the rule reads batch statistics) and its tfjs loss
 * (float32, on tfjs-cpu) are equivalent to its spec (docs/audit.md).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type RuleVariant, multiLabelVariants, singleLabelVariants } from '@logit-perturb/conformance'
import { parseSpec, ruleFacts } from '@logit-perturb/core'
import { exportTorchModule } from '@logit-perturb/pytorch'
import { createTfjsLoss } from '@logit-perturb/tfjs'
import * as tf from '@tensorflow/tfjs-core'
import { afterAll, describe, expect, it } from 'vitest'
import { audit } from '../packages/cli/src/audit/audit.js'
import { type TensorsLoss, functionImplementation } from '../packages/cli/src/audit/javascript.js'
import { pythonImplementation } from '../packages/cli/src/audit/python.js'

const dir = mkdtempSync(join(tmpdir(), 'logit-perturb-audit-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const COUNTS = [500, 210, 90, 40, 15, 6]

/** The first variant of each registered rule: every rule once, with its main options. */
function onePerRule(variants: RuleVariant[]): RuleVariant[] {
  const seen = new Set<string>()
  return variants.filter((v) => {
    const rule = parseSpec(v.spec).rule
    if (seen.has(rule)) return false
    seen.add(rule)
    return true
  })
}

const RULES = onePerRule([...singleLabelVariants(COUNTS, { batchInputs: true }), ...multiLabelVariants([300, 120, 40, 9], 600)])

describe.each(RULES.map((v) => [v.name, v] as const))('the audit of %s', (_, variant) => {
  const spec = parseSpec(variant.spec)
  const classes = ruleFacts(spec).numClasses ?? COUNTS.length

  it('says the exported PyTorch module is equivalent to its spec', async () => {
    const module = exportTorchModule(spec, { numClasses: classes })
    const file = join(dir, `${variant.name.replace(/[^a-z0-9]/gi, '_')}.py`)
    writeFileSync(file, module.source)
    const report = await audit(spec, classes, pythonImplementation(`${file}:${module.className}`))
    expect(report.findings.filter((f) => f.severity === 'fault')).toEqual([])
    expect(report.verdict).toBe('equivalent')
    expect(report.dtype).toBe('float64')
    // The module takes ignore_index=-100: the batch of ignored labels is audited, not left out.
    expect(report.findings.map((f) => f.kind)).not.toContain('ignored-labels-unsupported')
  }, 120_000)

  it('says the tfjs loss is equivalent to its spec', async () => {
    const before = tf.memory().numTensors
    const loss = createTfjsLoss(spec, ruleFacts(spec).task === 'single' ? { ignoreIndex: -100 } : {})
    const report = await audit(spec, classes, functionImplementation(variant.name, loss as unknown as TensorsLoss, 'tensors'))
    loss.dispose()
    expect(report.findings.filter((f) => f.severity === 'fault')).toEqual([])
    expect(report.verdict).toBe('equivalent')
    expect(report.findings.map((f) => f.kind)).not.toContain('ignored-labels-unsupported')
    expect(tf.memory().numTensors).toBe(before)
  }, 120_000)
})
