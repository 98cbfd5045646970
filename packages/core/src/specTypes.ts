/**
 * The JSON rule spec: one object names a rule and its parameters, and every backend builds the same
 * loss from it. `parseSpec` validates untrusted JSON into these types and fills in defaults. Each
 * rule's spec type lives in its module beside its math; this module gathers them into unions, with
 * the input types (`…Input`: the spec as a user writes it, defaulted fields optional).
 */
import type { AdaptiveLogitAdjustmentInput, AdaptiveLogitAdjustmentSpec } from './rules/adaptiveLogitAdjustment.js'
import type { BalancedBceSpec } from './rules/balancedBce.js'
import type { BalancedSoftmaxSpec } from './rules/balancedSoftmax.js'
import type { BceSpec } from './rules/bce.js'
import type { CdtInput, CdtSpec } from './rules/cdt.js'
import type { CeSpec } from './rules/ce.js'
import type { DbNegativeTolerantInput, DbNegativeTolerantSpec } from './rules/dbNegativeTolerant.js'
import type { DistributionBalancedInput, DistributionBalancedSpec } from './rules/distributionBalanced.js'
import type { FocalInput, FocalSpec } from './rules/focal.js'
import type { GaussianCloudedLogitInput, GaussianCloudedLogitSpec } from './rules/gaussianCloudedLogit.js'
import type { GeneralizedReweightingInput, GeneralizedReweightingSpec } from './rules/generalizedReweighting.js'
import type { IsdaInput, IsdaSpec } from './rules/isda.js'
import type { LabelAwareSmoothingInput, LabelAwareSmoothingSpec } from './rules/labelAwareSmoothing.js'
import type { LadeInput, LadeSpec } from './rules/lade.js'
import type { LdamInput, LdamSpec } from './rules/ldam.js'
import type { LogitAdjustedBceInput, LogitAdjustedBceSpec } from './rules/logitAdjustedBce.js'
import type { LogitAdjustmentInput, LogitAdjustmentSpec } from './rules/logitAdjustment.js'
import type { LplInput, LplSpec } from './rules/lpl/lpl.js'
import type { LplMultiLabelInput, LplMultiLabelSpec } from './rules/lpl/lplMultiLabel.js'
import type { OfficialBalancedInput, OfficialBalancedSpec } from './rules/official/officialBalanced.js'
import type { OfficialLongtailInput, OfficialLongtailSpec } from './rules/official/officialLongtail.js'
import type { SeesawInput, SeesawSpec } from './rules/seesaw.js'
import type { BalancedExpertsInput, BalancedExpertsSpec } from './rules/balancedExperts.js'
import type { DiverseExpertsInput, DiverseExpertsSpec } from './rules/diverseExperts.js'
import type { SpecInput } from './rules/definition.js'
import { RULE_DEFINITIONS, type RegisteredSpec } from './rules/registry.js'
import type { VsInput, VsSpec } from './rules/vs.js'

export type {
  AdaptiveLogitAdjustmentInput,
  AdaptiveLogitAdjustmentSpec,
  BalancedBceSpec,
  BalancedExpertsInput,
  BalancedExpertsSpec,
  DiverseExpertsInput,
  DiverseExpertsSpec,
  BalancedSoftmaxSpec,
  BceSpec,
  CdtInput,
  CdtSpec,
  CeSpec,
  DbNegativeTolerantInput,
  DbNegativeTolerantSpec,
  DistributionBalancedInput,
  DistributionBalancedSpec,
  FocalInput,
  FocalSpec,
  GaussianCloudedLogitInput,
  GaussianCloudedLogitSpec,
  GeneralizedReweightingInput,
  GeneralizedReweightingSpec,
  IsdaInput,
  IsdaSpec,
  LabelAwareSmoothingInput,
  LabelAwareSmoothingSpec,
  LadeInput,
  LadeSpec,
  LdamInput,
  LdamSpec,
  LogitAdjustedBceInput,
  LogitAdjustedBceSpec,
  LogitAdjustmentInput,
  LogitAdjustmentSpec,
  LplInput,
  LplMultiLabelInput,
  LplMultiLabelSpec,
  LplSpec,
  OfficialBalancedInput,
  OfficialBalancedSpec,
  OfficialLongtailInput,
  OfficialLongtailSpec,
  SeesawInput,
  SeesawSpec,
  VsInput,
  VsSpec,
}
export type { LplConfidenceSpec, LplFixedSpec, LplLearnedSpec, LplPriorSpec } from './rules/lpl/lpl.js'
export type { VsCountsSpec, VsTermsSpec } from './rules/vs.js'

