import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { CliError } from '../errors.js'

/**
 * `FILE:NAME` of an `--python` or `--js` option: the file's absolute path and the name, or a usage
 * error (exit 2) for a target of another form or a file that does not exist.
 */
export function splitTarget(target: string, option: '--python' | '--js', form: string): { file: string; shown: string; name: string } {
  const at = target.lastIndexOf(':')
  if (at <= 0 || at === target.length - 1) throw new CliError(`${option} takes ${form}, got ${JSON.stringify(target)}`, 2)
  const shown = target.slice(0, at)
  const file = resolve(shown)
  if (!existsSync(file)) throw new CliError(`${option}: ${shown} does not exist`, 2)
  return { file, shown, name: target.slice(at + 1) }
}
