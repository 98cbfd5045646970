/**
 * Class-level logit perturbation losses for users: the rules (cross-entropy, logit adjustment,
 * balanced softmax, focal, LDAM/LDAM-DRW, VS, CDT, ISDA, seesaw, generalized re-weighting, adaptive
 * logit adjustment, LADE, label-aware smoothing, balanced BCE, LPL and the authors' released code, and their multi-label forms), the spec that selects one ({@link createLoss}, {@link parseSpec},
 * {@link specs}), what a rule declares ({@link ruleFacts}), its state saved and loaded
 * ({@link saveRuleState}, {@link loadRuleState}), the analysis of a perturbation ({@link Loss.explain},
 * {@link describeClasses}), evaluation helpers ({@link balancedAccuracy}, {@link chooseTau}) and a
 * float64 reference backend ({@link referenceOps}). Two more entries: `@logit-perturb/core/backend`
 * for those who implement `TensorOps` or an exporter, `@logit-perturb/core/verify` for the
 * conformance harness and the equivalences. No runtime dependencies.
 *
 * @module @logit-perturb/core
 */
export { LogitPerturbError } from './errors.js'
export type { LogitPerturbErrorCode } from './errors.js'
export type { Reduction } from './reduction.js'
export type { Checks } from './checkLevel.js'

export { referenceOps } from './reference/ops.js'
export type { RefTensor } from './reference/tensor.js'

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
  CeSpec,
  DbNegativeTolerantInput,
  DbNegativeTolerantSpec,
  FocalInput,
  FocalSpec,
  GaussianCloudedLogitInput,
  GaussianCloudedLogitSpec,
  GeneralizedReweightingInput,
  GeneralizedReweightingSpec,
  DistributionBalancedInput,
  DistributionBalancedSpec,
  CdtInput,
  CdtSpec,
  SeesawInput,
  SeesawSpec,
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
  LplBaseInput,
  LplBaseSpec,
  LplConfidenceSpec,
  LplFixedSpec,
  LplInput,
  LplLearnedSpec,
  LplMultiLabelInput,
  LplMultiLabelSpec,
  LplPriorSpec,
  LplSpec,
  MultiLabelRuleSpec,
  OfficialBalancedInput,
  OfficialBalancedSpec,
  OfficialLongtailInput,
  OfficialLongtailSpec,
  RuleInput,
  RuleName,
  RuleSpec,
  SingleLabelRuleSpec,
  VsCountsSpec,
  VsInput,
  VsSpec,
  VsTermsSpec,
} from './specTypes.js'
export type { SpecBase, SpecInput } from './rules/definition.js'
export type { ClassWeighting, ClassWeightingInput } from './rules/classWeighting.js'
export { MULTI_LABEL_RULE_NAMES, RULE_NAMES, isMultiLabelSpec } from './specTypes.js'
export { parseSpec } from './spec.js'
export { specs } from './specBuilders.js'
export type { NamedRule, RuleFields, RuleInputOf, SpecBuilder, SpecBuilders } from './specBuilders.js'
export { createLoss, ruleFacts } from './loss.js'
export type { EvaluatedPart, Loss, LossEvaluation, LossOptions, ReducedBatchTerm } from './loss.js'
export type { BatchRows, ClassAxis } from './batchLayout.js'
export type { SoftTargetForm } from './targets.js'
export type {
  BatchInputDeclaration,
  BatchInputField,
  BatchTerm,
  IsdaInputs,
  LabelTask,
  LossContext,
  LossTerm,
  RuleFacts,
  RuleState,
  RuleStateDeclaration,
  StateField,
} from './rules/types.js'
export { loadRuleState, saveRuleState } from './state.js'
export type { RuleStateJSON, StateOwner } from './state.js'

export { crossEntropyPerSample } from './rules/crossEntropy.js'
export { labelLogOdds, labelPriors, logitAdjustmentShift, logPriorsFromCounts, priorsFromCounts, smoothCounts } from './rules/counts.js'
export { dbBias } from './rules/dbNegativeTolerant.js'
export { postHocAdjust, postHocPredict } from './rules/logitAdjustment.js'
export { ldamMargins } from './rules/ldam.js'
export { LABEL_AWARE_SMOOTHING_SHAPES, labelAwareSmoothingValues } from './rules/labelAwareSmoothing.js'
export type { LabelAwareSmoothingShape } from './rules/labelAwareSmoothing.js'
export { balancedBceShift } from './rules/balancedBce.js'
export { drwWeights } from './rules/counts.js'
export { generalizedReweightWeights } from './rules/classWeighting.js'
export { alaMargins } from './rules/adaptiveLogitAdjustment.js'
export { vsTerms } from './rules/vs.js'
export { isdaPerturbation } from './rules/isda.js'
export { ladeHostTerms } from './rules/lade.js'
export type { LadeHostTerms } from './rules/lade.js'
export { GCL_NOISE_STDDEV, gclCloudSizes } from './rules/gaussianCloudedLogit.js'
export { lplSteps, priorSplitBounds } from './rules/lpl/lplBounds.js'
export type { LplClassBounds } from './rules/lpl/lplBounds.js'
export { officialLongtailSteps } from './rules/official/officialLongtail.js'
export type { OfficialLongtailSteps } from './rules/official/officialLongtail.js'
export { officialBalancedIterations } from './rules/official/officialBalanced.js'
export { classDirections, learnedBoundsStep, updateLearnedBounds } from './rules/lpl/learnedBounds.js'
export type { LearnedBoundsInputs, LearnedBoundsStep } from './rules/lpl/learnedBounds.js'

export { describeClasses } from './analysis.js'
export { meanOfHeadRows, meanOfHeads } from './heads.js'
export { balancedExpertsRule } from './rules/balancedExperts.js'
export { diverseExpertsRule, diverseExpertsShift } from './rules/diverseExperts.js'
export { expertLogPriors, reversedPriors } from './rules/experts.js'
export type { ClassReport, Direction, Explanation, ExplanationValues } from './analysis.js'
export {
  DEFAULT_TAU_GRID,
  argmaxRows,
  averagePrecision,
  balancedAccuracy,
  chooseTau,
  multiLabelAveragePrecision,
  perClassAccuracy,
  shotAccuracy,
  thirdsAccuracy,
} from './metrics.js'
export type { GroupAccuracy, ShotAccuracy } from './metrics.js'
export { mulberry32, normalSamples, shuffleInPlace } from './random.js'
