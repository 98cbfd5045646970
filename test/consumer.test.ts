/**
 * The published packages as a user gets them. Every public package is built and packed
 * (`pnpm pack`, as `pnpm publish` would publish it), and the tarballs are installed with npm into
 * fresh projects outside the workspace, third-party packages coming from the registry. Each project
 * installs one install line of the README's "Use it in your project" section, as written, with the
 * tarballs standing in for `@logit-perturb/*` (the named package directly, its `@logit-perturb`
 * dependencies through npm `overrides`, since they are not published yet). There:
 *
 * - the tarballs: no dependency on a private package, every module their bundles import declared,
 *   README, LICENSE, no sources, exports without the workspace-only condition, publint and attw;
 * - without the optional peers: the types compile (`skipLibCheck: false`, `bundler` and `node16`),
 *   and each missing peer gives `MISSING_PEER_DEPENDENCY` naming what to install;
 * - Node: an ES module and a CommonJS script train a tfjs-layers model with `layersLoss` and a custom
 *   loop with LPL, and run an exported ONNX loss, agreeing with the float64 reference; each package
 *   README's example runs; a file using every package type-checks;
 * - the command line: `npx lpl --help`, `npx lpl verify` on a spec the package ships, and `npx lpl audit` of a
 *   Python module against it;
 * - PyTorch: the package README's example writes a module, which Debian's torch imports and trains with;
 * - the browser: a Vite production build of a page that imports `@logit-perturb/tfjs`.
 *
 * Installs share npm's cache, so a second run needs the registry only for what changed.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { builtinModules } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLoss, mulberry32, referenceOps } from '@logit-perturb/core'
import type { RuleInput } from '@logit-perturb/core'
import { torchPython } from '@logit-perturb/conformance/torch'
import { PUBLIC_PACKAGES, type PublicPackage, packPublicPackages } from './support/pack.js'
import { runProcess, runProcessOrThrow } from './support/process.js'

const root = join(import.meta.dirname, '..')
const projectFiles = join(import.meta.dirname, 'consumer', 'project')
const browserFiles = join(import.meta.dirname, 'consumer', 'browser')
const versionOf = (name: string): string => JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version
/** The developer tools a user has in their own project: the workspace's versions, for reproducible checks. */
const TYPESCRIPT = `typescript@${versionOf('typescript')}`
const VITE = `vite@${versionOf('vite')}`
/** Node's types, which a user writing files from TypeScript has. */
const NODE_TYPES = `@types/node@${versionOf('@types/node')}`
const INSTALL_TIMEOUT = 300_000

/**
 * The environment of a user's shell: this process's, without what pnpm sets for the script it runs
 * (`npm_lifecycle_*`, `npm_package_*`, pnpm-only settings such as `npm_config_verify_deps_before_run`,
 * which npm warns about). npm settings a machine may need to reach its registry are kept.
 */
const KEPT_NPM_SETTINGS = /^npm_config_(registry|cache|userconfig|globalconfig|https?_proxy|proxy|noproxy|strict_ssl|cafile|ca)$/i
const userEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !/^(npm|pnpm)_/i.test(key) || KEPT_NPM_SETTINGS.test(key)),
)
/** Runs a command in a consumer project, in {@link userEnv}. */
const inProject = (dir: string, timeout?: number) => ({ cwd: dir, env: userEnv, ...(timeout === undefined ? {} : { timeout }) })

let work = ''
let tarballs = {} as Record<PublicPackage, string>
const unpacked = {} as Record<PublicPackage, string>

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'logit-perturb-consumer-'))
  mkdirSync(join(work, 'packs'))
  tarballs = await packPublicPackages(join(work, 'packs'))
  for (const name of PUBLIC_PACKAGES) {
    unpacked[name] = join(work, 'unpacked', name)
    mkdirSync(unpacked[name], { recursive: true })
    await runProcessOrThrow('tar', ['-xzf', tarballs[name], '-C', unpacked[name], '--strip-components=1'], { cwd: work })
  }
  // The projects install side by side (npm's cache takes concurrent installs); each block awaits its own.
  startProject('bare', () => [
    '@logit-perturb/core',
    '@logit-perturb/tfjs',
    '@logit-perturb/onnx',
    '@tensorflow/tfjs-core',
    '@tensorflow/tfjs-backend-cpu',
    TYPESCRIPT,
  ])
  startProject('node', () => [...readmeLine('in Node'), ...readmeLine('ONNX'), TYPESCRIPT])
  startProject('cli', () => readmeLine('command line'))
  startProject('pytorch', () => [...readmeLine('PyTorch'), TYPESCRIPT, NODE_TYPES])
  startProject('browser', () => [...readmeLine('in the browser'), VITE])
}, 240_000)

