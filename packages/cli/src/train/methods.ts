import type { ClassWeightingInput, LogitAdjustmentInput, RuleInput } from '@logit-perturb/core'
import { CliError } from '../errors.js'
import type { Classifier } from './model.js'

/** A method of the benchmark: the rule spec it trains with, its classifier layer, and post-hoc adjustment. */
export interface Method {
  name: string
  summary: string
  spec: (classCounts: number[], epochs: number, numSamples: number) => RuleInput
  classifier: Classifier
  /** Choose τ on the validation split and adjust the test logits by `−τ log π`. */
  posthoc?: boolean
  /**
   * Learned bounds: after each training batch, `θ` takes a step on the loss of a class-balanced
   * meta batch from the validation split after a virtual step of the last layer (docs/spec.md#6-learned-bounds).
   */
  learned?: { metaRate: number; metaPerClass: number; maxBound: number }
}

const la = (classCounts: number[]): LogitAdjustmentInput => ({ rule: 'logit-adjustment', tau: 1, classCounts })

/** Class-balanced weights of the effective number, β = 0.9999 (Cui et al. 2019), from the first epoch. */
const classBalanced = (classCounts: number[]): ClassWeightingInput => ({ kind: 'class-balanced', beta: 0.9999, classCounts })

/** Every method `lpl train` knows, in report order. */
export const METHODS: readonly Method[] = [
  { name: 'ce', summary: 'cross-entropy', classifier: 'dense', spec: () => ({ rule: 'ce' }) },
  {
    name: 'ce+posthoc',
    summary: 'cross-entropy, then logits − τ·log π with τ chosen on the validation split',
    classifier: 'dense',
    posthoc: true,
    spec: () => ({ rule: 'ce' }),
  },
  { name: 'la', summary: 'logit adjustment, τ = 1', classifier: 'dense', spec: la },
  { name: 'focal', summary: 'focal loss, γ = 2', classifier: 'dense', spec: () => ({ rule: 'focal', gamma: 2 }) },
  {
    name: 'cb-ce',
    summary: 'cross-entropy with class-balanced weights (β = 0.9999) from the first epoch',
    classifier: 'dense',
    spec: (classCounts) => ({ rule: 'ce', weighting: classBalanced(classCounts) }),
  },
  {
    name: 'cb-focal',
    summary: 'focal loss (γ = 2) with class-balanced weights (β = 0.9999) from the first epoch',
    classifier: 'dense',
    spec: (classCounts) => ({ rule: 'focal', gamma: 2, weighting: classBalanced(classCounts) }),
  },
  {
    name: 'seesaw',
    summary: 'seesaw loss (p = 0.8, q = 2), counts accumulated from the batches',
    classifier: 'dense',
    spec: (classCounts) => ({ rule: 'seesaw', numClasses: classCounts.length, p: 0.8, q: 2 }),
  },
  {
    name: 'ldam-drw',
    summary: 'LDAM (M = 0.5, s = 30) on cosine logits, DRW (β = 0.9999) from 80% of the epochs',
    classifier: 'cosine',
    spec: (classCounts, epochs) => ({
      rule: 'ldam',
      classCounts,
      maxMargin: 0.5,
      scale: 30,
      drw: { beta: 0.9999, fromEpoch: Math.floor(0.8 * epochs) },
    }),
  },
  {
    name: 'lpl',
    summary: 'LPL, prior split (α = 0.15, ε = 0.3, Δε = 1.2, K = 20)',
    classifier: 'dense',
    spec: (classCounts) => ({ rule: 'lpl', split: 'prior', classCounts, alpha: 0.15, epsilon: 0.3, deltaEpsilon: 1.2, maxSteps: 20 }),
  },
  {
    name: 'la+lpl',
    summary: 'LPL on logit-adjusted logits',
    classifier: 'dense',
    spec: (classCounts) => ({
      rule: 'lpl',
      split: 'prior',
      classCounts,
      alpha: 0.15,
      epsilon: 0.3,
      deltaEpsilon: 1.2,
      maxSteps: 20,
      base: la(classCounts),
    }),
  },
  {
    name: 'official-longtail',
    summary: 'the released long-tail code (headClasses 4, S = 10, κ = 0.6, K = 10, α = 0.15)',
    classifier: 'dense',
    spec: (classCounts) => ({
      rule: 'official-longtail',
      classCounts,
      headClasses: 4,
      stepScale: 10,
      headFactor: 0.6,
      steps: 10,
      alpha: 0.15,
    }),
  },
]

