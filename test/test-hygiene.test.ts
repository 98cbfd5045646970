/**
 * The test suite keeps its workers responsive: no test file, nor the test-only conformance package
 * the suites import (its PyTorch runner starts Python), runs a child process synchronously.
 * A worker blocked for a minute cannot answer vitest's RPC and the whole run fails, whatever the tests
 * said (see test/support/process.ts).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { filesUnder } from './support/files.js'

const root = join(import.meta.dirname, '..')

const testFolders = [
  join(root, 'test'),
  join(root, 'packages', 'conformance', 'src'),
  ...readdirSync(join(root, 'packages')).map((p) => join(root, 'packages', p, 'test')),
]

describe('test hygiene', () => {
  it('no test file runs a child process synchronously', () => {
    const files = testFolders.flatMap((dir) => filesUnder(dir, '.ts'))
    expect(files.length).toBeGreaterThan(30)
    const offenders = files
      .filter((f) => /\b(spawnSync|execFileSync|execSync)\s*\(/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(root, f))
    expect(offenders).toEqual([])
  })
})
