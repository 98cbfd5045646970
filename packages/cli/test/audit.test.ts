import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { exportTorchModule } from '@logit-perturb/pytorch'
import { afterAll, describe, expect, it } from 'vitest'
import { lpl } from './run.js'

/**
 * `lpl audit` as a user runs it: Python files with modules, the verdict and its exit status, the
 * JSON report, and one clear line with status 2 for every kind of bad input.
 */
const dir = mkdtempSync(join(tmpdir(), 'lpl-audit-test-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const COUNTS = [500, 200, 80, 30, 10]
const laSpec = join(dir, 'la.json')
writeFileSync(laSpec, JSON.stringify({ rule: 'logit-adjustment', classCounts: COUNTS, tau: 1 }))
const modules = join(dir, 'modules.py')
writeFileSync(
  modules,
  `import torch
import torch.nn.functional as F

PRIOR = torch.tensor(${JSON.stringify(COUNTS)}, dtype=torch.float64)
PRIOR = PRIOR / PRIOR.sum()


class LogitAdjusted(torch.nn.Module):
    def forward(self, logits, labels):
        return F.cross_entropy(logits + PRIOR.log().to(logits.dtype), labels)


class DetachedNormalizer(torch.nn.Module):
    """The log-sum-exp detached: the same loss, the gradient of its target term only."""
    def forward(self, logits, labels):
        z = logits + PRIOR.log().to(logits.dtype)
        return (torch.logsumexp(z, 1).detach() - z.gather(1, labels[:, None])[:, 0]).mean()


class IgnoredInTheMean(torch.nn.Module):
    """Ignored labels add nothing to the sum, but the mean divides by every row."""
    def forward(self, logits, labels):
        z = logits + PRIOR.log().to(logits.dtype)
        return F.cross_entropy(z, labels, reduction='sum') / labels.shape[0]


class NeedsArgument(torch.nn.Module):
    def __init__(self, width):
        super().__init__()


class FailsAlways(torch.nn.Module):
    def forward(self, logits, labels):
        raise RuntimeError('no loss here')
`,
)

describe('lpl audit', () => {
  it('an equivalent module: status 0, and --json gives the verdict, the largest errors and the findings', async () => {
    const r = await lpl('audit', '--spec', laSpec, '--python', `${modules}:LogitAdjusted`, '--json')
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    const report = JSON.parse(r.stdout)
    expect(report).toMatchObject({ verdict: 'equivalent', rule: 'logit-adjustment', dtype: 'float64', classes: 5 })
    expect(report.largestLossError.value).toBeLessThan(1e-9)
    expect(typeof report.largestGradientError.batch).toBe('string')
    expect(report.findings.map((f: { kind: string }) => f.kind)).toEqual(['per-row-shift'])
    expect(report.batches.map((b: { batch: string }) => b.batch)).toContain('extreme logits')
  }, 60_000)

  it('a module that detaches its normalizer: status 1, a gradient cut named', async () => {
    const r = await lpl('audit', '--spec', laSpec, '--python', `${modules}:DetachedNormalizer`)
    expect(r.status).toBe(1)
    expect(r.stdout).toMatch(/: differs\n/)
    expect(r.stdout).toMatch(/^fault: the implementation's gradient is not the derivative of its loss/m)
  }, 60_000)

  it('ignored labels counted in the mean: differs on that batch only', async () => {
    const r = await lpl('audit', '--spec', laSpec, '--python', `${modules}:IgnoredInTheMean`, '--json')
    expect(r.status).toBe(1)
    const report = JSON.parse(r.stdout)
    const differing = report.batches.filter((b: { lossError: number; tolerance: number }) => b.lossError > b.tolerance)
    expect(differing.map((b: { batch: string }) => b.batch)).toEqual(['ignored labels'])
    expect(report.findings[0].batch).toBe('ignored labels')
  }, 60_000)

  it('statistics per worker where the spec sums them: found in two workers', async () => {
    const spec = { rule: 'lade', classCounts: COUNTS } as const
    const exported = exportTorchModule(spec)
    const file = join(dir, 'lade.py')
    writeFileSync(
      file,
      `${exported.source}\n\nclass PerShard(${exported.className}):\n    def __init__(self):\n        super().__init__(all_reduce=False)\n`,
    )
    const specFile = join(dir, 'lade.json')
    writeFileSync(specFile, JSON.stringify(spec))
    const whole = JSON.parse((await lpl('audit', '--spec', specFile, '--python', `${file}:${exported.className}`, '--json')).stdout)
    expect(whole.verdict).toBe('equivalent')
    expect(whole.batches.map((b: { batch: string }) => b.batch)).toContain('two workers')
    const r = await lpl('audit', '--spec', specFile, '--python', `${file}:PerShard`, '--json')
    expect(r.status).toBe(1)
    const report = JSON.parse(r.stdout)
    expect(report.findings[0]).toMatchObject({ kind: 'per-shard-statistics', batch: 'two workers' })
    // One process computes the spec: only the two workers differ.
    expect(
      report.batches.filter((b: { batch: string; gradientError: number; tolerance: number }) => b.gradientError > b.tolerance),
    ).toHaveLength(1)
  }, 120_000)

  it('bad input: status 2 and one line naming it', async () => {
    const badSpec = join(dir, 'bad.json')
    writeFileSync(badSpec, JSON.stringify({ rule: 'logit-adjustment', classCounts: COUNTS, tau: -1 }))
    const cases: [string[], RegExp][] = [
      [['--spec', laSpec, '--python', join(dir, 'missing.py:X')], /--python: .*missing\.py does not exist/],
      [['--spec', laSpec, '--python', modules], /--python takes FILE\.py:CLASS/],
      [['--spec', laSpec, '--python', `${modules}:Nope`], /modules\.py has no Nope/],
      [['--spec', laSpec, '--python', `${modules}:NeedsArgument`], /NeedsArgument\(\) does not construct: TypeError/],
      [
        ['--spec', laSpec, '--python', `${modules}:FailsAlways`],
        /FailsAlways\.forward fails on the first batch: RuntimeError: no loss here/,
      ],
      [['--spec', badSpec, '--python', `${modules}:LogitAdjusted`], /bad\.json: INVALID_PARAMETER: tau: must be ≥ 0/],
      [['--spec', join(dir, 'none.json'), '--python', `${modules}:LogitAdjusted`], /cannot read .*none\.json/],
      [['--spec', laSpec], /give one of --python FILE\.py:CLASS and --js FILE\.mjs:EXPORT/],
      [['--spec', laSpec, '--js', `${modules}:x`, '--inputs', 'lists'], /--inputs is tensors or arrays/],
    ]
    for (const [args, message] of cases) {
      const r = await lpl('audit', ...args)
      expect(r.status, args.join(' ')).toBe(2)
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1)
      expect(r.stderr, args.join(' ')).toMatch(message)
    }
  }, 180_000)

  it('a JavaScript file that does not load, or lacks the export: status 2', async () => {
    const file = join(dir, 'loss.mjs')
    writeFileSync(file, 'export const notAFunction = 3\n')
    const broken = join(dir, 'broken.mjs')
    writeFileSync(broken, 'export const = \n')
    for (const [target, message] of [
      [`${file}:notAFunction`, /exports no function notAFunction/],
      [`${broken}:f`, /broken\.mjs does not load: SyntaxError/],
    ] as const) {
      const r = await lpl('audit', '--spec', laSpec, '--js', target, '--inputs', 'arrays')
      expect(r.status).toBe(2)
      expect(r.stderr).toMatch(message)
    }
  }, 60_000)
})
