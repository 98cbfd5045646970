/**
 * The test suite keeps its workers responsive: no test file runs a child process synchronously.
 * A worker blocked for a minute cannot answer vitest's RPC and the whole run fails, whatever the tests
 * said (see test/support/process.ts).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..')

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : tsFiles(path)
    return e.name.endsWith('.ts') ? [path] : []
  })
}

const testFolders = [join(root, 'test'), ...readdirSync(join(root, 'packages')).map((p) => join(root, 'packages', p, 'test'))]

describe('test hygiene', () => {
  it('no test file runs a child process synchronously', () => {
    const files = testFolders.flatMap((dir) => { try { return tsFiles(dir) } catch { return [] } })
    expect(files.length).toBeGreaterThan(30)
    const offenders = files
      .filter((f) => f !== import.meta.filename)
      .filter((f) => /\b(spawnSync|execFileSync|execSync)\s*\(/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(root, f))
    expect(offenders).toEqual([])
  })
})
