/**
 * The entry for those who implement a backend (`TensorOps`) or an exporter: the tensor interface and
 * its control flow, the value checks every backend shares, the shape arithmetic of the symbolic
 * backends, the loss's reduction, loss terms and closed-form gradient, the rule contract, and the
 * symbolic trace the exporters render ({@link traceLoss}).
 *
 * @module @logit-perturb/core/backend
 */
export type { CustomGradient, LoopBody, TensorOps, ValueChecks } from './ops.js'
export { named, repeat, withGradient } from './control.js'
export { scalar } from './ops.js'
export { check } from './errors.js'
export { EMPTY_BATCH, FLOAT32_FLOOR } from './numerics.js'
export {
  checkBinaryLabelValues,
  checkProbabilityValues,
  checkClassCounts,
  checkEntryValues,
  checkFiniteValues,
  checkLabelCounts,
  checkLogitValues,
  checkLabelValues,
  checkMaskValues,
  checkOneOf,
  checkSampleWeightValues,
  checkTau,
} from './validate.js'
export type { LogitTargets } from './validate.js'
export { closedFormBatchGradient, reducedLoss, rowShares } from './reduction.js'
export type { RowWeights } from './reduction.js'
export { checkLevel, parseChecks } from './checkLevel.js'
export type { CheckLevel } from './checkLevel.js'
export { classSums } from './rules/classSums.js'
export type { CountedRows } from './rules/classSums.js'
export { closedFormGradient } from './loss.js'
export { batchRows } from './batchLayout.js'
export { countedRowMask, softTargetParts, withoutIgnored } from './targets.js'
export type { IdsWithoutIgnored, TargetPart } from './targets.js'
export {
  binaryCrossEntropyTerm,
  binaryFocalTerm,
  crossEntropyTerm,
  focalTerm,
  headsCrossEntropyTerm,
  plainTerm,
} from './rules/lossTerms.js'
export { labelAwareSmoothingTerm } from './rules/labelAwareSmoothingTerm.js'
export { balancedBceTerm } from './rules/balancedBceTerm.js'
export type { PerturbCall, PerturbedBatch, Rule } from './rules/types.js'
export type { Constants } from './constants.js'
export type { RuleOptions } from './rules/createRule.js'
export type { SearchPath } from './rules/searchEngine.js'
export { lplSearchHost } from './rules/lpl/lplSearchHost.js'
export type { LplHostSearchInputs } from './rules/lpl/lplSearchHost.js'
export {
  broadcastShapes,
  checkConstant,
  dimsAgree,
  matmulShape,
  normalizeAxes,
  reducedShape,
  reshapedShape,
  transposedShape,
  segmentSumShape,
  staticSize,
} from './shapes.js'
export { exportClassCount } from './exportClassCount.js'
export { traceLoss } from './trace.js'
export type { LossTrace, TraceBranch, TraceInput, TraceOps, TraceOptions, TracedBranch } from './trace.js'
export { MAX_SPATIAL_DIMS } from './traceLayout.js'
export type { TraceDim, TraceLayout } from './traceLayout.js'
