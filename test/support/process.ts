/**
 * Child processes for the suites, without blocking the test worker: the conformance package's
 * `runProcess` and `runProcessOrThrow` (see packages/conformance/src/process.ts for why).
 */
export type { ProcessOptions, ProcessResult } from '@logit-perturb/conformance'
export { runProcess, runProcessOrThrow } from '@logit-perturb/conformance'
