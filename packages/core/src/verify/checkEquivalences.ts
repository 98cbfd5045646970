import type { RuleSpec } from '../specTypes.js'
import type { Backend } from './backend.js'
import type { AnyEquivalence, EquivalenceCheck } from './equivalence.js'
import { equivalences } from './equivalences.js'
import { type HostBatch, evaluateOn } from './onBackend.js'

/**
 * Every equivalence that applies to a single-label spec, checked on one batch with a backend with
 * their default options, in the order of {@link equivalences}: what `lpl verify` reports.
 */
export async function checkEquivalences<T>(backend: Backend<T>, spec: RuleSpec, batch: HostBatch): Promise<EquivalenceCheck[]> {
  const { additive } = await evaluateOn(backend, spec, batch)
  const out: EquivalenceCheck[] = []
  for (const property of Object.values(equivalences) as AnyEquivalence[]) {
    if (!property.appliesTo(spec, additive)) continue
    out.push({ property: property.name, error: await property.check(backend, spec, batch), tolerance: property.tolerance })
  }
  return out
}
