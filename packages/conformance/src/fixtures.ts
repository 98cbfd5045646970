import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { RuleSpec } from '@logit-perturb/core'
import { parseSpec } from '@logit-perturb/core'

/** One golden case as stored in `golden-*.json` (see the fixtures' README). */
export interface GoldenCase {
  kind: string
  numClasses: number
  /** `[N][C]`; dense cases (`dense/`) `[N][C][H][W]`, classes on axis 1. */
  logits: NestedNumbers
  /**
   * Class ids `[N]` (dense: `[N][H][W]`, with `ignoreIndex` at ignored pixels); for the multi-label
   * kinds, rows of 0 and 1 `[N][C]`; null for soft-target cases, whose `targets` are `[N][C]`.
   */
  labels: number[] | number[][] | NestedNumbers | null
  /** Soft targets `[N][C]` (`soft/`): probability rows in place of labels. */
  targets?: number[][]
  /** The ignore label of a dense case. */
  ignoreIndex?: number
  loss: number
  gradLogits: NestedNumbers
  perturbedLogits?: NestedNumbers
  [field: string]: unknown
}

/** A nested array of numbers of any depth (`[N][C]`, `[N][C][H][W]`). */
export type NestedNumbers = number[] | NestedNumbers[]

/** The shape of a nested array (its first element at each depth) and its values, row-major. */
export function flatten(x: NestedNumbers): { shape: number[]; values: number[] } {
  const shape: number[] = []
  let level: unknown = x
  while (Array.isArray(level)) {
    shape.push(level.length)
    level = level[0]
  }
  return { shape, values: (x as unknown[]).flat(Number.POSITIVE_INFINITY) as number[] }
}

/**
 * The tensors of a case on a backend: logits (any rank), and its class ids (int32), soft targets or
 * multi-label rows, with the loss options the case needs (the ignore label of a dense case) and the
 * batch inputs it stores for the call's context (GCL's `noise`, with the logits' shape).
 */
export function caseInputs<T>(
  ops: { constant(data: ArrayLike<number>, shape: readonly number[], dtype?: 'float32' | 'int32'): T },
  c: GoldenCase,
): { logits: T; labels: T; options: { ignoreIndex?: number }; context: { noise?: T } } {
  const logits = flatten(c.logits)
  const multiLabel = MULTI_LABEL_KINDS.has(c.kind)
  const labels = flatten((c.targets ?? c.labels) as NestedNumbers)
  const noise = caseNoise(c)
  return {
    logits: ops.constant(logits.values, logits.shape),
    labels: ops.constant(labels.values, labels.shape, c.targets !== undefined || multiLabel ? 'float32' : 'int32'),
    options: c.ignoreIndex === undefined ? {} : { ignoreIndex: c.ignoreIndex },
    context: noise === undefined ? {} : { noise: ops.constant(flatten(noise).values, flatten(noise).shape) },
  }
}

/** The noise a case stores for its call (GCL's `ε`, with the logits' shape), or undefined. */
export function caseNoise(c: GoldenCase): NestedNumbers | undefined {
  return Array.isArray(c.noise) ? (c.noise as NestedNumbers) : undefined
}

