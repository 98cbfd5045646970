/**
 * The core's published shape, read from its manifest: no runtime dependency, side-effect free, ESM,
 * CJS and types. (test/consumer.test.ts builds, packs and installs every public package.) And the
 * README example runs.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runProcessOrThrow } from './support/process.js'

const root = join(import.meta.dirname, '..')
const core = join(root, 'packages/core')

describe('@logit-perturb/core as published', () => {
  it('has zero runtime dependencies and side-effect-free ESM, CJS and type entry points', () => {
    const pkg = JSON.parse(readFileSync(join(core, 'package.json'), 'utf8'))
    expect(pkg.dependencies ?? {}).toEqual({})
    expect(pkg.peerDependencies ?? {}).toEqual({})
    expect(pkg.sideEffects).toBe(false)
    expect(Object.keys(pkg.exports['.'])).toEqual(['@logit-perturb/source', 'import', 'require'])
    expect(Object.keys(pkg.publishConfig.exports['.'])).toEqual(['import', 'require'])
  })
})

describe('the README example', () => {
  it('prints the loss of every rule on the example batch', async () => {
    const out = await runProcessOrThrow('pnpm', ['--silent', 'example'], { cwd: root })
    for (const rule of ['ce', 'logit-adjustment', 'ldam', 'vs', 'lpl', 'official-longtail', 'official-balanced']) {
      expect(out).toContain(`"rule":"${rule}"`)
    }
    expect(out).not.toMatch(/NaN|Infinity/)
  })
})
