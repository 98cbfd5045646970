import type { RuleSpec } from '../specTypes.js'
import type { Backend } from './backend.js'
import type { HostBatch } from './onBackend.js'

/**
 * One equivalence of docs/spec.md#37-equivalences as data: what `lpl verify` reports, the identity,
 * when it applies, and a check of it on one batch with any backend. `lpl verify` runs the ones that
 * apply to its spec on seeded batches with the default options; the property tests run them on
 * batches and options fast-check draws.
 */
export interface Equivalence<S extends RuleSpec = RuleSpec, O = undefined> {
  /** Its number in the spec's list and what it says, as `lpl verify` reports it (with the default options). */
  readonly name: string
  /** The identity, in the spec's notation. */
  readonly formula: string
  /** The largest violation that passes, for the float64 reference. */
  readonly tolerance: number
  /**
   * Whether the identity holds for `spec`, whose perturbation is `additive` or not (see
   * `HostEvaluation.additive`): what `lpl verify` checks.
   */
  appliesTo(spec: RuleSpec, additive: boolean): spec is S
  /** Its largest violation on `batch`, computed with `backend`; `options` default to those `lpl verify` uses. */
  check<T>(backend: Backend<T>, spec: S, batch: HostBatch, options?: O): Promise<number>
}

/** An equivalence with its spec and options types hidden, so the list of all of them can be iterated. */
// biome-ignore lint/suspicious/noExplicitAny: an existential type; `unknown` would not accept each equivalence's spec
export type AnyEquivalence = Equivalence<any, any>

/** One equivalence checked on a batch: its largest violation and what passes. */
export interface EquivalenceCheck {
  /** {@link Equivalence.name}. */
  property: string
  /** The largest violation. */
  error: number
  /** {@link Equivalence.tolerance}. */
  tolerance: number
}
