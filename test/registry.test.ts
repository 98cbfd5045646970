/**
 * The rule registry is complete: every registered rule has a conformance case (so every backend
 * is compared with the reference on it), a kind in the fuzzing suite, and a docs page whose spec
 * table names the rule and gives each default the definition holds. Registering a rule without
 * these fails here, naming what is missing. And the names and unions built from the registry agree
 * with the parser.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MULTI_LABEL_RULE_NAMES, RULE_NAMES, parseSpec, ruleFacts } from '@logit-perturb/core'
import { equivalences } from '@logit-perturb/core/verify'
import { conformanceCases, outcome } from '@logit-perturb/conformance'
import { RULE_DEFINITIONS } from '../packages/core/src/rules/registry.js'
import { MULTI_LABEL_KINDS, SINGLE_LABEL_KINDS, validSpec } from './fuzz/specs.js'

const docsDir = join(import.meta.dirname, '..', 'docs')

/** The rows of every Markdown table of a page, as cells without their outer pipes. */
function tables(markdown: string): string[][][] {
  const out: string[][][] = []
  let current: string[][] | undefined
  for (const line of markdown.split('\n')) {
    if (line.startsWith('|')) {
      current ??= []
      current.push(
        line
          .replace(/^\||\|$/g, '')
          .split('|')
          .map((cell) => cell.trim()),
      )
    } else if (current !== undefined) {
      out.push(current)
      current = undefined
    }
  }
  if (current !== undefined) out.push(current)
  return out
}

/** The spec table of `rule` on a page: the table whose `rule` row names it. */
function specTable(markdown: string, rule: string): Map<string, string> | undefined {
  const table = tables(markdown).find((rows) => rows.some((cells) => cells[0] === '`rule`' && cells[2]?.includes(`\`"${rule}"\``)))
  return table && new Map(table.map((cells) => [cells[0]!.replaceAll('`', ''), cells[1] ?? '']))
}

/** The rules the fuzzing suite's kinds generate specs of. */
function fuzzedRules(): Set<string> {
  return new Set(
    [...SINGLE_LABEL_KINDS, ...MULTI_LABEL_KINDS].map((kind) => String(fc.sample(validSpec(kind, 4), { numRuns: 1, seed: 1 })[0]!.rule)),
  )
}

describe('the rule registry', () => {
  const conformed = new Set(conformanceCases().map((c) => c.spec.rule))
  const fuzzed = fuzzedRules()

  it.each(RULE_DEFINITIONS.map((d) => [d.name, d] as const))(
    '%s has a conformance case, a fuzzing kind and a docs table with its defaults',
    (name, definition) => {
      const missing: string[] = []
      if (!conformed.has(name)) missing.push('no conformance case (packages/conformance/src/ruleVariants.ts)')
      if (!fuzzed.has(name)) missing.push('no fuzzing kind (test/fuzz/specs.ts)')
      let page = ''
      try {
        page = readFileSync(join(docsDir, definition.docsPage), 'utf8')
      } catch {
        missing.push(`no docs page docs/${definition.docsPage}`)
      }
      const table = page && specTable(page, name)
      if (page && !table) missing.push(`docs/${definition.docsPage} has no spec table whose rule row is "${name}"`)
      if (table) {
        for (const [field, value] of Object.entries(definition.defaults)) {
          const cell = table.get(field)
          if (cell === undefined) missing.push(`docs/${definition.docsPage}: no row for ${field}`)
          else if (!cell.includes(`\`${JSON.stringify(value)}\``))
            missing.push(`docs/${definition.docsPage}: ${field}'s default is \`${JSON.stringify(value)}\`, the table says ${cell}`)
        }
      }
      expect(missing).toEqual([])
    },
  )

  it('builds the rule names and the multi-label names, and the parser knows each', () => {
    expect(RULE_NAMES).toEqual(RULE_DEFINITIONS.map((d) => d.name))
    expect(MULTI_LABEL_RULE_NAMES).toEqual(RULE_DEFINITIONS.filter((d) => d.task === 'multi').map((d) => d.name))
    for (const d of RULE_DEFINITIONS) {
      // The parser reaches each definition: a spec with only the rule fails on a field of that rule, never as unknown.
      const parsed = outcome(d.name, () => parseSpec({ rule: d.name }))
      expect(parsed.ok ? 'parsed' : parsed.code, d.name).not.toBe('UNKNOWN_RULE')
    }
  })

  it("applies every definition's defaults when parsing", () => {
    const parsed = parseSpec({ rule: 'ldam', classCounts: [5, 1], drw: {} }) as unknown as Record<string, unknown>
    const ldam = RULE_DEFINITIONS.find((d) => d.name === 'ldam')!.defaults
    expect(parsed).toMatchObject({
      maxMargin: ldam.maxMargin,
      scale: ldam.scale,
      drw: { beta: ldam['drw.beta'], fromEpoch: ldam['drw.fromEpoch'] },
    })
    const lpl = RULE_DEFINITIONS.find((d) => d.name === 'lpl')!.defaults
    expect(parseSpec({ rule: 'lpl', split: 'confidence' })).toMatchObject({
      alpha: lpl.alpha,
      epsilon: lpl.epsilon,
      deltaEpsilon: lpl.deltaEpsilon,
      maxSteps: lpl.maxSteps,
      normalize: lpl.normalize,
      gradient: lpl.gradient,
      momentum: lpl.momentum,
      threshold: lpl.threshold,
    })
  })

  it("declares facts that hold: each rule's equivalences exist, and each state field is one its definition lists", () => {
    const variants = conformanceCases().map((c) => c.spec)
    const known = Object.keys(equivalences)
    const declared = new Set(variants.flatMap((spec) => ruleFacts(spec).equivalences))
    expect([...declared].filter((key) => !known.includes(key))).toEqual([])
    // Every rule-specific equivalence is some variant's: the ones every rule has are not declared.
    expect(known.filter((key) => !declared.has(key)).sort()).toEqual(['ceOfPerturbed', 'classLevelDelta', 'rowShift'])
    for (const spec of variants) {
      const fields = Object.keys(ruleFacts(spec).state?.fields ?? {})
      const listed = Object.keys(RULE_DEFINITIONS.find((d) => d.name === spec.rule)!.stateFields ?? {})
      expect(
        fields.filter((f) => !listed.includes(f)),
        spec.rule,
      ).toEqual([])
    }
  })
})
