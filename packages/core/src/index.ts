export type { TensorOps, ValueChecks } from './ops.js'
export { scalar } from './ops.js'
export { LogitPerturbError, check } from './errors.js'
export type { LogitPerturbErrorCode } from './errors.js'
export { checkClassCounts, checkFiniteValues, checkLabelValues } from './validate.js'

export { referenceOps } from './reference/ops.js'
export type { RefTensor } from './reference/tensor.js'
export { refTensor } from './reference/tensor.js'

export type {
  BalancedSoftmaxSpec, CeSpec, IsdaSpec, LdamSpec, LogitAdjustmentSpec, LplBaseSpec, LplSpec,
  OfficialBalancedSpec, OfficialLongtailSpec, RuleName, RuleSpec, VsSpec,
} from './specTypes.js'
export { RULE_NAMES } from './specTypes.js'
export { parseSpec } from './spec.js'
export { createLoss } from './loss.js'
export type { Loss, LossEvaluation, LossOptions } from './loss.js'
export type { IsdaInputs, LossContext, PerturbedBatch, Rule, RuleState } from './rules/types.js'
export { createRule } from './rules/createRule.js'
export { loadRuleState, saveRuleState } from './state.js'
export type { RuleStateJSON } from './state.js'

export { analyticGradient, batchLoss, crossEntropyPerSample, sampleWeights, softmaxResidual } from './rules/crossEntropy.js'
export { logPriorsFromCounts, priorsFromCounts, smoothCounts } from './rules/counts.js'
export { postHocAdjust, postHocPredict } from './rules/logitAdjustment.js'
export { drwWeights, ldamMargins } from './rules/ldam.js'
export { vsTerms } from './rules/vs.js'
export { isdaPerturbation } from './rules/isda.js'
export { lplSteps, priorSplitBounds } from './rules/lplBounds.js'
export type { LplClassBounds } from './rules/lplBounds.js'
export { lplSearch } from './rules/lplSearch.js'
export type { LplSearchInputs } from './rules/lplSearch.js'
export { officialStep } from './rules/officialStep.js'
export { officialLongtailSteps } from './rules/officialLongtail.js'
export type { OfficialLongtailSteps } from './rules/officialLongtail.js'
export { officialBalancedIterations } from './rules/officialBalanced.js'

export { describeClasses, explainBatch } from './analysis.js'
export type { ClassReport, Direction, Explanation, ExplanationValues } from './analysis.js'
export {
  DEFAULT_TAU_GRID, argmaxRows, balancedAccuracy, chooseTau, perClassAccuracy, shotAccuracy, thirdsAccuracy,
} from './evaluate.js'
export type { GroupAccuracy, ShotAccuracy } from './evaluate.js'
export { mulberry32, shuffleInPlace } from './random.js'
export { lplSearchHost } from './rules/lplSearchHost.js'
export type { LplHostSearchInputs } from './rules/lplSearchHost.js'
export type { RuleOptions } from './rules/createRule.js'
export type { SearchPath } from './rules/lpl.js'
