import { type RefTensor, type RuleInput, type RuleSpec, createLoss, priorSplitBounds, referenceOps } from '@logit-perturb/core'

/** One equivalence checked on the reference backend: its largest violation and what passes. */
export interface PropertyCheck {
  property: string
  error: number
  tolerance: number
}

interface Batch {
  logits: number[][]
  labels: number[]
}

const tensors = (b: Batch) => ({
  logits: referenceOps.constant(b.logits.flat(), [b.logits.length, b.logits[0]!.length]),
  labels: referenceOps.constant(b.labels, [b.labels.length], 'int32'),
})
const lossOf = (spec: RuleInput, b: Batch): number => {
  const { logits, labels } = tensors(b)
  return createLoss(referenceOps, spec)(logits, labels).data[0]!
}
const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(1, Math.abs(b))

/** `Σ w_y CE(z_i, y_i) / Σ w_y` on the host, from perturbed logits. */
function weightedCe(z: Float64Array, c: number, labels: readonly number[], weights?: Float64Array): number {
  let total = 0
  let weightSum = 0
  labels.forEach((y, i) => {
    const row = z.subarray(i * c, (i + 1) * c)
    const m = Math.max(...row)
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0))
    const w = weights ? weights[y]! : 1
    total += w * (lse - row[y]!)
    weightSum += w
  })
  return total / weightSum
}

/**
 * The equivalences of docs/spec.md#3-existing-methods-as-class-level-perturbations that apply to a spec, on one batch, checked on the float64
 * reference: every rule is CE of its perturbed logits (2), additive perturbations are class-level,
 * softmax rules ignore a constant added to a row (3), and the rule-specific identities (1, 3, 4, 5).
 */
export function checkProperties(spec: RuleSpec, b: Batch): PropertyCheck[] {
  const out: PropertyCheck[] = []
  const tol = 1e-9
  const { logits, labels } = tensors(b)
  const c = b.logits[0]!.length
  const evaluation = createLoss(referenceOps, spec).evaluate(logits, labels)
  const loss = evaluation.loss.data[0]!
  const z = evaluation.batch.logits.data
  out.push({
    property: '2. loss = CE of the perturbed logits (weighted)',
    error: rel(loss, weightedCe(z, c, b.labels, (evaluation.batch.classWeights as RefTensor | undefined)?.data)), tolerance: tol,
  })
  const scaledPerClass = evaluation.batch.logitScale !== undefined && evaluation.batch.reference === undefined
  if (!scaledPerClass) {
    const base = (evaluation.batch.reference?.logits as RefTensor | undefined)?.data ?? logits.data
    const first = new Map<number, number>()
    let worst = 0
    b.labels.forEach((y, i) => {
      const k = first.get(y)
      if (k === undefined) first.set(y, i)
      else for (let j = 0; j < c; j++) worst = Math.max(worst, Math.abs((z[i * c + j]! - base[i * c + j]!) - (z[k * c + j]! - base[k * c + j]!)))
    })
    out.push({ property: '2. δ is the same for every sample of a class', error: worst, tolerance: 1e-9 })
    const shifted = { ...b, logits: b.logits.map((row, i) => row.map((v) => v + 7.25 * ((i % 5) - 2))) }
    out.push({ property: '3. a constant added to a row changes nothing', error: rel(lossOf(spec, shifted), loss), tolerance: tol })
  }
  switch (spec.rule) {
    case 'logit-adjustment':
      out.push({ property: '3. counts × 10 give the same loss', error: rel(lossOf({ ...spec, classCounts: spec.classCounts.map((n) => 10 * n) }, b), loss), tolerance: tol })
      out.push({ property: '1. τ = 0 is CE', error: rel(lossOf({ ...spec, tau: 0 }, b), lossOf({ rule: 'ce' }, b)), tolerance: tol })
      break
    case 'balanced-softmax':
      out.push({ property: '1. equals LA with τ = 1', error: rel(lossOf({ rule: 'logit-adjustment', tau: 1, classCounts: spec.classCounts }, b), loss), tolerance: tol })
      break
    case 'ldam': {
      const { drw: _drw, ...plain } = spec
      out.push({ property: '4. M = 0, s = 1 is CE', error: rel(lossOf({ ...plain, maxMargin: 0, scale: 1 }, b), lossOf({ rule: 'ce' }, b)), tolerance: tol })
      const smaller = lossOf({ ...spec, maxMargin: spec.maxMargin / 2 }, b)
      out.push({ property: '4. the loss does not decrease with M', error: Math.max(0, smaller - loss), tolerance: tol })
      break
    }
    case 'lpl': {
      if (spec.split === 'learned') break // θ comes from training; without it the rule is its base
      const base = spec.base ?? { rule: 'ce' }
      out.push({ property: '5. zero steps is the base rule', error: rel(lossOf({ ...spec, maxSteps: 0 }, b), lossOf(base, b)), tolerance: tol })
      if (spec.split !== 'confidence' && spec.base === undefined) {
        const directions = spec.split === 'fixed' ? spec.directions! : priorSplitBounds(spec.classCounts!, spec.epsilon!, spec.deltaEpsilon!, spec.headClasses).directions
        const e = createLoss(referenceOps, spec).explain(logits, labels)
        let worst = 0
        directions.forEach((d, k) => {
          if (e.classCounts.data[k]! > 0) worst = Math.max(worst, -d * e.lossVariation.data[k]!)
        })
        out.push({ property: '5. Δ_c ≥ 0 for P, ≤ 0 for N', error: Math.max(0, worst), tolerance: 1e-9 })
      }
      break
    }
  }
  return out
}
