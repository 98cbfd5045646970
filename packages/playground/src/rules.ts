import type { LogitAdjustmentSpec, LplSpec, RuleSpec } from '@logit-perturb/core'

/** The rules the page offers, by the name shown in its menu and accepted by `?rule=`. */
export const RULES = ['ce', 'logit-adjustment', 'ldam', 'lpl', 'la+lpl'] as const
/** One of {@link RULES}. */
export type RuleName = (typeof RULES)[number]

/** A hyper-parameter the page shows for a rule: its spec field, label, default and input range. */
export interface ParamInfo {
  key: string
  label: string
  value: number
  min: number
  max: number
  step: number
}

const tau: ParamInfo = { key: 'tau', label: 'τ (adjustment strength)', value: 1, min: 0, max: 3, step: 0.1 }
const alpha: ParamInfo = { key: 'alpha', label: 'α (search step)', value: 0.15, min: 0.01, max: 1, step: 0.01 }
const epsilon: ParamInfo = { key: 'epsilon', label: 'ε (base bound)', value: 0.3, min: 0, max: 3, step: 0.05 }
const deltaEpsilon: ParamInfo = { key: 'deltaEpsilon', label: 'Δε (bound growth)', value: 1.2, min: 0, max: 5, step: 0.1 }

/**
 * The hyper-parameters of each rule with the defaults of the rule pages, except LDAM's. The
 * playground's last layer is not normalized, and `ldam.md` advises `s = 1` there (the default 30
 * makes the logits huge and the model collapses to one class); at `s = 1` the network outgrows any
 * margin, so the margin alone barely moves the tail, and DRW is on by default from step 100, half
 * the default run, as LDAM-DRW. `drwFrom < 0` leaves DRW off.
 */
export const RULE_PARAMS: Record<RuleName, ParamInfo[]> = {
  ce: [],
  'logit-adjustment': [tau],
  ldam: [
    { key: 'maxMargin', label: 'M (margin of the rarest class)', value: 1, min: 0, max: 3, step: 0.1 },
    { key: 'scale', label: 's (logit scale)', value: 1, min: 0.1, max: 30, step: 0.1 },
    { key: 'drwFrom', label: 'DRW from step (−1: off)', value: 100, min: -1, max: 5000, step: 1 },
  ],
  lpl: [alpha, epsilon, deltaEpsilon],
  'la+lpl': [tau, alpha, epsilon, deltaEpsilon],
}

/** Whether `name` is one of {@link RULES}. */
export function isRuleName(name: unknown): name is RuleName {
  return (RULES as readonly unknown[]).includes(name)
}

/** The default value of each of a rule's hyper-parameters. */
export function defaultParams(rule: RuleName): Record<string, number> {
  return Object.fromEntries(RULE_PARAMS[rule].map((p) => [p.key, p.value]))
}

/**
 * The library spec for a rule of the menu, the training counts and the chosen hyper-parameters
 * (missing ones take their defaults). The spec goes to `createTfjsLoss` unchanged, so an invalid
 * value is refused by the library with its own message, as it would be for a user.
 */
export function ruleSpec(rule: RuleName, counts: readonly number[], params: Record<string, number> = {}): RuleSpec {
  const p = { ...defaultParams(rule), ...params } as Record<string, number>
  // Every parameter a rule below reads has a default in `defaultParams`.
  const param = (name: string): number => {
    const value = p[name]
    if (value === undefined) throw new Error(`no parameter ${name} for ${rule}`)
    return value
  }
  const classCounts = [...counts]
  // Built on demand: each reads parameters only the rules that use it have.
  const la = (): LogitAdjustmentSpec => ({ rule: 'logit-adjustment', tau: param('tau'), classCounts })
  // `gradient` is left to its default ('stop') so that the spec shown is the one a user would write.
  const lpl = (): LplSpec =>
    ({
      rule: 'lpl',
      split: 'prior',
      classCounts,
      alpha: param('alpha'),
      epsilon: param('epsilon'),
      deltaEpsilon: param('deltaEpsilon'),
    }) as LplSpec
  switch (rule) {
    case 'ce':
      return { rule: 'ce' }
    case 'logit-adjustment':
      return la()
    case 'ldam':
      return {
        rule: 'ldam',
        classCounts,
        maxMargin: param('maxMargin'),
        scale: param('scale'),
        // DRW reads the epoch; the page trains full-batch, so an epoch is a step.
        ...(param('drwFrom') >= 0 ? { drw: { beta: 0.999, fromEpoch: param('drwFrom') } } : {}),
      }
    case 'lpl':
      return lpl()
    case 'la+lpl':
      return { ...lpl(), base: la() }
  }
}
