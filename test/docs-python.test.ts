/**
 * Every ```python block in `docs/**\/*.md` is a runnable example, run the way the page says: in a
 * fresh folder holding `loss.py`, written by the command the PyTorch page documents
 * (`pnpm lpl export --format pytorch --spec examples/specs/lpl-prior.json --out loss.py`), with
 * Debian's torch. A block fails its test when Python exits with an error (an `assert` included).
 * The page's excerpt of a module is checked against the module the command writes.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { runPythonScript } from '@logit-perturb/conformance/torch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { markdownFiles } from './support/files.js'
import { runProcessOrThrow } from './support/process.js'

const root = resolve(import.meta.dirname, '..')
const docsDir = join(root, 'docs')
const EXPORT = 'lpl export --format pytorch --spec examples/specs/lpl-prior.json --out loss.py'

/** The fenced blocks of one language in a Markdown file, with their first line. */
function blocks(markdown: string, language: string): { line: number; code: string }[] {
  const out: { line: number; code: string }[] = []
  const pattern = new RegExp(`^\`\`\`${language}\\n([\\s\\S]*?)^\`\`\`$`, 'gm')
  const text = readFileSync(markdown, 'utf8')
  for (const m of text.matchAll(pattern)) out.push({ line: text.slice(0, m.index).split('\n').length + 1, code: m[1]! })
  return out
}

const examples = markdownFiles(docsDir).flatMap((file) =>
  blocks(file, 'python').map((b) => ({ name: `${relative(docsDir, file)}:${b.line}`, ...b })),
)
let work = ''
let module = ''

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'logit-perturb-docs-python-'))
  module = join(work, 'loss.py')
  await runProcessOrThrow('pnpm', ['--silent', ...EXPORT.split(' ').map((a) => (a === 'loss.py' ? module : a))], { cwd: root })
}, 120_000)
afterAll(() => rmSync(work, { recursive: true, force: true }))

describe('the docs: Python examples', () => {
  it('the PyTorch page shows the export command its examples run on, and has examples', () => {
    expect(readFileSync(join(docsDir, 'pytorch.md'), 'utf8')).toContain(`pnpm ${EXPORT}`)
    expect(examples.map((e) => e.name)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^pytorch\.md:/), expect.stringMatching(/^distributed\.md:/)]),
    )
  })

  it.each(examples)('$name runs', async ({ name, code }) => {
    const dir = mkdtempSync(join(work, 'example-'))
    copyFileSync(module, join(dir, 'loss.py'))
    const script = join(dir, 'example.py')
    writeFileSync(script, code)
    const out = await runPythonScript(script, [], { cwd: dir })
    expect(out.trim().length, name).toBeGreaterThan(0)
  })

  it("the PyTorch page's excerpt of a module is what the export writes, line for line", () => {
    const page = join(docsDir, 'pytorch.md')
    const excerpt = blocks(page, 'text').find((b) => b.code.includes('for k_'))!.code
    const source = readFileSync(module, 'utf8').split('\n')
    let at = 0
    for (const line of excerpt.split('\n').filter((l) => l.trim() !== '' && l.trim() !== '...')) {
      const found = source.indexOf(line, at)
      expect(found, line).toBeGreaterThanOrEqual(at)
      at = found + 1
    }
  })
})
