/**
 * The golden runner as a user meets it: `pnpm test:golden` over any folder of fixture files, with a
 * line per backend (the exported PyTorch modules among them), a failure when a case disagrees, and a
 * failure when no case ran.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runProcess } from './support/process.js'

const root = join(import.meta.dirname, '..')
const shared = join(root, '..', 'shared', 'fixtures', 'golden-7.json')

async function runGolden(dir: string): Promise<{ status: number | null; out: string }> {
  const r = await runProcess('pnpm', ['--silent', 'test:golden'], { cwd: root, env: { ...process.env, GOLDEN_DIR: dir } })
  return { status: r.status, out: r.stdout + r.stderr }
}

function folderWith(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'golden-'))
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), JSON.stringify(content))
  return dir
}

describe('pnpm test:golden', () => {
  const fixture = JSON.parse(readFileSync(shared, 'utf8')) as { cases: { kind: string; loss: number }[] }
  const quick = fixture.cases.filter((c) => c.kind === 'logit-adjustment' || c.kind === 'ldam')

  it('reads every golden-*.json of GOLDEN_DIR, whatever the file names, and ignores other files', async () => {
    const dir = folderWith({
      'golden-a.json': { ...fixture, cases: quick.slice(0, 2) },
      'golden-b.json': { ...fixture, cases: quick.slice(2) },
      'notes.json': { cases: 'not a fixture' },
    })
    const { status, out } = await runGolden(dir)
    expect(out).toContain(`golden reference: ${quick.length} passed, 0 failed`)
    expect(status).toBe(0)
  })

  it('fails, naming the case, when a stored number disagrees', async () => {
    const tampered = quick.map((c, i) => (i === 1 ? { ...c, loss: c.loss * (1 + 1e-6) } : c))
    const { status, out } = await runGolden(folderWith({ 'golden-t.json': { ...fixture, cases: tampered } }))
    expect(out).toContain(`golden reference: ${quick.length - 1} passed, 1 failed`)
    expect(out).toContain(`golden pytorch: ${quick.length - 1} passed, 1 failed`)
    expect(out).toMatch(/golden-t\.json#1 .*loss/)
    expect(status).toBe(1)
  })

  it('fails when no case ran', async () => {
    const { status, out } = await runGolden(folderWith({}))
    expect(out).toMatch(/no golden-\*\.json cases/)
    expect(status).toBe(1)
  })
})

describe('the multi-label golden file (test/golden/fixtures)', () => {
  const dir = join(root, 'test', 'golden', 'fixtures')
  const file = JSON.parse(readFileSync(join(dir, 'golden-multilabel.json'), 'utf8')) as { cases: { kind: string; loss: number }[] }
  const backends = ['reference', 'tfjs-cpu', 'tfjs-wasm', 'onnx-wasm', 'pytorch']

  it('passes on every backend, with a case of each multi-label kind', async () => {
    expect(new Set(file.cases.map((c) => c.kind))).toEqual(new Set(['bce', 'logit-adjusted-bce', 'db-negative-tolerant', 'lpl-multilabel']))
    const { status, out } = await runGolden(dir)
    for (const b of backends) expect(out).toContain(`golden ${b}: ${file.cases.length} passed, 0 failed`)
    expect(status).toBe(0)
  })

  it('fails on every backend when a multi-label number is changed', async () => {
    const tampered = file.cases.map((c, i) => (i === 4 ? { ...c, loss: c.loss * (1 + 1e-3) } : c))
    const { status, out } = await runGolden(folderWith({ 'golden-ml.json': { ...file, cases: tampered } }))
    for (const b of backends) expect(out).toContain(`golden ${b}: ${file.cases.length - 1} passed, 1 failed`)
    expect(out).toMatch(/golden-ml\.json#4 \(db-negative-tolerant\).*loss/)
    expect(status).toBe(1)
  })
})
