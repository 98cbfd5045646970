import { ruleFacts } from '../loss.js'
import { priorSplitBounds } from '../rules/lpl/lplBounds.js'
import type { BalancedSoftmaxSpec, CdtSpec, FocalSpec, LdamSpec, LogitAdjustmentSpec, LplSpec, RuleSpec } from '../specTypes.js'
import type { Equivalence } from './equivalence.js'
import { hostWeightedCe } from './hostCrossEntropy.js'
import { evaluateOn, lossOn, variationOn } from './onBackend.js'

/** `|a − b|` relative to `b`, or absolute below 1. */
const relativeDifference = (a: number, b: number): number => Math.abs(a - b) / Math.max(1, Math.abs(b))

/** The tolerance of every equivalence on the float64 reference: the rounding of its losses stays far below it. */
const TOLERANCE = 1e-9

/** The parsed spec of `rule`. */
type SpecOf<R extends RuleSpec['rule']> = Extract<RuleSpec, { rule: R }>

/**
 * Whether `spec`'s rule declares the equivalence `key` as its own (`RuleFacts.equivalences`); the
 * type argument names the spec type the equivalence's check reads.
 */
const concerns =
  <R extends RuleSpec['rule']>(key: keyof Equivalences) =>
  (spec: RuleSpec): spec is SpecOf<R> =>
    ruleFacts(spec).equivalences.includes(key)

/** Whether a spec's loss is plain cross-entropy of its perturbed logits: its loss term is not a modulation (focal). */
function isPlainCe(spec: RuleSpec): boolean {
  return ruleFacts(spec).term.plain
}

/** The first sample of each class, by class id: the one the others of the class are compared with. */
function firstOfClass(labels: readonly number[]): Map<number, number> {
  const first = new Map<number, number>()
  labels.forEach((y, i) => {
    if (!first.has(y)) first.set(y, i)
  })
  return first
}

/** The equivalences `lpl verify` checks, by name, in the order it reports them (see {@link equivalences}). */
export interface Equivalences {
  /** 2: every rule's loss is the (class-weighted) CE of its perturbed logits. */
  readonly ceOfPerturbed: Equivalence
  /** 2: an additive perturbation is the same for every sample of a class. */
  readonly classLevelDelta: Equivalence
  /** 3: an additive perturbation's loss is blind to a constant added to a row (`rowShifts`, default `7.25·((i mod 5) − 2)`). */
  readonly rowShift: Equivalence<
    RuleSpec,
    {
      /** The constant added to each row, `[N]`. */
      rowShifts?: readonly number[]
    }
  >
  /** 3: logit adjustment is blind to the counts' scale (`factor`, default 10). */
  readonly laCountScale: Equivalence<
    LogitAdjustmentSpec,
    {
      /** The factor on every count. */
      factor?: number
    }
  >
  /** 1: logit adjustment with `τ = 0` is CE. */
  readonly laTauZero: Equivalence<LogitAdjustmentSpec>
  /** 1: balanced softmax is logit adjustment with `τ = 1`. */
  readonly balancedSoftmaxIsLa: Equivalence<BalancedSoftmaxSpec>
  /** 1: focal loss with `γ = 0` is logit adjustment with its `τ` (CE when `τ = 0`). */
  readonly focalGammaZero: Equivalence<FocalSpec>
  /** 1: class-dependent temperatures are VS with `τ = 0`. */
  readonly cdtIsVs: Equivalence<CdtSpec>
  /** 4: LDAM with `M = 0, s = 1` is CE. */
  readonly ldamPlainIsCe: Equivalence<LdamSpec>
  /** 4: LDAM's loss is non-decreasing in `M` (against `smallerMargin`, default `M/2`). */
  readonly ldamMonotone: Equivalence<
    LdamSpec,
    {
      /** The margin `M′ ≤ M` whose loss may not exceed the spec's. */
      smallerMargin?: number
    }
  >
  /** 5: LPL with zero steps is its base. */
  readonly lplZeroSteps: Equivalence<LplSpec>
  /** 5: LPL's classes move the way their directions say (prior and fixed splits, on CE). */
  readonly lplSigns: Equivalence<LplSpec>
}