const projects = new Map<string, Promise<string>>()

/** Starts installing a project ({@link npmProject}); its block awaits {@link project}. */
function startProject(name: string, packages: () => string[]): void {
  const installing = (async () => npmProject(name, packages()))()
  // Awaited later by the block; marked handled now so that a failure is reported there, not as unhandled.
  installing.catch(() => undefined)
  projects.set(name, installing)
}

/** The folder of a started project, once installed. */
function project(name: string): Promise<string> {
  const installing = projects.get(name)
  if (installing === undefined) throw new Error(`project ${name} was not started (did packing fail?)`)
  return installing
}

// Four projects' node_modules: removed asynchronously (a synchronous removal of that many files
// blocks the worker), with time for a loaded machine.
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true })
}, 120_000)

/** The packed `package.json` of a public package. */
interface Manifest {
  name: string
  exports?: unknown
  engines?: Record<string, string>
  publishConfig?: Record<string, unknown>
  dependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
}
const manifestOf = (name: PublicPackage): Manifest => JSON.parse(readFileSync(join(unpacked[name], 'package.json'), 'utf8'))

/** Every file of a folder, as paths relative to it. */
function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  )
}

/** The packages a bundle imports: bare specifiers of static and dynamic imports and requires, reduced to package names. */
function importedPackages(code: string): Set<string> {
  const specifiers = [
    ...code.matchAll(/\b(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/g),
    ...code.matchAll(/\bimport\s*['"]([^'"]+)['"]/g),
    ...code.matchAll(/\b(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!)
  const builtins = new Set(builtinModules)
  return new Set(
    specifiers
      .filter((s) => !s.startsWith('.') && !s.startsWith('/') && !s.startsWith('node:'))
      .map((s) =>
        s
          .split('/')
          .slice(0, s.startsWith('@') ? 2 : 1)
          .join('/'),
      )
      .filter((name) => !builtins.has(name)),
  )
}

describe('the tarballs', () => {
  it('depend on no private package, and their bundles import only packages they declare', () => {
    // The scanner finds what the command line's entry point does import.
    expect([...importedPackages(readFileSync(join(unpacked.cli, 'dist', 'main.js'), 'utf8'))]).toEqual(
      expect.arrayContaining(['@logit-perturb/core']),
    )
    const problems: string[] = []
    for (const name of PUBLIC_PACKAGES) {
      const m = manifestOf(name)
      const declared = new Set([...Object.keys(m.dependencies ?? {}), ...Object.keys(m.peerDependencies ?? {})])
      for (const dep of declared) {
        if (dep.startsWith('@logit-perturb/') && !PUBLIC_PACKAGES.some((p) => `@logit-perturb/${p}` === dep)) {
          problems.push(`${m.name} depends on the private package ${dep}`)
        }
      }
      for (const file of listFiles(join(unpacked[name], 'dist')).filter((f) => /\.[cm]?js$/.test(f))) {
        for (const imported of importedPackages(readFileSync(join(unpacked[name], 'dist', file), 'utf8'))) {
          if (!declared.has(imported)) problems.push(`${m.name}: dist/${file} imports ${imported}, which it does not declare`)
        }
      }
    }
    expect(problems).toEqual([])
  })

  it('each ship a README, the MIT LICENSE, the built code without its sources, and exports without the workspace condition', () => {
    const license = readFileSync(join(root, 'LICENSE'), 'utf8')
    expect(license).toMatch(/^MIT License/)
    for (const name of PUBLIC_PACKAGES) {
      const files = listFiles(unpacked[name])
      const m = manifestOf(name)
      expect(files, name).toContain('README.md')
      expect(readFileSync(join(unpacked[name], 'LICENSE'), 'utf8'), name).toBe(license)
      expect(
        files.filter((f) => f.startsWith('src/') || (f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.endsWith('.d.cts'))),
        name,
      ).toEqual([])
      expect(JSON.stringify(m.exports), name).not.toContain('@logit-perturb/source')
      expect(m.engines?.node, name).toBe('>=20')
      expect(m.publishConfig?.access, name).toBe('public')
    }
  })

  it('pass publint and arethetypeswrong', async () => {
    for (const name of PUBLIC_PACKAGES) {
      await runProcessOrThrow('pnpm', ['exec', 'publint', 'run', tarballs[name], '--strict'], { cwd: root })
      // The command line is an ES module only: its CommonJS resolution is not a problem.
      const profile = name === 'cli' ? ['--profile', 'esm-only'] : []
      await runProcessOrThrow('pnpm', ['exec', 'attw', tarballs[name], '--format', 'ascii', ...profile], { cwd: root })
    }
  }, 120_000)
})

/** The `npm install` lines of the README's "Use it in your project" section, by their comment. */
function readmeInstallLines(): { label: string; packages: string[] }[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const section = readme.split(/^## /m).find((s) => s.startsWith('Use it in your project'))
  if (section === undefined) throw new Error('README.md has no "Use it in your project" section')
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!.split('\n')
  return block.flatMap((line, i) => {
    const m = /^npm install (.+)$/.exec(line.trim())
    return m ? [{ label: block[i - 1]!.replace(/^#\s*/, ''), packages: m[1]!.trim().split(/\s+/) }] : []
  })
}

/** The packages of the README install line whose comment contains `label`. */
function readmeLine(label: string): string[] {
  const lines = readmeInstallLines().filter((l) => l.label.includes(label))
  if (lines.length !== 1) throw new Error(`README.md has ${lines.length} install lines labelled "${label}"`)
  return lines[0]!.packages
}

/**
 * A fresh npm project in the temporary folder with `packages` installed: `@logit-perturb/*` names
 * replaced by their tarballs, and the tarballs overriding any `@logit-perturb` dependency that is not
 * named (the registry does not have them). Files of `test/consumer/project` are copied in.
 */
async function npmProject(name: string, packages: readonly string[]): Promise<string> {
  const dir = join(work, name)
  mkdirSync(dir)
  const overrides = Object.fromEntries(PUBLIC_PACKAGES.map((p) => [`@logit-perturb/${p}`, `file:${tarballs[p]}`]))
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name}`, private: true, type: 'module', overrides }, null, 2))
  cpSync(projectFiles, dir, { recursive: true })
  await npmInstall(dir, packages)
  return dir
}

/**
 * Installs `packages` into a project made by {@link npmProject}; a `@logit-perturb` package named
 * here is installed from its tarball, and its override (npm refuses one beside a direct dependency) dropped.
 */
async function npmInstall(dir: string, packages: readonly string[]): Promise<void> {
  const manifestFile = join(dir, 'package.json')
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { overrides: Record<string, string> }
  const specs = packages.map((p) => {
    const local = PUBLIC_PACKAGES.find((name) => p === `@logit-perturb/${name}`)
    if (local === undefined) return p
    delete manifest.overrides[p]
    return tarballs[local]
  })
  writeFileSync(manifestFile, JSON.stringify(manifest, null, 2))
  await runProcessOrThrow('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...specs], inProject(dir, INSTALL_TIMEOUT))
}

/**
 * Third-party packages whose own declarations fail `tsc` under `strict` with `skipLibCheck: false`,
 * whatever imports them: tfjs-layers 4.22 (TS2411 in its Keras config types, TS2420 in LayersModel).
 * Their errors are left out; an error anywhere else, in this library's declarations or in the user's
 * file, fails the check.
 */
const THIRD_PARTY_TYPE_ERRORS = ['node_modules/@tensorflow/tfjs-layers/']

/**
 * Writes a tsconfig for one module resolution (strict, `skipLibCheck: false`, the default `@types`)
 * and type-checks `files` with it, emitting to `emitTo` if given. Resolves with the errors that
 * {@link THIRD_PARTY_TYPE_ERRORS} left out; rejects with any other.
 */
async function typeCheck(dir: string, resolution: 'bundler' | 'node16', files: readonly string[], emitTo?: string): Promise<string[]> {
  const compilerOptions = {
    target: 'es2022',
    lib: ['es2022', 'dom'],
    module: resolution === 'bundler' ? 'esnext' : 'node16',
    moduleResolution: resolution,
    strict: true,
    skipLibCheck: false,
    ...(emitTo === undefined ? { noEmit: true } : { outDir: emitTo, noEmitOnError: false }),
  }
  const config = `tsconfig.${resolution}${emitTo === undefined ? '' : '.emit'}.json`
  writeFileSync(join(dir, config), JSON.stringify({ compilerOptions, files }, null, 2))
  const r = await runProcess('npx', ['tsc', '-p', config], inProject(dir))
  // One error per line that names a file; the indented lines after it are its details.
  const errors = r.stdout.split(/\n(?=\S)/).filter((e) => e.trim() !== '')
  const leftOut = errors.filter((e) => THIRD_PARTY_TYPE_ERRORS.some((prefix) => e.startsWith(prefix)))
  const counted = errors.filter((e) => !leftOut.includes(e))
  if (counted.length > 0 || (r.status !== 0 && errors.length === 0)) {
    throw new Error(`tsc -p ${config} (${files.join(', ')}):\n${counted.join('\n')}${r.stderr}`)
  }
  return leftOut
}

/** The last line of a script's output, parsed: the scripts print one JSON line of results. */
async function runJson<T>(dir: string, script: string): Promise<T> {
  const out = await runProcessOrThrow('node', [script], inProject(dir))
  return JSON.parse(out.trim().split('\n').at(-1)!) as T
}

describe('without the optional peers (onnxruntime-web, tfjs-layers)', () => {
  let dir = ''
  beforeAll(async () => {
    dir = await project('bare')
  }, INSTALL_TIMEOUT)

  it('installs neither peer', () => {
    const installed = readdirSync(join(dir, 'node_modules'))
    expect(installed).not.toContain('onnxruntime-web')
    expect(readdirSync(join(dir, 'node_modules', '@tensorflow'))).not.toContain('tfjs-layers')
  })

  it.each(['bundler', 'node16'] as const)(
    'the types of core, tfjs and onnx compile (skipLibCheck false, moduleResolution %s)',
    async (resolution) => {
      expect(await typeCheck(dir, resolution, ['bare-types.ts'])).toEqual([])
    },
    60_000,
  )

  it('exports still work, and each missing peer gives MISSING_PEER_DEPENDENCY naming the package', async () => {
    const r = await runJson<Record<string, { name?: string; code?: string; message?: string } | number>>(dir, 'missing-peers.mjs')
    expect(r.exportedBytes).toBeGreaterThan(100)
    expect(r.forward).toBeCloseTo(Math.log(1 + Math.E), 5)
    for (const key of ['onnx', 'onnxAgain']) {
      expect(r[key]).toMatchObject({ name: 'LogitPerturbError', code: 'MISSING_PEER_DEPENDENCY' })
      expect((r[key] as { message: string }).message).toContain('npm install onnxruntime-web')
    }
    expect(r.tfjs).toMatchObject({ name: 'LogitPerturbError', code: 'MISSING_PEER_DEPENDENCY' })
    expect((r.tfjs as { message: string }).message).toContain('@tensorflow/tfjs-layers')
  }, 60_000)
})

describe('the README: TensorFlow.js and ONNX in Node', () => {
  let dir = ''
  beforeAll(async () => {
    dir = await project('node')
  }, INSTALL_TIMEOUT)

  interface Scenario {
    fitLosses: number[]
    loopLosses: number[]
    reference: number
    tfjs: number
    onnx: number
    entries: { broadcast: number[]; traces: string; error: number }
    tensorsLeft: number
  }
  const spec = { rule: 'lpl', split: 'prior', classCounts: [60, 15, 5] } satisfies RuleInput

  it.each(['esm.mjs', 'cjs.cjs'])(
    '%s: model.fit with layersLoss and a custom LPL loop train; reference, tfjs and ONNX agree',
    async (script) => {
      const r = await runJson<Scenario>(dir, script)
      expect(r.fitLosses.every(Number.isFinite) && r.loopLosses.every(Number.isFinite)).toBe(true)
      expect(r.fitLosses.at(-1)!).toBeLessThan(0.8 * r.fitLosses[0]!)
      expect(r.loopLosses.at(-1)!).toBeLessThan(0.8 * r.loopLosses[0]!)
      // The installed float64 reference computes what the workspace's sources compute, to the bit,
      // on the batch the script builds (mulberry32 is part of the core).
      expect(r.reference).toBe(referenceOnScenarioBatch(spec))
      expect(Math.abs(r.tfjs - r.reference) / r.reference).toBeLessThan(1e-4)
      expect(Math.abs(r.onnx - r.reference) / r.reference).toBeLessThan(1e-4)
      expect(r.tensorsLeft).toBe(0)
      // The core's backend and verify entries load under both conditions.
      expect(r.entries).toEqual({ broadcast: [2, 3], traces: 'function', error: expect.closeTo(0.2, 12) })
    },
    120_000,
  )

  it('the README example of core, tfjs and onnx, as shipped in each tarball, type-checks and runs', async () => {
    const files: string[] = []
    for (const name of ['core', 'tfjs', 'onnx'] as const) {
      const readme = readFileSync(join(dir, 'node_modules', '@logit-perturb', name, 'README.md'), 'utf8')
      const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!)
      expect(blocks.length, `${name} README examples`).toBeGreaterThan(0)
      blocks.forEach((code, k) => {
        files.push(`readme-${name}-${k}.ts`)
        writeFileSync(join(dir, files.at(-1)!), `${code}\nexport {}\n`)
      })
    }
    await typeCheck(dir, 'node16', files, 'built')
    for (const file of files) {
      const out = await runProcessOrThrow('node', [join('built', file.replace(/\.ts$/, '.js'))], inProject(dir))
      expect(out, file).not.toMatch(/NaN|Infinity/)
      expect(out.trim().length, file).toBeGreaterThan(0)
    }
  }, 120_000)

  it.each(['bundler', 'node16'] as const)(
    'a file using every package type-checks (skipLibCheck false, moduleResolution %s)',
    async (resolution) => {
      const installed = readdirSync(join(dir, 'node_modules', '@logit-perturb'))
      const missing = ['cli', 'pytorch'].filter((p) => !installed.includes(p)).map((p) => `@logit-perturb/${p}`)
      if (missing.length > 0) await npmInstall(dir, missing)
      // This library's declarations compile; the only errors left out are tfjs-layers' own.
      await typeCheck(dir, resolution, ['every-package.ts'])
    },
    INSTALL_TIMEOUT,
  )
})

/** The LPL loss of the scenario's 8-row batch (scenario.cjs builds the same), on the workspace's sources. */
function referenceOnScenarioBatch(spec: RuleInput): number {
  const classCounts = [60, 15, 5]
  const centers = [
    [0, 0],
    [2, 0],
    [0, 2],
  ] as const
  const rand = mulberry32(7)
  const points: [number, number][] = []
  const labels: number[] = []
  classCounts.forEach((count, c) => {
    for (let k = 0; k < count; k++) {
      points.push([centers[c]![0] + rand() - 0.5, centers[c]![1] + rand() - 0.5])
      labels.push(c)
    }
  })
  const rows = points.slice(0, 8).map(([x, y]) => [x - y, 2 * y, x + 0.5])
  return createLoss(referenceOps, spec)(referenceOps.constant(rows.flat(), [8, 3]), referenceOps.constant(labels.slice(0, 8), [8], 'int32'))
    .data[0]!
}

describe('the README: the command line', () => {
  let dir = ''
  beforeAll(async () => {
    dir = await project('cli')
  }, INSTALL_TIMEOUT)

  it('npx lpl --help lists the commands', async () => {
    const out = await runProcessOrThrow('npx', ['lpl', '--help'], inProject(dir))
    for (const command of ['train', 'verify', 'explain', 'export', 'adjust', 'audit']) expect(out).toContain(command)
  }, 60_000)

  it('npx lpl audit calls a Python balanced softmax equivalent to the shipped logit-adjustment spec, and a summed one not', async () => {
    const specPath = 'node_modules/@logit-perturb/cli/specs/logit-adjustment.json'
    const spec = JSON.parse(readFileSync(join(dir, specPath), 'utf8')) as { classCounts: number[]; tau: number }
    expect(spec.tau).toBe(1)
    writeFileSync(
      join(dir, 'balanced.py'),
      [
        'import torch',
        'import torch.nn.functional as F',
        `LOG_COUNTS = torch.tensor(${JSON.stringify(spec.classCounts)}, dtype=torch.float64).log()`,
        'class BalancedSoftmax(torch.nn.Module):',
        '    def forward(self, logits, labels):',
        '        return F.cross_entropy(logits + LOG_COUNTS.to(logits.dtype), labels)',
        'class Summed(torch.nn.Module):',
        '    def forward(self, logits, labels):',
        "        return F.cross_entropy(logits + LOG_COUNTS.to(logits.dtype), labels, reduction='sum')",
        '',
      ].join('\n'),
    )
    const ok = await runProcess(
      'npx',
      ['lpl', 'audit', '--spec', specPath, '--python', 'balanced.py:BalancedSoftmax', '--json'],
      inProject(dir),
    )
    expect(ok.stderr).toBe('')
    expect(ok.status).toBe(0)
    expect(JSON.parse(ok.stdout)).toMatchObject({ verdict: 'equivalent', dtype: 'float64' })
    const summed = await runProcess('npx', ['lpl', 'audit', '--spec', specPath, '--python', 'balanced.py:Summed', '--json'], inProject(dir))
    expect(summed.status).toBe(1)
    expect(JSON.parse(summed.stdout).findings[0]).toMatchObject({ kind: 'constant-factor', factor: 'N' })
  }, 120_000)

  it('npx lpl verify passes on a spec the package ships, and fails with exit 1 on a wrong one', async () => {
    const ok = await runProcess(
      'npx',
      ['lpl', 'verify', '--spec', 'node_modules/@logit-perturb/cli/specs/logit-adjustment.json', '--batches', '1'],
      inProject(dir),
    )
    expect(ok.stderr).toBe('')
    expect(ok.status).toBe(0)
    expect(ok.stdout).toMatch(/all \d+ checks passed/)
    for (const backend of ['tfjs-cpu', 'tfjs-wasm', 'onnx-wasm']) expect(ok.stdout).toContain(backend)
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ rule: 'logit-adjustment', tau: 1, classCounts: [5, -1] }))
    const bad = await runProcess('npx', ['lpl', 'verify', '--spec', 'bad.json'], inProject(dir))
    expect(bad.status).toBe(1)
    expect(bad.stderr).toMatch(/classCounts/)
  }, 120_000)
})

describe('the README: PyTorch', () => {
  let dir = ''
  beforeAll(async () => {
    dir = await project('pytorch')
  }, INSTALL_TIMEOUT)

  it("the package README's example, as shipped, writes a module that trains a model in torch", async () => {
    const readme = readFileSync(join(dir, 'node_modules', '@logit-perturb', 'pytorch', 'README.md'), 'utf8')
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!)
    expect(blocks).toHaveLength(1)
    writeFileSync(join(dir, 'readme-pytorch.ts'), `${blocks[0]}\nexport {}\n`)
    await typeCheck(dir, 'node16', ['readme-pytorch.ts'], 'built')
    const out = await runProcessOrThrow('node', [join('built', 'readme-pytorch.js')], inProject(dir))
    expect(out).toContain('loss.py: class LplLoss, 10 classes')
    // The README's next line, in Python: import the file and train with it.
    const train = [
      'import torch',
      'from loss import LplLoss',
      'torch.manual_seed(0)',
      'model = torch.nn.Linear(4, 10)',
      'criterion = LplLoss()',
      'optimizer = torch.optim.SGD(model.parameters(), lr=0.1)',
      'x, y = torch.randn(64, 4), torch.randint(0, 10, (64,))',
      'losses = []',
      'for _ in range(20):',
      '    optimizer.zero_grad()',
      '    loss = criterion(model(x), y)',
      '    loss.backward()',
      '    optimizer.step()',
      '    losses.append(loss.item())',
      'print(losses[0], losses[-1])',
    ].join('\n')
    const [first, last] = (await runProcessOrThrow(await torchPython(), ['-c', train], inProject(dir))).trim().split(' ').map(Number)
    expect(Number.isFinite(first) && Number.isFinite(last)).toBe(true)
    expect(last!).toBeLessThan(first!)
  }, 120_000)
})

describe('the README: TensorFlow.js in the browser', () => {
  let dir = ''
  beforeAll(async () => {
    dir = await project('browser')
    cpSync(browserFiles, dir, { recursive: true })
  }, INSTALL_TIMEOUT)

  it('a Vite production build of a page that imports @logit-perturb/tfjs bundles the library', async () => {
    await runProcessOrThrow('npx', ['vite', 'build', '--logLevel', 'warn'], inProject(dir))
    const assets = readdirSync(join(dir, 'dist', 'assets')).filter((f) => f.endsWith('.js'))
    expect(assets.length).toBeGreaterThan(0)
    const bundle = assets.map((f) => readFileSync(join(dir, 'dist', 'assets', f), 'utf8')).join('\n')
    // The core's error class and the tfjs adapter's loss made it into the bundle.
    expect(bundle).toContain('LogitPerturbError')
    expect(bundle).toContain('logit-adjustment')
    expect(readFileSync(join(dir, 'dist', 'index.html'), 'utf8')).toMatch(/<script type="module"[^>]*src="[^"]*assets\/[^"]+\.js"/)
  }, 120_000)
})
