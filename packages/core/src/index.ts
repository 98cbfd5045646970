/**
 * Class-level logit perturbation losses written once against an abstract tensor interface
 * ({@link TensorOps}), with a float64 reference backend ({@link referenceOps}): the rules (cross-entropy,
 * logit adjustment, balanced softmax, LDAM/LDAM-DRW, VS, ISDA, LPL and the authors' released code,
 * and their multi-label forms), the spec that selects one ({@link createLoss}, {@link parseSpec}),
 * the analysis of a perturbation ({@link Loss.explain}, {@link describeClasses}) and evaluation
 * helpers ({@link balancedAccuracy}, {@link chooseTau}), and the check of any backend against the
 * float64 reference ({@link checkConformance}). No runtime dependencies.
 *
 * @module @logit-perturb/core
 */
export type { CustomGradient, LoopBody, TensorOps, ValueChecks } from './ops.js'
export { repeat, withGradient } from './control.js'
export { scalar } from './ops.js'
export { LogitPerturbError, check } from './errors.js'
export { EMPTY_BATCH, FLOAT32_FLOOR } from './numerics.js'
export type { LogitPerturbErrorCode } from './errors.js'
export {
  checkBinaryLabelValues,
  checkClassCounts,
  checkFiniteValues,
  checkLabelCounts,
  checkLabelValues,
  checkMaskValues,
  checkOneOf,
  checkSampleWeightValues,
  checkTau,
} from './validate.js'
export type { Reduction } from './reduction.js'
export { closedFormBatchGradient, reducedLoss, rowShares } from './reduction.js'
export type { RowWeights } from './reduction.js'
export { checkLevel, parseChecks } from './checkLevel.js'
export type { CheckLevel, Checks } from './checkLevel.js'
export { classSums } from './rules/classSums.js'
export type { CountedRows } from './rules/classSums.js'

export { referenceOps } from './reference/ops.js'
export type { RefTensor } from './reference/tensor.js'
export { refTensor } from './reference/tensor.js'

export type {
  BalancedSoftmaxSpec,
  BceSpec,
  CeSpec,
  DbNegativeTolerantInput,
  DbNegativeTolerantSpec,
  FocalInput,
  FocalSpec,
  DistributionBalancedInput,
  DistributionBalancedSpec,
  CdtInput,
  CdtSpec,
  SeesawInput,
  SeesawSpec,
  IsdaInput,
  IsdaSpec,
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
export { closedFormGradient, createLoss, ruleFacts } from './loss.js'
export { binaryCrossEntropyTerm, binaryFocalTerm, crossEntropyTerm, focalTerm, plainTerm } from './rules/lossTerms.js'
export type { Loss, LossEvaluation, LossOptions } from './loss.js'
export type {
  IsdaInputs,
  LabelTask,
  LossContext,
  LossTerm,
  PerturbCall,
  PerturbedBatch,
  Rule,
  RuleFacts,
  RuleState,
  RuleStateDeclaration,
  StateField,
} from './rules/types.js'
export { constantPool, prefixedConstants } from './constants.js'
export type { ConstantPool, Constants } from './constants.js'
export { createRule } from './rules/createRule.js'
export { loadRuleState, saveRuleState } from './state.js'
export type { RuleStateJSON, StateOwner } from './state.js'

export { crossEntropyPerSample, softmaxResidual } from './rules/crossEntropy.js'
export { labelLogOdds, labelPriors, logitAdjustmentShift, logPriorsFromCounts, priorsFromCounts, smoothCounts } from './rules/counts.js'
export { bceEntries, sigmoidResidual } from './rules/binaryCrossEntropy.js'
export { dbBias } from './rules/dbNegativeTolerant.js'
export { lplMultiLabelSearch } from './rules/lpl/lplMultiLabel.js'
export type { LplMultiLabelSearchInputs } from './rules/lpl/lplMultiLabel.js'
export { postHocAdjust, postHocPredict } from './rules/logitAdjustment.js'
export { ldamMargins } from './rules/ldam.js'
export { drwWeights } from './rules/counts.js'
export { vsTerms } from './rules/vs.js'
export { isdaPerturbation } from './rules/isda.js'
export { lplSteps, priorSplitBounds } from './rules/lpl/lplBounds.js'
export type { LplClassBounds } from './rules/lpl/lplBounds.js'
export { lplSearch, lplSearchVjp } from './rules/lpl/lplSearch.js'
export type { LplSearchInputs } from './rules/lpl/lplSearch.js'
export { officialStep } from './rules/official/officialStep.js'
export { officialLongtailSteps } from './rules/official/officialLongtail.js'
export { officialLongtailSearch, officialLongtailSearchVjp } from './rules/official/officialLongtailSearch.js'
export type { OfficialSearchInputs } from './rules/official/officialLongtailSearch.js'
export { officialLongtailHost, officialLongtailHostVjp } from './rules/official/officialLongtailHost.js'
export type { OfficialLongtailHostInputs, OfficialLongtailHostResult } from './rules/official/officialLongtailHost.js'
export type { OfficialLongtailSteps } from './rules/official/officialLongtail.js'
export { officialBalancedIterations } from './rules/official/officialBalanced.js'

export { describeClasses, explainBatch, explainMultiLabelBatch } from './analysis.js'
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
export { mulberry32, shuffleInPlace } from './random.js'
export { lplSearchHost, lplSearchHostVjp, lplSearchHostWithVjp } from './rules/lpl/lplSearchHost.js'
export type { LplHostSearch, LplHostSearchInputs } from './rules/lpl/lplSearchHost.js'
export type { RuleOptions } from './rules/createRule.js'
export type { SearchPath } from './rules/lpl/lpl.js'
export {
  broadcastShapes,
  checkConstant,
  dimsAgree,
  matmulShape,
  normalizeAxes,
  reducedShape,
  reshapedShape,
  segmentSumShape,
  staticSize,
} from './shapes.js'
export type { AnyBackend, Backend } from './verify/backend.js'
export { batchOn, isLabelMatrix, referenceBackend } from './verify/backend.js'
export { relativeError } from './verify/relativeError.js'
export type { ConformanceCase, ConformanceCheck, ConformanceExpectation, ConformanceValues } from './verify/conformance.js'
export { exportClassCount } from './exportClassCount.js'
export { traceLoss } from './trace.js'
export type { LossTrace, TraceBranch, TraceInput, TraceOps, TraceOptions, TracedBranch } from './trace.js'
export { CENTRAL_DIFFERENCE_RTOL, checkConformance, compareConformance, conformanceExpectation } from './verify/conformance.js'
export type { AnyEquivalence, Equivalence, EquivalenceCheck } from './verify/equivalence.js'
export { equivalences } from './verify/equivalences.js'
export type { Equivalences } from './verify/equivalences.js'
export { checkEquivalences } from './verify/checkEquivalences.js'
export type { HostBatch } from './verify/onBackend.js'
export { classDirections, learnedBoundsStep, updateLearnedBounds } from './rules/lpl/learnedBounds.js'
export type { LearnedBoundsInputs, LearnedBoundsStep } from './rules/lpl/learnedBounds.js'
