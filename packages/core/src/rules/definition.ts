import type { NumberRule, SpecReader } from '../specReader.js'
import { MAX_CLASSES, MAX_PARAMETER, MAX_STEPS, checkLabelCounts } from '../validate.js'
import type { ClassWeighting, ClassWeightingInput } from './classWeighting.js'
import type { LabelTask, Rule, StateField } from './types.js'

export { MAX_PARAMETER, MAX_STEPS } from '../validate.js'
/** A hyper-parameter `> 0`. */
export const POSITIVE: NumberRule = { above: 0, max: MAX_PARAMETER }
/** A hyper-parameter `≥ 0`. */
export const NON_NEGATIVE: NumberRule = { min: 0, max: MAX_PARAMETER }
/** A number of steps, at least one. */
export const STEP_COUNT: NumberRule = { min: 1, max: MAX_STEPS, integer: true }
/** A number of classes. */
export const CLASS_COUNT: NumberRule = { min: 1, max: MAX_CLASSES, integer: true }

/**
 * Reads a multi-label rule's `classCounts` (positives per label) with `numSamples`, the training-set
 * size they are counted in, and checks them together.
 */
export function parseLabelCounts(r: SpecReader, numClasses: number | undefined): { classCounts: number[]; numSamples: number } {
  const classCounts = r.classCounts('classCounts', numClasses)
  const numSamples = r.number('numSamples', POSITIVE)
  checkLabelCounts(classCounts, numSamples, r.fieldPath('classCounts'))
  return { classCounts, numSamples }
}

/** Why no multi-label rule can be LPL's base. */
export const MULTI_LABEL_NOT_A_BASE =
  'a multi-label rule cannot be the base of LPL (a single-label rule); lpl-multilabel is the multi-label LPL'
/** Why the presets of the released code cannot be LPL's base. */
export const PRESET_NOT_A_BASE = 'the released-code presets cannot be a base'

/** How rules run, beyond what the spec says. */
export interface RuleOptions {
  /** The search of LPL and `official-longtail`: `'auto'` (default) runs it as one host loop where the backend can, else as ops. */
  search?: 'auto' | 'host' | 'ops'
}

/** The fields every spec may have. */
export interface SpecBase {
  /** Spec format version; always 1 on output. */
  version?: 1
  /** Number of classes `C`; implied by `classCounts` where a rule has them. */
  numClasses?: number
  /**
   * Label smoothing `ε ∈ [0, 1]` of the loss's targets (docs/spec.md#83-label-smoothing): the
   * target of a sample becomes `(1 − ε)·e_y + ε/C` (multi-label: `(1 − ε)·Y + ε/2`). It changes the
   * target of the loss, never `δ`. Default 0.
   */
  labelSmoothing?: number
  /**
   * Class weights for any single-label rule (docs/rules/class-weighting.md): class-balanced or
   * inverse-frequency, from an epoch on; the loss becomes `Σ_i w_{y_i} ℓ_i / Σ_i w_{y_i}`. Absent:
   * no weights (but the rule's own, LDAM-DRW's).
   */
  weighting?: ClassWeighting
}

/**
 * A spec as a user writes it: the parsed spec `S` with its `Defaulted` fields optional and its arrays
 * readonly. `parseSpec` turns it into `S`.
 */
export type SpecInput<S extends SpecBase, Defaulted extends keyof S = never> = ReadonlyArrays<
  Omit<S, Defaulted | 'weighting'> & Partial<Pick<S, Defaulted>>
> & {
  /** Class weights (see {@link SpecBase.weighting}), with their defaulted fields optional. */
  weighting?: ClassWeightingInput
}

/** `T` with its array fields readonly, so that `as const` literals and frozen arrays are accepted. */
type ReadonlyArrays<T> = {
  [K in keyof T]: NonNullable<T[K]> extends readonly (infer E)[] ? readonly E[] | Extract<T[K], undefined> : T[K]
}

/** The fields every parsed spec starts with, after `rule`: the format version and the declared class count. */
export interface SpecHeader {
  version: 1
  numClasses?: number
  labelSmoothing?: number
  weighting?: ClassWeighting
}

