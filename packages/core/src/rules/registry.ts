import { LogitPerturbError } from '../errors.js'
import { balancedBceDefinition } from './balancedBce.js'
import { adaptiveLogitAdjustmentDefinition } from './adaptiveLogitAdjustment.js'
import { balancedExpertsDefinition } from './balancedExperts.js'
import { balancedSoftmaxDefinition } from './balancedSoftmax.js'
import { bceDefinition } from './bce.js'
import { cdtDefinition } from './cdt.js'
import { ceDefinition } from './ce.js'
import { dbNegativeTolerantDefinition } from './dbNegativeTolerant.js'
import { distributionBalancedDefinition } from './distributionBalanced.js'
import { diverseExpertsDefinition } from './diverseExperts.js'
import { focalDefinition } from './focal.js'
import { generalizedReweightingDefinition } from './generalizedReweighting.js'
import { gaussianCloudedLogitDefinition } from './gaussianCloudedLogit.js'
import type { AnyRuleDefinition } from './definition.js'
import { isdaDefinition } from './isda.js'
import { labelAwareSmoothingDefinition } from './labelAwareSmoothing.js'
import { ladeDefinition } from './lade.js'
import { ldamDefinition } from './ldam.js'
import { logitAdjustedBceDefinition } from './logitAdjustedBce.js'
import { logitAdjustmentDefinition } from './logitAdjustment.js'
import { lplDefinition } from './lpl/lpl.js'
import { lplMultiLabelDefinition } from './lpl/lplMultiLabel.js'
import { officialBalancedDefinition } from './official/officialBalanced.js'
import { officialLongtailDefinition } from './official/officialLongtail.js'
import { seesawDefinition } from './seesaw.js'
import { vsDefinition } from './vs.js'

/**
 * Every rule the library knows, one definition each (see `RuleDefinition`): the single-label
 * rules, then the multi-label ones. Adding a rule is one module with its math and its definition,
 * one line here, and one page in docs/rules/ (docs/contributing.md).
 */
export const RULE_DEFINITIONS = [
  ceDefinition,
  logitAdjustmentDefinition,
  balancedSoftmaxDefinition,
  focalDefinition,
  ldamDefinition,
  vsDefinition,
  cdtDefinition,
  isdaDefinition,
  seesawDefinition,
  ladeDefinition,
  generalizedReweightingDefinition,
  adaptiveLogitAdjustmentDefinition,
  lplDefinition,
  officialLongtailDefinition,
  officialBalancedDefinition,
  labelAwareSmoothingDefinition,
  balancedBceDefinition,
  balancedExpertsDefinition,
  diverseExpertsDefinition,
  gaussianCloudedLogitDefinition,
  bceDefinition,
  logitAdjustedBceDefinition,
  dbNegativeTolerantDefinition,
  distributionBalancedDefinition,
  lplMultiLabelDefinition,
] as const satisfies readonly AnyRuleDefinition[]

/** The spec type of a rule definition. */
export type SpecOfDefinition<D> = D extends { parse(...args: never[]): infer S } ? S : never

/** Every parsed spec the registry's rules produce. */
export type RegisteredSpec = SpecOfDefinition<(typeof RULE_DEFINITIONS)[number]>

const BY_NAME: ReadonlyMap<string, AnyRuleDefinition> = new Map(RULE_DEFINITIONS.map((d) => [d.name, d]))

/** The definition of the rule named `name`; `UNKNOWN_RULE` naming the known rules otherwise. */
export function ruleDefinition(name: unknown, field = 'rule'): AnyRuleDefinition {
  const definition = typeof name === 'string' ? BY_NAME.get(name) : undefined
  if (definition === undefined) {
    throw new LogitPerturbError(
      'UNKNOWN_RULE',
      `unknown rule ${JSON.stringify(name)}; known rules: ${RULE_DEFINITIONS.map((d) => d.name).join(', ')}`,
      field,
    )
  }
  return definition
}
