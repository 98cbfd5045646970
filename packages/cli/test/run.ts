import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..', '..', '..')

/** What a run of `lpl` gave: its exit status and output. */
export interface LplRun {
  status: number | null
  stdout: string
  stderr: string
}

/** Runs `pnpm lpl ...args` from the workspace root; returns its status and output. */
export function lpl(...args: string[]): LplRun {
  const r = spawnSync('pnpm', ['--silent', 'lpl', ...args], { cwd: root, encoding: 'utf8', timeout: 300_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** {@link lpl} without waiting, so that several runs overlap. */
export function lplAsync(...args: string[]): Promise<LplRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('pnpm', ['--silent', 'lpl', ...args], { cwd: root, timeout: 300_000 })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    child.on('error', reject)
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}
