import type { LplBaseSpec, RuleSpec } from '../specTypes.js'
import { bceRule } from './bce.js'
import { ceRule } from './ce.js'
import { dbNegativeTolerantRule } from './dbNegativeTolerant.js'
import { isdaRule } from './isda.js'
import { ldamRule } from './ldam.js'
import { logitAdjustedBceRule } from './logitAdjustedBce.js'
import { logitAdjustmentRule } from './logitAdjustment.js'
import { type LplSplitPlan, lplRule } from './lpl.js'
import { lplMultiLabelRule } from './lplMultiLabel.js'
import { priorSplitBounds } from './lplBounds.js'
import { lplLearnedRule } from './lplLearned.js'
import { officialBalancedRule } from './officialBalanced.js'
import { officialLongtailRule } from './officialLongtail.js'
import type { Rule } from './types.js'
import { vsRule, vsTerms } from './vs.js'

/** How rules run, beyond what the spec says. */
export interface RuleOptions {
  /** LPL's search: `'auto'` (default) runs it as one host loop where the backend can, else as ops. */
  search?: 'auto' | 'host' | 'ops'
}

/**
 * Builds the rule a parsed spec names, single- or multi-label (`rule.task`). The spec must come from
 * `parseSpec` (defaults filled in).
 */
export function createRule(spec: RuleSpec, options: RuleOptions = {}): Rule {
  switch (spec.rule) {
    case 'ce':
      return ceRule(spec.numClasses)
    case 'logit-adjustment':
      return logitAdjustmentRule(spec.classCounts, spec.tau)
    case 'balanced-softmax':
      return logitAdjustmentRule(spec.classCounts, 1)
    case 'ldam':
      return ldamRule(spec.classCounts, spec.maxMargin, spec.scale, spec.drw)
    case 'vs': {
      const terms = spec.classCounts === undefined
        ? { multiplicative: spec.multiplicative!, additive: spec.additive! }
        : vsTerms(spec.classCounts, spec.gamma!, spec.tau!)
      return vsRule(terms.multiplicative, terms.additive)
    }
    case 'isda':
      return isdaRule(spec.lambda,
        spec.weights && spec.covariances ? { weights: spec.weights, covariances: spec.covariances } : undefined,
        spec.numClasses)
    case 'lpl': {
      const base = createRule(spec.base ?? ({ rule: 'ce', numClasses: spec.numClasses } satisfies LplBaseSpec))
      if (spec.split === 'learned') return lplLearnedRule(base, spec.numClasses!, spec.maxBound!, spec.gradient)
      const split: LplSplitPlan =
        spec.split === 'prior'
          ? { kind: 'static', classBounds: priorSplitBounds(spec.classCounts!, spec.epsilon!, spec.deltaEpsilon!, spec.headClasses) }
          : spec.split === 'fixed'
            ? { kind: 'static', classBounds: { directions: spec.directions!, bounds: spec.bounds! } }
            : { kind: 'confidence', momentum: spec.momentum!, threshold: spec.threshold! }
      // The fixed split has no ε or Δε; they only size the unrolled loop of the confidence split.
      return lplRule(base, {
        alpha: spec.alpha!, maxSteps: spec.maxSteps!, normalize: spec.normalize!, gradient: spec.gradient,
        epsilon: spec.epsilon ?? 0, deltaEpsilon: spec.deltaEpsilon ?? 0, split, search: options.search ?? 'auto',
      })
    }
    case 'official-longtail':
      return officialLongtailRule(spec.classCounts, spec.split, spec.stepSize, spec.headFactor, spec.steps, spec.alpha)
    case 'official-balanced':
      return officialBalancedRule(spec.steps, spec.alpha, spec.numClasses)
    case 'bce':
      return bceRule(spec.numClasses)
    case 'logit-adjusted-bce':
      return logitAdjustedBceRule(spec.classCounts, spec.numSamples, spec.tau)
    case 'db-negative-tolerant':
      return dbNegativeTolerantRule(spec.classCounts, spec.numSamples, spec.kappa, spec.lambda)
    case 'lpl-multilabel':
      return lplMultiLabelRule(spec)
  }
}
