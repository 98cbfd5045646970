import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { RuleSpec } from '@logit-perturb/core'
import { parseSpec } from '@logit-perturb/core'

/** One golden case as stored in `golden-*.json` (see the fixtures' README). */
export interface GoldenCase {
  kind: string
  numClasses: number
  logits: number[][]
  /** Class ids `[N]`; for the multi-label kinds, rows of 0 and 1 `[N][C]`. */
  labels: number[] | number[][]
  loss: number
  gradLogits: number[][]
  perturbedLogits?: number[][]
  [field: string]: unknown
}

/** A case with where it came from. */
export interface LoadedCase {
  /** `file#index`, for messages. */
  id: string
  data: GoldenCase
}

/** Reads every `golden-*.json` of a folder, in name order. */
export function loadGoldenDir(dir: string): LoadedCase[] {
  const files = readdirSync(dir)
    .filter((f) => /^golden-.*\.json$/.test(f))
    .sort()
  return files.flatMap((file) => {
    const parsed = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { cases?: GoldenCase[] }
    if (!Array.isArray(parsed.cases)) throw new Error(`${file}: no "cases" array`)
    return parsed.cases.map((data, index) => ({ id: `${file}#${index} (${data.kind})`, data }))
  })
}

/** The rule spec that reproduces a golden case. */
export function specOfCase(c: GoldenCase): RuleSpec {
  const n = (field: string): number => c[field] as number
  const counts = (): number[] => c.classCounts as number[]
  switch (c.kind) {
    case 'official-longtail':
      return parseSpec({
        rule: 'official-longtail',
        classCounts: counts(),
        headClasses: n('split'),
        stepScale: n('stepSize'),
        headFactor: n('headFactor'),
        steps: n('steps'),
        alpha: n('alpha'),
      })
    case 'official-balanced':
      return parseSpec({ rule: 'official-balanced', numClasses: c.numClasses, steps: n('steps'), alpha: n('alpha') })
    case 'logit-adjustment':
      return parseSpec({ rule: 'logit-adjustment', classCounts: counts(), tau: n('tau') })
    case 'focal':
      return parseSpec({ rule: 'focal', gamma: n('gamma'), tau: n('tau'), classCounts: counts() })
    case 'distribution-balanced':
      return parseSpec({
        rule: 'distribution-balanced',
        classCounts: counts(),
        numSamples: n('numSamples'),
        mapAlpha: n('mapAlpha'),
        mapBeta: n('mapBeta'),
        mapGamma: n('mapGamma'),
        negScale: n('negScale'),
        initBias: n('initBias'),
        focalGamma: n('focalGamma'),
        balanceParam: n('balanceParam'),
      })
    case 'seesaw':
      return parseSpec({ rule: 'seesaw', p: n('p'), q: n('q'), eps: n('eps'), classCounts: counts() })
    case 'class-balanced':
      return parseSpec({
        rule: 'focal',
        gamma: n('gamma'),
        classCounts: counts(),
        weighting: { kind: 'class-balanced', beta: n('beta') },
      })
    case 'ldam':
      return parseSpec({
        rule: 'ldam',
        classCounts: counts(),
        maxMargin: n('maxMargin'),
        scale: n('scale'),
        ...(n('drwBeta') > 0 ? { drw: { beta: n('drwBeta'), fromEpoch: 0 } } : {}),
      })
    case 'bce':
      return parseSpec({ rule: 'bce', numClasses: c.numClasses })
    case 'logit-adjusted-bce':
      return parseSpec({ rule: 'logit-adjusted-bce', classCounts: counts(), numSamples: n('numSamples'), tau: n('tau') })
    case 'db-negative-tolerant':
      return parseSpec({
        rule: 'db-negative-tolerant',
        classCounts: counts(),
        numSamples: n('numSamples'),
        kappa: n('kappa'),
        lambda: n('lambda'),
      })
    case 'lpl-multilabel':
      return parseSpec({
        rule: 'lpl-multilabel',
        classCounts: counts(),
        alpha: n('alpha'),
        epsilon: n('epsilon'),
        deltaEpsilon: n('deltaEpsilon'),
        maxSteps: n('maxSteps'),
        normalize: c.normalize,
        gradient: c.gradient,
        ...(c.headClasses === null || c.headClasses === undefined ? {} : { headClasses: c.headClasses }),
      })
    default:
      throw new Error(`unknown golden case kind ${JSON.stringify(c.kind)}`)
  }
}

/**
 * Whether a case's call is a training call. Seesaw's stored counts are those its call sees; a
 * training call would add the batch's labels to them first, so its cases are non-training calls.
 */
export function trainingCase(c: GoldenCase): boolean {
  return c.kind !== 'seesaw'
}

/**
 * The perturbed logits a case implies: stored for the `official-*` and the multi-label prior kinds;
 * for the others, from the formula of the fixtures' README with the case's own numbers (LA:
 * `u + τ log(n/Σn)`; LDAM: `s·(u − Δ_y e_y)` with the stored margins; BCE and class-balanced
 * weighting: `u`), so they are
 * checked independently of the library.
 */
export function expectedPerturbed(c: GoldenCase): number[][] {
  if (c.perturbedLogits) return c.perturbedLogits
  if (c.kind === 'logit-adjustment') {
    const counts = c.classCounts as number[]
    const total = counts.reduce((a, b) => a + b, 0)
    const tau = c.tau as number
    return c.logits.map((row) => row.map((u, j) => u + tau * Math.log(counts[j]! / total)))
  }
  if (c.kind === 'ldam') {
    const margins = c.margins as number[]
    const s = c.scale as number
    return c.logits.map((row, i) => row.map((u, j) => s * (u - (j === c.labels[i] ? margins[j]! : 0))))
  }
  if (c.kind === 'bce' || c.kind === 'class-balanced') return c.logits
  throw new Error(`no perturbed logits known for kind ${c.kind}`)
}
