// The harness and the check are published by the core (`lpl verify` uses them too); re-exported
// here so the suites import every test helper from one place.
export type { AnyBackend, Backend, ConformanceCase, ConformanceCheck } from '@logit-perturb/core'
export { batchOn, checkConformance, isLabelMatrix, referenceBackend, relativeError } from '@logit-perturb/core'
export type { GoldenCase, LoadedCase } from './fixtures.js'
export { expectedPerturbed, loadGoldenDir, specOfCase } from './fixtures.js'
export type { Check, GoldenResult } from './golden.js'
export { runGoldenCase } from './golden.js'
export type { BatchCase, BatchOptions, MultiLabelBatchCase } from './arbitraries.js'
export { batchArbitrary, multiLabelBatchArbitrary } from './arbitraries.js'
export { mulberry32 } from '@logit-perturb/core'
export { conformanceCases } from './cases.js'
