/**
 * Every single-label rule on one long-tailed batch: the loss, and per class the direction and size
 * of the loss variation the rule applies (docs/spec.md#2-class-level-logit-perturbation). Run with `pnpm example`.
 */
import type { RuleInput } from '@logit-perturb/core'
import { createLoss, describeClasses, longTailedBatch, referenceOps } from './batch.js'

const { logits, labels, classCounts } = longTailedBatch()

const specs: RuleInput[] = [
  { rule: 'ce' },
  { rule: 'logit-adjustment', tau: 1, classCounts },
  { rule: 'balanced-softmax', classCounts },
  { rule: 'ldam', classCounts, maxMargin: 0.5, scale: 1 },
  { rule: 'ldam', classCounts, maxMargin: 0.5, scale: 1, drw: { beta: 0.9999, fromEpoch: 0 } },
  { rule: 'vs', classCounts, gamma: 0.2, tau: 1 },
  { rule: 'lpl', split: 'prior', classCounts },
  { rule: 'lpl', split: 'prior', classCounts, base: { rule: 'logit-adjustment', tau: 1, classCounts } },
  { rule: 'lpl', split: 'confidence', momentum: 0 },
  { rule: 'official-longtail', classCounts, headClasses: 3 },
  { rule: 'official-balanced' },
]

const sign = { positive: '+', negative: '-', none: '0', absent: '.' } as const
console.log(`batch: ${labels.data.length} samples, ${classCounts.length} classes, training counts ${classCounts.join('/')}`)
console.log(`${'rule'.padEnd(90)} ${'loss'.padStart(8)}  direction per class (+ raises, - lowers, . absent)`)
for (const spec of specs) {
  const loss = createLoss(referenceOps, spec)
  const value = loss(logits, labels).data[0]!
  const e = loss.explain(logits, labels)
  const report = describeClasses(
    {
      classCounts: e.classCounts.data,
      lossVariation: e.lossVariation.data,
      equivalentWeight: e.equivalentWeight.data,
      targetWeight: e.targetWeight.data,
    },
    1e-9,
  )
  const name = JSON.stringify({ ...spec, classCounts: undefined, base: 'base' in spec ? spec.base?.rule : undefined })
  console.log(`${name.padEnd(90)} ${value.toFixed(4).padStart(8)}  ${report.map((r) => sign[r.direction]).join(' ')}`)
}
