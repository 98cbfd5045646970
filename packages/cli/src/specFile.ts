import { readFileSync } from 'node:fs'
import { LogitPerturbError, type RuleSpec, createRule, parseSpec } from '@logit-perturb/core'
import { CliError } from './errors.js'

/** Reads and validates a rule spec from a JSON file; every problem is one line naming the file. */
export function readSpecFile(path: string | undefined): RuleSpec {
  if (path === undefined) throw new CliError('--spec FILE is required (a JSON rule spec, see docs/rules)', 2)
  const value = readJsonFile(path)
  try {
    return parseSpec(value)
  } catch (e) {
    if (e instanceof LogitPerturbError) throw new CliError(`${path}: ${e.code}: ${e.message}`)
    throw e
  }
}

/** Reads a JSON file, with one-line errors for a missing file or bad JSON. */
export function readJsonFile(path: string): unknown {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new CliError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new CliError(`${path}: not valid JSON (${(e as Error).message})`)
  }
}

/** Refuses multi-label specs in a command that builds class-id batches. */
export function requireSingleLabel(spec: RuleSpec, path: string | undefined, command: string): void {
  if (createRule(spec).task === 'multi') {
    throw new CliError(`${path}: ${spec.rule} is a multi-label rule; lpl ${command} takes single-label specs (lpl export takes both)`, 2)
  }
}

/** The class count a spec fixes, if any. */
export function classesOf(spec: RuleSpec): number | undefined {
  if (spec.numClasses !== undefined) return spec.numClasses
  if ('classCounts' in spec && spec.classCounts) return spec.classCounts.length
  if (spec.rule === 'lpl') return spec.directions?.length ?? (spec.base ? classesOf(spec.base) : undefined)
  if (spec.rule === 'vs') return spec.multiplicative?.length
  if (spec.rule === 'isda') return spec.weights?.length
  return undefined
}
