/**
 * Every ```ts (or ```typescript) block in `docs/**\/*.md` and in `README.md` is a runnable example:
 * this test writes each block to its own module under `test/.generated/` (git-ignored), type-checks
 * them all with the workspace's compiler options, and imports each one, so that `@logit-perturb/core`
 * resolves to the TypeScript sources (vitest's `@logit-perturb/source` condition). An example fails
 * its test when it throws, when one of its `assert`s fails, or when it does not type-check. A block
 * whose fence line carries `no-run` (```ts no-run) would be a fragment and skipped; none is allowed
 * under `docs/`, so that every example of the guide runs (the README keeps its two sketches).
 *
 * The rule pages (`docs/rules/*.md`) hold to a stricter form: each page has at least one example,
 * and each example imports from `@logit-perturb/core` and `node:assert/strict` only, prints with
 * `console.log`, and asserts something.
 *
 * A generated module keeps the line numbers of its Markdown file, so a stack trace's line is the
 * line of the `.md` file.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { markdownFiles } from './support/files.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const docsDir = join(root, 'docs')
const rulesDir = join(docsDir, 'rules')

interface Example {
  /** `<file>#<n>`: the Markdown path relative to `docs/` and the 1-based index of the block in it. */
  name: string
  markdown: string
  /** 1-based line of the first code line in the Markdown file. */
  line: number
  code: string
}

/** The fenced TypeScript blocks of one Markdown file (CommonMark fences of three or more backticks or tildes). */
/** `<file>:<line>` of every TypeScript block marked `no-run`, which the examples leave out. */
const skipped: string[] = []

function extractExamples(markdown: string): Example[] {
  const lines = readFileSync(markdown, 'utf8').split(/\r?\n/)
  const docName = relative(docsDir, markdown).split(sep).join('/')
  const examples: Example[] = []
  let open: { fence: string; run: boolean; line: number; body: string[] } | undefined
  let index = 0
  lines.forEach((text, i) => {
    if (open === undefined) {
      const m = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)(.*)$/.exec(text)
      if (m === null) return
      const lang = m[2]!.toLowerCase()
      const isTs = lang === 'ts' || lang === 'typescript'
      open = { fence: m[1]!, run: isTs && !/\bno-run\b/.test(m[3]!), line: i + 2, body: [] }
      if (isTs && !open.run && markdown.startsWith(docsDir)) skipped.push(`${docName}:${i + 1}`)
      return
    }
    const close = new RegExp(`^ {0,3}${open.fence[0] === '`' ? '`' : '~'}{${open.fence.length},}\\s*$`)
    if (close.test(text)) {
      if (open.run) examples.push({ name: `${docName}#${++index}`, markdown, line: open.line, code: open.body.join('\n') })
      open = undefined
      return
    }
    open.body.push(text)
  })
  return examples
}

// The README's runnable blocks too: its first example is what a new user types.
const examples = [join(root, 'README.md'), ...markdownFiles(docsDir)].flatMap(extractExamples)
const generatedRoot = join(root, 'test', '.generated')
let outDir = ''
const fileOf = new Map<string, string>()

beforeAll(() => {
  mkdirSync(generatedRoot, { recursive: true })
  // A fresh folder per run: two runs at once never share or delete each other's files.
  outDir = mkdtempSync(join(generatedRoot, 'docs-examples-'))
  for (const ex of examples) {
    const file = join(outDir, `${ex.name.replace(/[^A-Za-z0-9]+/g, '_')}.ts`)
    // Blank lines in front keep the Markdown line numbers; line 1 says where the code comes from.
    const header = `// ${relative(root, ex.markdown)}, from line ${ex.line}`
    writeFileSync(file, `${header}\n${'\n'.repeat(Math.max(0, ex.line - 2))}${ex.code}\nexport {}\n`)
    fileOf.set(ex.name, file)
  }
})

afterAll(() => {
  if (outDir !== '') rmSync(outDir, { recursive: true, force: true })
})

describe('docs examples', () => {
  it('finds examples, and at least one on every rule page', () => {
    expect(examples.length).toBeGreaterThan(0)
    const rulePages = markdownFiles(rulesDir).filter((f) => !f.endsWith('README.md'))
    expect(rulePages.length).toBeGreaterThan(0)
    const without = rulePages.filter((page) => !examples.some((ex) => ex.markdown === page))
    expect(without.map((f) => relative(root, f))).toEqual([])
  })

  it('skips no example: no TypeScript block under docs/ is marked no-run', () => {
    expect(skipped).toEqual([])
  })

  it('rule-page examples import only the core and node:assert/strict, print and assert', () => {
    const problems: string[] = []
    for (const ex of examples.filter((e) => e.markdown.startsWith(rulesDir + sep))) {
      const sources = [...ex.code.matchAll(/\bfrom\s+['"]([^'"]+)['"]|\bimport\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1] ?? m[2])
      const foreign = sources.filter((s) => s !== '@logit-perturb/core' && s !== 'node:assert/strict')
      if (foreign.length > 0) problems.push(`${ex.name}: imports ${foreign.join(', ')}`)
      if (!sources.includes('node:assert/strict')) problems.push(`${ex.name}: does not import node:assert/strict`)
      if (!/\bassert(\.\w+)?\(/.test(ex.code)) problems.push(`${ex.name}: asserts nothing`)
      if (!/\bconsole\.log\(/.test(ex.code)) problems.push(`${ex.name}: prints nothing`)
    }
    expect(problems).toEqual([])
  })

  it('every example type-checks', () => {
    const base = ts.readConfigFile(join(root, 'tsconfig.base.json'), ts.sys.readFile)
    expect(base.error).toBeUndefined()
    const files = [...fileOf.values()]
    const parsed = ts.parseJsonConfigFileContent(
      // As a user compiles them: `strict`, without the library's own `noUncheckedIndexedAccess`.
      { ...base.config, compilerOptions: { ...base.config.compilerOptions, noEmit: true, noUncheckedIndexedAccess: false }, files },
      ts.sys,
      root,
    )
    const program = ts.createProgram({ rootNames: files, options: parsed.options })
    const wanted = new Set(files.map((f) => resolve(f)))
    const messages = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file === undefined || wanted.has(resolve(d.file.fileName)))
      .map((d) => {
        const text = ts.flattenDiagnosticMessageText(d.messageText, '\n')
        if (d.file === undefined || d.start === undefined) return text
        const { line } = d.file.getLineAndCharacterOfPosition(d.start)
        const ex = examples.find((e) => fileOf.get(e.name) === resolve(d.file!.fileName))
        return `${ex ? relative(root, ex.markdown) : d.file.fileName}:${line + 1}: ${text}`
      })
    expect(messages).toEqual([])
  })

  for (const ex of examples) {
    it(ex.name, async () => {
      const printed: string[] = []
      const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
        printed.push(args.map(String).join(' '))
      })
      try {
        await import(/* @vite-ignore */ fileOf.get(ex.name)!)
      } catch (error) {
        const where = `${relative(root, ex.markdown)} (code from line ${ex.line})`
        const output = printed.length > 0 ? `\noutput before the failure:\n${printed.join('\n')}` : ''
        if (error instanceof Error) {
          error.message = `${where}: ${error.message}${output}`
          throw error
        }
        throw new Error(`${where}: ${String(error)}${output}`)
      } finally {
        log.mockRestore()
      }
    })
  }
})
