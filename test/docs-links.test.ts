/**
 * Every relative link and image of `docs/**\/*.md`, `README.md`, `CHANGELOG.md` and the public
 * packages' READMEs points to a file of the repository, and every `#anchor` (to another page or
 * within the page) to one of that page's headings, with GitHub's anchors (the same rule the docs
 * site uses, `githubSlug`). Links in code blocks and code spans are not links and are skipped; so
 * are absolute URLs. Code cites the spec as `docs/spec.md#` and a heading's anchor, which must exist
 * in docs/spec.md; nothing cites a spec outside the repository.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { githubSlug } from '../scripts/typedoc-github-anchors.mjs'
import { filesUnder, markdownFiles } from './support/files.js'
import { PUBLIC_PACKAGES } from './support/pack.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** The lines of a Markdown file outside fenced code blocks, with their 1-based numbers. */
function proseLines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = []
  let fence: string | undefined
  text.split(/\r?\n/).forEach((line, i) => {
    const m = /^ {0,3}(`{3,}|~{3,})/.exec(line)
    if (fence === undefined && m !== null) fence = m[1]!
    else if (fence !== undefined && new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`).test(line))
      fence = undefined
    else if (fence === undefined) out.push({ line: i + 1, text: line })
  })
  return out
}

/** The anchors GitHub gives the headings of a Markdown file (repeated headings get `-1`, `-2`, …). */
function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  for (const { text } of proseLines(readFileSync(file, 'utf8'))) {
    const m = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(text)
    if (m === null) continue
    const plain = m[1]!
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
      .replace(/`([^`]*)`/g, '$1') // code spans: their content
      .replace(/<[^>]+>/g, '') // inline HTML
    const base = githubSlug(plain.trim())
    let slug = base
    while (anchors.has(slug)) {
      const n = (seen.get(base) ?? 0) + 1
      seen.set(base, n)
      slug = `${base}-${n}`
    }
    anchors.add(slug)
  }
  return anchors
}

/** The link targets of one line: `[text](target)`, `![alt](target)`, outside code spans. */
function linksOf(line: string): string[] {
  const prose = line.replace(/(`+)(?:(?!\1).)+?\1/g, '')
  return [...prose.matchAll(/!?\[(?:[^\]]|\][^(])*?\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)]
    .map((m) => m[1]!)
    .concat([...prose.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/g)].map((m) => m[1]!))
}

const pages = [
  join(root, 'README.md'),
  join(root, 'CHANGELOG.md'),
  ...PUBLIC_PACKAGES.map((p) => join(root, 'packages', p, 'README.md')),
  ...markdownFiles(join(root, 'docs')),
]

describe('docs links', () => {
  it('finds the pages and their links', () => {
    expect(pages.length).toBeGreaterThan(10)
  })

  it('every relative link resolves to a file, and every anchor to a heading', () => {
    const anchorCache = new Map<string, Set<string>>()
    const anchors = (file: string) => {
      if (!anchorCache.has(file)) anchorCache.set(file, anchorsOf(file))
      return anchorCache.get(file)!
    }
    const problems: string[] = []
    let checked = 0
    for (const page of pages) {
      for (const { line, text } of proseLines(readFileSync(page, 'utf8'))) {
        for (const target of linksOf(text)) {
          if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // http:, https:, mailto:
          checked++
          const where = `${relative(root, page)}:${line}: ${target}`
          const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined]
          const file = pathPart === '' ? page : resolve(dirname(page), decodeURIComponent(pathPart))
          if (!file.startsWith(root)) {
            problems.push(`${where} (outside the repository)`)
            continue
          }
          if (!existsSync(file)) {
            problems.push(`${where} (no such file)`)
            continue
          }
          if (anchor !== undefined && anchor !== '') {
            if (!statSync(file).isFile() || !file.endsWith('.md')) problems.push(`${where} (an anchor into a file that is not Markdown)`)
            else if (!anchors(file).has(decodeURIComponent(anchor))) problems.push(`${where} (no heading with this anchor)`)
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(50)
    expect(problems).toEqual([])
  })
})

describe('citations of the spec', () => {
  const sources = ['packages', 'test', 'scripts', 'bench', 'examples']
    .flatMap((dir) => ['.ts', '.mjs'].flatMap((suffix) => filesUnder(join(root, dir), suffix)))
    .filter((file) => !file.includes(`${join('packages', 'playground', 'dist')}`) && !/[/\\]dist[/\\]/.test(file))

  it('every anchor of docs/spec.md cited in code names one of its headings', () => {
    const headings = anchorsOf(join(root, 'docs', 'spec.md'))
    const problems: string[] = []
    let cited = 0
    for (const file of sources) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((text, i) => {
          for (const m of text.matchAll(/docs\/spec\.md#([\w-]+)/g)) {
            cited++
            if (!headings.has(m[1]!)) problems.push(`${relative(root, file)}:${i + 1}: #${m[1]} is not a heading of docs/spec.md`)
          }
        })
    }
    expect(cited).toBeGreaterThan(20)
    expect(problems).toEqual([])
  })

  it('nothing cites a spec file outside the repository', () => {
    const outside = [...sources, ...pages].filter((file) => /\bSPEC\.md\b/.test(readFileSync(file, 'utf8')))
    expect(outside.map((file) => relative(root, file))).toEqual([])
  })
})