/**
 * A parsed spec nested in another (LPL's base), as the outer rule's parser and factory pass it
 * around; the outer rule knows its full type (`LplBaseSpec`).
 */
export interface NestedSpec {
  readonly rule: string
  readonly numClasses?: number | undefined
}

/** What a rule's parser gets besides its reader. */
export interface ParseContext {
  /** The header the parsed spec starts with (`version`, and `numClasses` when declared). */
  readonly header: SpecHeader
  /** The class count the spec declares with `numClasses`, if it does. */
  readonly numClasses: number | undefined
  /** Parses a nested spec as LPL's base rule (refusing rules that cannot be one). */
  parseBase(reader: SpecReader): NestedSpec
  /** The class count a parsed base spec fixes (its rule's `numClasses`), if it fixes one. */
  numClassesOf(spec: NestedSpec): number | undefined
}

/** What a rule's factory gets besides its parsed spec. */
export interface CreateContext {
  /** How the rule runs (LPL's search path). */
  readonly options: RuleOptions
  /** Builds a base rule from its parsed spec (LPL on top of a base). */
  createBase(spec: NestedSpec): Rule
}

/**
 * Everything the library knows of one rule, kept in the rule's own module beside its math: its
 * name, the labels it takes, its docs page, its defaults, how its spec is read and how the rule is
 * built from it. The registry (`registry.ts`) lists one per rule; `parseSpec`, `createRule` and
 * `RULE_NAMES` are built from that list, and a test checks that every registered rule has a
 * conformance case, a fuzzing kind and a docs page whose defaults table says what `defaults` says.
 */
export interface RuleDefinition<S extends { rule: string }> {
  /** The spec's `rule` value. */
  readonly name: S['rule']
  /** `'single'`: class ids and cross-entropy; `'multi'`: a 0/1 label matrix and binary cross-entropy. */
  readonly task: LabelTask
  /** The rule's page, relative to `docs/` (e.g. `'rules/ldam.md'`). */
  readonly docsPage: string
  /** Why the rule cannot be LPL's base, if it cannot; absent: it can. */
  readonly notABase?: string
  /**
   * Why a spec's `weighting` cannot go with this parsed spec, when the rule weights classes itself
   * (LDAM-DRW): the classes would be weighted twice. Absent, or undefined for the spec: it can.
   */
  ownClassWeights?(spec: S): string | undefined
  /**
   * Every state field the rule may keep, under any spec (a created rule's `state` declares those of
   * its spec): what `loadRuleState` checks a saved state against when no loss is given.
   */
  readonly stateFields?: Readonly<Record<string, StateField>>
  /**
   * The equivalences of `lpl verify` (docs/spec.md#37-equivalences, by their key in `equivalences`)
   * that concern this parsed spec beyond those of every rule: logit adjustment's `laTauZero`, LPL's
   * `lplSigns` for the splits whose directions are known before the batch.
   */
  equivalences?(spec: S): readonly string[]
  /**
   * The default of every optional field, keyed as the rule's docs table names it (`drw.beta` for a
   * nested field); a list (BalPoE's `taus`) as its JSON.
   */
  readonly defaults: Readonly<Record<string, number | string | boolean | readonly number[]>>
  /**
   * Reads the rule's fields from a spec (the `rule`, `version` and `numClasses` fields are read
   * already) and returns the parsed spec, defaults filled in; throws `LogitPerturbError` naming the
   * first bad field.
   */
  parse(reader: SpecReader, ctx: ParseContext): S
  /** Builds the rule from a spec its own `parse` returned (trusted: not checked again). */
  create(spec: S, ctx: CreateContext): Rule
}

/** A rule definition with its spec type hidden, so definitions of different rules share one list. */
// biome-ignore lint/suspicious/noExplicitAny: an existential type; `unknown` would not accept each rule's parser
export type AnyRuleDefinition = RuleDefinition<any>

/** Declares a rule (see {@link RuleDefinition}); the definition is frozen. */
export function defineRule<S extends { rule: string }>(definition: RuleDefinition<S>): RuleDefinition<S> {
  return Object.freeze(definition)
}