/** The kinds whose labels are 0/1 rows `[N][C]`. */
const MULTI_LABEL_KINDS = new Set(['bce', 'logit-adjusted-bce', 'db-negative-tolerant', 'distribution-balanced', 'lpl-multilabel'])

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
    case 'ce':
      return parseSpec({ rule: 'ce', numClasses: c.numClasses })
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
    case 'lade':
      return parseSpec({ rule: 'lade', classCounts: counts(), alpha: n('alpha'), remineLambda: n('remineLambda') })
    case 'seesaw':
      return parseSpec({ rule: 'seesaw', p: n('p'), q: n('q'), eps: n('eps'), classCounts: counts() })
    case 'class-balanced':
      // Dense cases weight plain cross-entropy (no gamma).
      return parseSpec({
        rule: 'focal',
        gamma: (c.gamma as number | undefined) ?? 0,
        classCounts: counts(),
        weighting: { kind: 'class-balanced', beta: n('beta') },
      })
    case 'ldam':
      return parseSpec({
        rule: 'ldam',
        classCounts: counts(),
        maxMargin: n('maxMargin'),
        scale: n('scale'),
        ...(((c.drwBeta as number | undefined) ?? 0) > 0 ? { drw: { beta: n('drwBeta'), fromEpoch: 0 } } : {}),
      })
    case 'generalized-reweighting':
      return parseSpec({ rule: 'generalized-reweighting', classCounts: counts(), exponent: n('exponent') })
    case 'adaptive-logit-adjustment':
      // The released code's re-weighting stage is class-balanced with β = 0.9999 (its only β).
      return parseSpec({
        rule: 'adaptive-logit-adjustment',
        classCounts: counts(),
        scale: n('scale'),
        ...(c.classWeights ? { weighting: { kind: 'class-balanced', beta: 0.9999 } } : {}),
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
    case 'label-aware-smoothing':
      return parseSpec({
        rule: 'label-aware-smoothing',
        classCounts: counts(),
        smoothHead: n('smoothHead'),
        smoothTail: n('smoothTail'),
        shape: c.shape,
        ...(c.power === null || c.power === undefined ? {} : { power: c.power }),
      })
    case 'balanced-bce':
      // LiVT's `smoothing` is the spec's label smoothing: its targets are (1 − ε)·e_y + ε/C.
      return parseSpec({ rule: 'balanced-bce', classCounts: counts(), labelSmoothing: n('smoothing') })
    case 'balanced-experts': {
      // The case's logits are [N, E·C] with E = numHeads, one τ per head.
      const taus = c.taus as number[]
      if (taus.length !== n('numHeads')) throw new Error(`${taus.length} taus for ${n('numHeads')} heads`)
      return parseSpec({ rule: 'balanced-experts', classCounts: counts(), taus })
    }
    case 'diverse-experts':
      return parseSpec({ rule: 'diverse-experts', classCounts: counts(), tau: n('tau') })
    case 'gaussian-clouded-logit':
      return parseSpec({
        rule: 'gaussian-clouded-logit',
        classCounts: counts(),
        scale: n('scale'),
        margin: n('margin'),
        noiseMul: n('noiseMul'),
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
 * The perturbed logits a case implies, flattened row-major in the layout of its logits: stored for
 * the `official-*`, seesaw, focal and the multi-label prior kinds and balanced BCE; for the others, from the formula of
 * the fixtures' README with the case's own numbers (LA: `u + τ log(n/Σn)` on the class axis; LDAM:
 * `s·(u − Δ_y e_y)` with the stored margins; CE, BCE, class-balanced and generalized re-weighting, label-aware smoothing: `u`), so they are
 * checked independently of the library. Undefined where the case implies none (LDAM on soft
 * targets, whose loss has one batch per part of the split).
 */
export function expectedPerturbed(c: GoldenCase): number[] | undefined {
  if (c.perturbedLogits) return flatten(c.perturbedLogits).values
  const { shape, values } = flatten(c.logits)
  // The class of each flat index: axis 1 of [N, C, …].
  const inner = shape.slice(2).reduce((a, b) => a * b, 1)
  const classOf = (k: number) => Math.floor(k / inner) % shape[1]!
  if (c.kind === 'logit-adjustment') {
    const counts = c.classCounts as number[]
    const total = counts.reduce((a, b) => a + b, 0)
    const tau = c.tau as number
    return values.map((u, k) => u + tau * Math.log(counts[classOf(k)]! / total))
  }
  if (c.kind === 'ldam') {
    if (c.targets !== undefined) return undefined
    const margins = c.margins as number[]
    const s = c.scale as number
    const labels = c.labels as number[]
    return values.map((u, k) => {
      const [i, j] = [Math.floor(k / shape[1]!), k % shape[1]!]
      return s * (u - (j === labels[i] ? margins[j]! : 0))
    })
  }
  // Label-aware smoothing changes the targets, not the logits.
  if (
    c.kind === 'bce' ||
    c.kind === 'class-balanced' ||
    c.kind === 'ce' ||
    c.kind === 'label-aware-smoothing' ||
    c.kind === 'generalized-reweighting'
  )
    return values
  throw new Error(`no perturbed logits known for kind ${c.kind}`)
}
