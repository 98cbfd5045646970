/**
 * Every `pnpm lpl audit` command of docs/audit.md runs as the page shows it, from the repository's
 * root: its output is the ```text block that follows it (but for the line of the largest errors,
 * whose last digits depend on the machine), and its exit status is the verdict's (0 equivalent, 1
 * differs).
 */
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runProcess } from './support/process.js'

const root = resolve(import.meta.dirname, '..')
const page = readFileSync(join(root, 'docs', 'audit.md'), 'utf8')
const examples = [...page.matchAll(/```sh\n(pnpm lpl audit [^\n]+)\n```\n\n```text\n([\s\S]*?)```/g)].map((m) => ({
  command: m[1]!,
  output: m[2]!.trim(),
}))

describe('docs/audit.md', () => {
  it('has its examples', () => {
    expect(examples.length).toBeGreaterThanOrEqual(4)
  })

  it.each(examples.map((e) => [e.command, e] as const))(
    '%s',
    async (_, example) => {
      const args = example.command.split(' ').slice(1)
      const r = await runProcess('pnpm', ['--silent', ...args], { cwd: root })
      const shown = r.stdout
        .trim()
        .split('\n')
        .filter((line) => !line.startsWith('largest '))
        .join('\n')
      expect(shown).toBe(example.output)
      expect(r.status).toBe(/: equivalent$/m.test(example.output) ? 0 : 1)
    },
    120_000,
  )
})
