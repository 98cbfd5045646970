import { join } from 'node:path'
import { type ProcessResult, runProcess } from '../../../test/support/process.js'

const root = join(import.meta.dirname, '..', '..', '..')

/** What a run of `lpl` gave: its exit status and output. */
export type LplRun = ProcessResult

/** Runs `pnpm lpl ...args` from the workspace root; resolves with its status and output. */
export function lpl(...args: string[]): Promise<LplRun> {
  return runProcess('pnpm', ['--silent', 'lpl', ...args], { cwd: root })
}