/**
 * The equivalences `lpl verify` checks, in the order it reports them: every rule is CE of its
 * perturbed logits, and an additive perturbation is class-level and blind to a constant added to a
 * row (2, 3); then the identities of single rules (1, 3, 4, 5).
 */
export const equivalences: Equivalences = {
  ceOfPerturbed: {
    name: '2. loss = CE of the perturbed logits (weighted)',
    formula: 'ℓ(u, y) = Σ_i w_{y_i} CE(z_i, y_i) / Σ_i w_{y_i}',
    tolerance: TOLERANCE,
    // A modulated term (the focal factor) reweights the CE: its loss is not the CE of its logits.
    appliesTo: (spec: RuleSpec): spec is RuleSpec => isPlainCe(spec),
    async check(backend, spec, batch) {
      const e = await evaluateOn(backend, spec, batch)
      return relativeDifference(e.loss, hostWeightedCe(e.perturbed, batch.logits[0]!.length, batch.labels, e.classWeights))
    },
  },

  classLevelDelta: {
    name: '2. δ is the same for every sample of a class',
    formula: 'z_i − r_i = δ_{y_i}, r the reference logits',
    tolerance: TOLERANCE,
    // Not for a rule whose δ depends on the sample (seesaw's compensation, ALA's difficulty factor).
    appliesTo: (spec: RuleSpec, additive: boolean): spec is RuleSpec => additive && ruleFacts(spec).sampleDelta === undefined,
    async check(backend, spec, batch) {
      const { perturbed: z, reference: r } = await evaluateOn(backend, spec, batch)
      const c = batch.logits[0]!.length
      const first = firstOfClass(batch.labels)
      let worst = 0
      batch.labels.forEach((y, i) => {
        const k = first.get(y)!
        for (let j = 0; j < c; j++) worst = Math.max(worst, Math.abs(z[i * c + j]! - r[i * c + j]! - (z[k * c + j]! - r[k * c + j]!)))
      })
      return worst
    },
  },

  rowShift: {
    name: '3. a constant added to a row changes nothing',
    formula: 'ℓ(u + s·1ᵀ, y) = ℓ(u, y) for any s ∈ ℝᴺ',
    tolerance: TOLERANCE,
    // Not for a rule whose δ reads the logits' own values (ALA's difficulty factor (1 − u_y)/2).
    appliesTo: (spec: RuleSpec, additive: boolean): spec is RuleSpec => additive && ruleFacts(spec).sampleDelta !== 'logits',
    async check(backend, spec, batch, options?: { rowShifts?: readonly number[] }) {
      const shifts = options?.rowShifts ?? batch.labels.map((_, i) => 7.25 * ((i % 5) - 2))
      const shifted = { ...batch, logits: batch.logits.map((row, i) => row.map((v) => v + shifts[i]!)) }
      return relativeDifference(await lossOn(backend, spec, shifted), await lossOn(backend, spec, batch))
    },
  },

  laCountScale: {
    name: '3. counts × 10 give the same loss',
    formula: 'LA(k·n) = LA(n)',
    tolerance: TOLERANCE,
    appliesTo: concerns<'logit-adjustment'>('laCountScale'),
    async check(backend, spec, batch, options?: { factor?: number }) {
      const factor = options?.factor ?? 10
      const scaled = { ...spec, classCounts: spec.classCounts.map((n) => factor * n) }
      return relativeDifference(await lossOn(backend, scaled, batch), await lossOn(backend, spec, batch))
    },
  },

  laTauZero: {
    name: '1. τ = 0 is CE',
    formula: 'LA_{τ=0} = CE',
    tolerance: TOLERANCE,
    appliesTo: concerns<'logit-adjustment'>('laTauZero'),
    async check(backend, spec, batch) {
      return relativeDifference(await lossOn(backend, { ...spec, tau: 0 }, batch), await lossOn(backend, { rule: 'ce' }, batch))
    },
  },

  focalGammaZero: {
    name: '1. γ = 0 is LA with the same τ',
    formula: 'FL_{γ=0,τ} = LA_τ',
    tolerance: TOLERANCE,
    appliesTo: concerns<'focal'>('focalGammaZero'),
    async check(backend, spec, batch) {
      const flat = await lossOn(backend, { ...spec, gamma: 0 }, batch)
      const la =
        spec.tau === 0 || spec.classCounts === undefined
          ? { rule: 'ce' as const }
          : { rule: 'logit-adjustment' as const, tau: spec.tau, classCounts: spec.classCounts }
      return relativeDifference(flat, await lossOn(backend, la, batch))
    },
  },

  cdtIsVs: {
    name: '1. equals VS with τ = 0',
    formula: 'CDT_γ = VS_{γ,τ=0}',
    tolerance: TOLERANCE,
    appliesTo: concerns<'cdt'>('cdtIsVs'),
    async check(backend, spec, batch) {
      const vs = { rule: 'vs', classCounts: spec.classCounts, gamma: spec.gamma, tau: 0 } as const
      return relativeDifference(await lossOn(backend, spec, batch), await lossOn(backend, vs, batch))
    },
  },

  balancedSoftmaxIsLa: {
    name: '1. equals LA with τ = 1',
    formula: 'BS = LA_{τ=1}',
    tolerance: TOLERANCE,
    appliesTo: concerns<'balanced-softmax'>('balancedSoftmaxIsLa'),
    async check(backend, spec, batch) {
      const la = { rule: 'logit-adjustment', tau: 1, classCounts: spec.classCounts } as const
      return relativeDifference(await lossOn(backend, la, batch), await lossOn(backend, spec, batch))
    },
  },

  ldamPlainIsCe: {
    name: '4. M = 0, s = 1 is CE',
    formula: 'LDAM_{M=0, s=1} = CE',
    tolerance: TOLERANCE,
    appliesTo: concerns<'ldam'>('ldamPlainIsCe'),
    async check(backend, spec, batch) {
      const { drw: _drw, ...plain } = spec
      return relativeDifference(
        await lossOn(backend, { ...plain, maxMargin: 0, scale: 1 }, batch),
        await lossOn(backend, { rule: 'ce' }, batch),
      )
    },
  },

  ldamMonotone: {
    name: '4. the loss does not decrease with M',
    formula: 'M′ ≤ M ⇒ LDAM_{M′} ≤ LDAM_M',
    tolerance: TOLERANCE,
    appliesTo: concerns<'ldam'>('ldamMonotone'),
    async check(backend, spec, batch, options?: { smallerMargin?: number }) {
      const smaller = await lossOn(backend, { ...spec, maxMargin: options?.smallerMargin ?? spec.maxMargin / 2 }, batch)
      return Math.max(0, smaller - (await lossOn(backend, spec, batch)))
    },
  },

  lplZeroSteps: {
    name: '5. zero steps is the base rule',
    formula: 'LPL_{K=0} = base (CE without one)',
    tolerance: TOLERANCE,
    // The learned split's θ comes from training; without it the rule is its base.
    appliesTo: concerns<'lpl'>('lplZeroSteps'),
    async check(backend, spec, batch) {
      if (spec.split === 'learned') throw new Error('the learned split has no steps')
      return relativeDifference(
        await lossOn(backend, { ...spec, maxSteps: 0 }, batch),
        await lossOn(backend, spec.base ?? { rule: 'ce' }, batch),
      )
    },
  },

  lplSigns: {
    name: '5. Δ_c ≥ 0 for P, ≤ 0 for N',
    formula: 'd_c Δ_c ≥ 0, d_c = +1 for P, −1 for N',
    tolerance: TOLERANCE,
    // Splits whose directions are known before the batch, on CE: a base moves Δ_c too.
    appliesTo: concerns<'lpl'>('lplSigns'),
    async check(backend, spec, batch) {
      const directions =
        spec.split === 'fixed'
          ? spec.directions
          : spec.split === 'prior'
            ? priorSplitBounds(spec.classCounts, spec.epsilon, spec.deltaEpsilon, spec.headClasses).directions
            : undefined
      if (directions === undefined) throw new Error(`the ${spec.split} split's directions depend on the batch`)
      const e = await variationOn(backend, spec, batch)
      let worst = 0
      directions.forEach((d, k) => {
        if (e.classCounts[k]! > 0) worst = Math.max(worst, -d * e.lossVariation[k]!)
      })
      return Math.max(0, worst)
    },
  },
}