export type { LplBaseInput, LplBaseSpec } from './rules/lpl/lplBase.js'
import type { LplBaseInput, LplBaseSpec } from './rules/lpl/lplBase.js'

/** Any single-label rule spec: labels are class ids `[N]`. */
export type SingleLabelRuleSpec =
  | LplBaseSpec
  | SeesawSpec
  | GeneralizedReweightingSpec
  | AdaptiveLogitAdjustmentSpec
  | LplSpec
  | OfficialLongtailSpec
  | OfficialBalancedSpec
  | LabelAwareSmoothingSpec
  | BalancedBceSpec
  | LadeSpec
  | BalancedExpertsSpec
  | DiverseExpertsSpec
  | GaussianCloudedLogitSpec

/** Any multi-label rule spec: labels are a 0/1 matrix `[N, C]`. */
export type MultiLabelRuleSpec = BceSpec | LogitAdjustedBceSpec | DbNegativeTolerantSpec | DistributionBalancedSpec | LplMultiLabelSpec

/** Any rule spec, single- or multi-label, as `parseSpec` returns it (defaults filled in). */
export type RuleSpec = SingleLabelRuleSpec | MultiLabelRuleSpec

/**
 * Any rule spec as a user writes it: each rule's fields, with the defaulted ones optional. `createLoss`,
 * `createTfjsLoss` and `exportLossModel` take it, so that a misspelt field or a value of the wrong type
 * is a compile error; JSON from elsewhere goes through `parseSpec` first (or is cast), and is checked at
 * run time either way.
 */
export type RuleInput =
  | LplBaseInput
  | SeesawInput
  | GeneralizedReweightingInput
  | AdaptiveLogitAdjustmentInput
  | LadeInput
  | LplInput
  | OfficialLongtailInput
  | OfficialBalancedInput
  | LabelAwareSmoothingInput
  | SpecInput<BalancedBceSpec>
  | BalancedExpertsInput
  | DiverseExpertsInput
  | GaussianCloudedLogitInput
  | SpecInput<BceSpec>
  | LogitAdjustedBceInput
  | DbNegativeTolerantInput
  | DistributionBalancedInput
  | LplMultiLabelInput

/** The name of a rule. */
export type RuleName = RuleSpec['rule']

// The unions above list exactly the registry's rules: a compile error here means one was missed.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const registryMatchesUnion: Same<RegisteredSpec, RuleSpec> = true
void registryMatchesUnion

/** The rules whose labels are a 0/1 matrix `[N, C]` (docs/spec.md#5-multi-label). */
export const MULTI_LABEL_RULE_NAMES = RULE_DEFINITIONS.filter((d) => d.task === 'multi').map(
  (d) => d.name,
) as readonly MultiLabelRuleSpec['rule'][]

/** Every rule name the library knows, single- and multi-label. */
export const RULE_NAMES = RULE_DEFINITIONS.map((d) => d.name) as readonly RuleName[]

/** Whether a spec names a multi-label rule (labels `[N, C]` of 0 and 1). */
export function isMultiLabelSpec(spec: RuleSpec): spec is MultiLabelRuleSpec {
  return (MULTI_LABEL_RULE_NAMES as readonly string[]).includes(spec.rule)
}
