/**
 * One typed builder per rule, for editors: `specs.lpl({ split: 'prior', classCounts })` offers the
 * fields of the chosen rule (and of the chosen LPL split) as completions, and returns the plain
 * JSON spec `{ rule: 'lpl', split: 'prior', classCounts }`. The JSON spec stays the interchange
 * format: a builder adds the rule name and nothing else, and `parseSpec` checks the result as it
 * checks any spec.
 */
import { RULE_NAMES, type RuleInput, type RuleName } from './specTypes.js'

/** A spec naming rule `R`. */
export interface NamedRule<R extends RuleName> {
  /** The rule's name. */
  rule: R
}

/** The input spec of rule `R` (a union for rules with variants, such as LPL's splits). */
export type RuleInputOf<R extends RuleName> = Extract<RuleInput, NamedRule<R>>

/** The fields of rule `R`'s input spec besides `rule`, variant by variant. */
export type RuleFields<R extends RuleName> = RuleInputOf<R> extends infer S ? (S extends unknown ? Omit<S, 'rule'> : never) : never

/** The builder of rule `R`: its fields in, its spec out; the fields are optional when every one is. */
export type SpecBuilder<R extends RuleName> =
  object extends RuleFields<R> ? (fields?: RuleFields<R>) => RuleInputOf<R> : (fields: RuleFields<R>) => RuleInputOf<R>

/** `'official-longtail'` → `'officialLongtail'`. */
type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S

/** Every rule's builder, under its name in camel case (`specs.officialLongtail`, `specs.lplMultilabel`). */
export type SpecBuilders = { readonly [R in RuleName as CamelCase<R>]: SpecBuilder<R> }

function camelCase(name: string): string {
  return name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase())
}

/**
 * The typed builders of every registered rule. Example:
 *
 *     createLoss(referenceOps, specs.logitAdjustment({ classCounts: [500, 50, 5], tau: 1 }))
 *     specs.lpl({ split: 'prior', classCounts, base: specs.ldam({ classCounts }) })
 */
export const specs: SpecBuilders = Object.freeze(
  Object.fromEntries(RULE_NAMES.map((rule) => [camelCase(rule), (fields: object = {}) => ({ ...fields, rule })])),
) as unknown as SpecBuilders
