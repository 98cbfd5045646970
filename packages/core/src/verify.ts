/**
 * The entry for checking a backend or a rule: the conformance harness (a {@link Backend} runs the
 * cases the float64 reference answers, {@link checkConformance}) and the equivalences `lpl verify`
 * checks ({@link equivalences}, {@link checkEquivalences}), and specs with fields outside their
 * ranges for fitting a rule to an implementation ({@link parseSpecUnbounded}, `lpl audit`).
 *
 * @module @logit-perturb/core/verify
 */
export type { AnyBackend, Backend } from './verify/backend.js'
export { batchOn, isLabelMatrix, referenceBackend } from './verify/backend.js'
export { relativeError } from './verify/relativeError.js'
export type { ConformanceCase, ConformanceCheck, ConformanceExpectation, ConformanceValues } from './verify/conformance.js'
export { CENTRAL_DIFFERENCE_RTOL, caseContext, checkConformance, compareConformance, conformanceExpectation } from './verify/conformance.js'
export type { AnyEquivalence, Equivalence, EquivalenceCheck } from './verify/equivalence.js'
export { equivalences } from './verify/equivalences.js'
export type { Equivalences } from './verify/equivalences.js'
export { checkEquivalences } from './verify/checkEquivalences.js'
export type { HostBatch } from './verify/onBackend.js'
export { parseSpecUnbounded } from './spec.js'
