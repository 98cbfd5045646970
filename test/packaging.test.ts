/**
 * The published shape of the packages: tsup builds ESM, CJS and types; the core has no runtime
 * dependency; the built entry points compute what the sources compute. And the README's example runs.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import * as source from '@logit-perturb/core'
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
  })

  it('builds with tsup, and the ESM and CJS builds agree with the sources', async () => {
    await runProcessOrThrow('pnpm', ['run', 'build'], { cwd: core })
    const esm = (await import(pathToFileURL(join(core, 'dist/index.js')).href)) as typeof source
    const cjs = createRequire(import.meta.url)(join(core, 'dist/index.cjs')) as typeof source
    const spec = { rule: 'lpl', split: 'prior', classCounts: [500, 50, 5] }
    const value = (m: typeof source) =>
      m.createLoss(m.referenceOps, spec)(m.referenceOps.constant([1, 2, 0, 0, 1, 3], [2, 3]), m.referenceOps.constant([0, 2], [2], 'int32')).data[0]
    expect(value(esm)).toBe(value(source))
    expect(value(cjs)).toBe(value(source))
    expect(readFileSync(join(core, 'dist/index.d.ts'), 'utf8')).toMatch(/export \{[^}]*createLoss/)
    expect(new cjs.LogitPerturbError('INVALID_SPEC', 'x')).toBeInstanceOf(Error)
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
