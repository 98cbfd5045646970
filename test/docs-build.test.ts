/**
 * The docs site, as `pnpm docs:build` makes it: TypeDoc with the root `typedoc.json` (the API of
 * core, tfjs and onnx from their doc comments, and the guide pages of `docs/` as documents). The
 * build must produce no warning and no error: an undocumented export, a broken `{@link}`, a relative
 * link to a missing file or a missing `#anchor` fails this test. The site goes to a temporary folder.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Application, ConsoleLogger, LogLevel } from 'typedoc'
import { afterAll, describe, expect, it } from 'vitest'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const out = mkdtempSync(join(tmpdir(), 'docs-site-'))

afterAll(() => rmSync(out, { recursive: true, force: true }))

/** Keeps TypeDoc's warnings and errors (with their file positions) instead of printing them. */
class Collector extends ConsoleLogger {
  readonly messages: string[] = []

  override log(message: string, level: Exclude<LogLevel, LogLevel.None>): void {
    if (level >= LogLevel.Warn) this.messages.push(`${LogLevel[level]}: ${message}`)
  }
}

function guidePages(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return guidePages(path)
    return e.isFile() && e.name.endsWith('.md') ? [path] : []
  })
}

describe('docs site (TypeDoc)', () => {
  it('builds the guide and the API reference without a warning', async () => {
    const app = await Application.bootstrapWithPlugins({ options: join(root, 'typedoc.json'), logLevel: LogLevel.Warn })
    expect(app.logger.hasErrors() || app.logger.hasWarnings(), 'TypeDoc options').toBe(false)

    // The configuration that makes an undocumented export fail the build.
    expect(app.options.getValue('treatWarningsAsErrors')).toBe(true)
    expect(app.options.getValue('validation').notDocumented).toBe(true)
    expect(app.options.getValue('packagesRequiringDocumentation')).toEqual(
      expect.arrayContaining(['@logit-perturb/core', '@logit-perturb/tfjs', '@logit-perturb/onnx']),
    )

    const logger = new Collector()
    app.logger = logger
    const project = await app.convert()
    expect(project, logger.messages.join('\n')).toBeDefined()
    app.validate(project!)
    await app.generateDocs(project!, out)
    expect(logger.messages.map((m) => m.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), ''))).toEqual([])

    // One page per package, and every guide page of docs/ in the site (docs/README.md is its index).
    for (const pkg of ['core', 'tfjs', 'onnx']) expect(existsSync(join(out, 'modules', `_logit-perturb_${pkg}.html`)), pkg).toBe(true)
    expect(existsSync(join(out, 'index.html'))).toBe(true)
    const missing = guidePages(join(root, 'docs'))
      .map((f) => relative(join(root, 'docs'), f).split(sep).join('/'))
      .filter((f) => f !== 'README.md')
      .filter((f) => !existsSync(join(out, 'documents', `${f.replace(/\.md$/, '').replace(/\//g, '_')}.html`)))
    expect(missing).toEqual([])
  })
})
