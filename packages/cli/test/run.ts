import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..', '..', '..')

/** Runs `pnpm lpl ...args` from the workspace root; returns its status and output. */
export function lpl(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('pnpm', ['--silent', 'lpl', ...args], { cwd: root, encoding: 'utf8', timeout: 300_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}