/** Methods run only when named: LPL with bounds learned from a meta batch. */
export const EXTRA_METHODS: readonly Method[] = [
  {
    name: 'lpl-learned',
    summary: 'LPL with learned signed bounds θ (meta batch of 10 per class, meta rate 1, |θ| ≤ 1.5)',
    classifier: 'dense',
    learned: { metaRate: 1, metaPerClass: 10, maxBound: 1.5 },
    spec: (classCounts) => ({ rule: 'lpl', split: 'learned', numClasses: classCounts.length, maxBound: 1.5 }),
  },
  {
    name: 'grw',
    summary: 'cross-entropy with generalized re-weighting, w_c ∝ π_c^(−1) (LIFT)',
    classifier: 'dense',
    spec: (classCounts) => ({ rule: 'generalized-reweighting', classCounts, exponent: 1 }),
  },
  {
    name: 'ala',
    summary: 'adaptive logit adjustment (s = 30) on cosine logits, class-balanced weights (β = 0.9999) from 80% of the epochs',
    classifier: 'cosine',
    spec: (classCounts, epochs) => ({
      rule: 'adaptive-logit-adjustment',
      classCounts,
      scale: 30,
      weighting: { kind: 'class-balanced', beta: 0.9999, fromEpoch: Math.floor(0.8 * epochs) },
    }),
  },
  {
    name: 'lade',
    summary: 'LADE: the prior cross-entropy plus 0.1 × the LADE regularizer of the batch (λ = 0.1)',
    classifier: 'dense',
    spec: (classCounts) => ({ rule: 'lade', classCounts, alpha: 0.1, remineLambda: 0.1 }),
  },
  {
    name: 'mislas',
    summary: 'label-aware smoothing (MiSLAS): ε from 0.4 (head) to 0.1 (tail), concave',
    classifier: 'dense',
    spec: (classCounts) => ({ rule: 'label-aware-smoothing', classCounts, smoothHead: 0.4, smoothTail: 0.1, shape: 'concave' }),
  },
  {
    name: 'bal-bce',
    summary: "balanced BCE (LiVT's Bal-BCE): BCE per class of u + log π − log(1 − π)",
    classifier: 'dense',
    spec: (classCounts) => ({ rule: 'balanced-bce', classCounts }),
  },
  {
    name: 'gcl',
    summary: 'Gaussian clouded logit (s = 30, m = 0, noise 0.5) on cosine logits, the noise drawn at each training batch',
    classifier: 'cosine',
    spec: (classCounts) => ({ rule: 'gaussian-clouded-logit', classCounts, scale: 30, margin: 0, noiseMul: 0.5 }),
  },
  {
    name: 'bal-experts',
    summary: "BalPoE's balanced experts: three heads logit-adjusted with τ = 0, 1, 2, predicting with their mean",
    classifier: 'dense',
    spec: (classCounts) => ({ rule: 'balanced-experts', classCounts, taus: [0, 1, 2] }),
  },
  {
    name: 'sade',
    summary: "SADE's diverse experts: plain, balanced-softmax and inverse-prior (τ = 2) heads, predicting with their mean",
    classifier: 'dense',
    spec: (classCounts) => ({ rule: 'diverse-experts', classCounts, tau: 2 }),
  },
]

/** The methods named in a comma-separated list (`all` for the eleven of the benchmark); unknown names are refused. */
export function selectMethods(list: string): Method[] {
  if (list === 'all') return [...METHODS]
  const known = [...METHODS, ...EXTRA_METHODS]
  return list.split(',').map((name) => {
    const method = known.find((m) => m.name === name.trim())
    if (!method) throw new CliError(`unknown method "${name}"; known methods: ${known.map((m) => m.name).join(', ')}`, 2)
    return method
  })
}
