import { readFileSync } from 'node:fs'
import { LogitPerturbError, type RuleSpec, parseSpec, ruleFacts } from '@logit-perturb/core'
import { CliError } from './errors.js'

/**
 * The most classes `lpl` takes: its commands build `[N, C]` batches in memory (512 rows for
 * `explain`), so a spec fixing more is refused rather than running out of memory.
 */
export const MAX_CLI_CLASSES = 2 ** 16

/**
 * Reads and validates a rule spec from a JSON file; every problem is one line naming the file, as
 * is a spec fixing more than {@link MAX_CLI_CLASSES} classes.
 */
export function readSpecFile(path: string | undefined): RuleSpec {
  if (path === undefined) throw new CliError('--spec FILE is required (a JSON rule spec, see docs/rules)', 2)
  const value = readJsonFile(path)
  let spec: RuleSpec
  try {
    spec = parseSpec(value)
  } catch (e) {
    if (e instanceof LogitPerturbError) throw new CliError(`${path}: ${e.code}: ${e.message}`)
    throw e
  }
  const { numClasses, numClassesFrom } = ruleFacts(spec)
  if (numClasses !== undefined && numClasses > MAX_CLI_CLASSES) {
    throw new CliError(`${path}: ${numClassesFrom}: ${numClasses} classes is more than lpl takes (at most ${MAX_CLI_CLASSES})`)
  }
  return spec
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
  if (ruleFacts(spec).task === 'multi') {
    throw new CliError(`${path}: ${spec.rule} is a multi-label rule; lpl ${command} takes single-label specs (lpl export takes both)`, 2)
  }
}

/** The class count a spec fixes, if any (see `RuleFacts.numClasses`). */
export function classesOf(spec: RuleSpec): number | undefined {
  return ruleFacts(spec).numClasses
}
