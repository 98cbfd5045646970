import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CliError } from '../errors.js'
import { createServer } from 'node:net'
import { PYTHON_DRIVER } from './pythonDriver.js'
import { PYTHON_SHARDS_DRIVER } from './pythonShards.js'
import { splitTarget } from './target.js'
import type { AuditBatch, BatchResult, Implementation, ImplementationResults, ShardResults } from './types.js'

/**
 * Interpreters to try, in order: `$LOGIT_PERTURB_PYTHON`, `python3` on the path, Debian's
 * `/usr/bin/python3` (where `python3-torch` installs torch).
 */
function candidates(): string[] {
  const chosen = process.env.LOGIT_PERTURB_PYTHON
  return [...(chosen ? [chosen] : []), 'python3', '/usr/bin/python3']
}

/**
 * A `torch.nn.Module` in a Python file, `FILE.py:CLASS` (see {@link PYTHON_DRIVER} for how it is
 * called). Refuses a target that is not `FILE:CLASS` or a file that does not exist (exit 2).
 */
export function pythonImplementation(target: string): Implementation {
  const { file, name: className } = splitTarget(target, '--python', 'FILE.py:CLASS')
  return {
    name: target,
    async run(batches: readonly AuditBatch[]): Promise<ImplementationResults> {
      const dir = mkdtempSync(join(tmpdir(), 'lpl-audit-'))
      try {
        const batchesFile = join(dir, 'batches.json')
        writeFileSync(batchesFile, JSON.stringify(batches))
        const output = await runDriver([file, className, batchesFile])
        let parsed: { error?: string; dtype?: 'float64' | 'float32'; results?: RawResult[] }
        try {
          parsed = JSON.parse(output)
        } catch {
          throw new CliError(`${target}: the audit's Python driver printed no result (${output.trim().split('\n').pop() ?? ''})`, 2)
        }
        if (parsed.error !== undefined) throw new CliError(parsed.error, 2)
        return { dtype: parsed.dtype!, results: parsed.results!.map(decode) }
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
    async runShards(batch: AuditBatch, shards: readonly [number, number][]): Promise<ShardResults> {
      const dir = mkdtempSync(join(tmpdir(), 'lpl-audit-'))
      try {
        const batchFile = join(dir, 'batch.json')
        writeFileSync(batchFile, JSON.stringify({ ...batch, shards }))
        const output = await runDriver([file, className, batchFile, String(await freePort())], PYTHON_SHARDS_DRIVER)
        const parsed = JSON.parse(output) as { error?: string; dtype: 'float64' | 'float32'; workers: RawResult[] }
        if (parsed.error !== undefined) throw new CliError(`${target} in two workers: ${parsed.error}`, 2)
        return { dtype: parsed.dtype, workers: parsed.workers.map((w) => ({ loss: number(w.loss), gradient: w.gradient.map(number) })) }
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}

/** A TCP port free on 127.0.0.1 now, for the workers' process group. */
function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer()
    server.on('error', fail)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => done(port))
    })
  })
}

interface RawResult {
  loss: number | string
  gradient: (number | string)[]
  probes?: (number | string)[]
  error?: string
}

/** JSON has no NaN or infinities: the driver writes them as Python prints them. */
function number(x: number | string): number {
  if (typeof x === 'number') return x
  return x === 'inf' ? Number.POSITIVE_INFINITY : x === '-inf' ? Number.NEGATIVE_INFINITY : Number.NaN
}

function decode(r: RawResult): BatchResult {
  return {
    loss: number(r.loss),
    gradient: r.gradient.map(number),
    probes: (r.probes ?? []).map(number),
    ...(r.error === undefined ? {} : { error: r.error }),
  }
}

/** Runs the driver with the first interpreter that starts and imports torch; its standard output. */
async function runDriver(args: string[], driver = PYTHON_DRIVER): Promise<string> {
  const tried: string[] = []
  for (const python of candidates()) {
    const result = await run(python, ['-c', driver, ...args])
    // This interpreter has no torch (the driver's stage `torch`, or the shards driver's own import): try the next.
    if (result === undefined || /"stage": "torch"/.test(result.stdout) || /No module named 'torch'/.test(result.stderr)) {
      tried.push(python)
      continue
    }
    if (result.stdout.trim() === '') {
      throw new CliError(`the audit's Python driver failed: ${result.stderr.trim().split('\n').pop() ?? `exit ${result.code}`}`, 2)
    }
    return result.stdout
  }
  throw new CliError(
    `no Python with torch: tried ${tried.join(', ')}; install Debian's python3-torch (apt-get install -y python3-torch) or set LOGIT_PERTURB_PYTHON`,
    2,
  )
}

/** Runs a process to its end; undefined when it cannot start. */
function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string } | undefined> {
  return new Promise((done) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    child.on('error', () => done(undefined))
    child.on('close', (code) => done({ code, stdout, stderr }))
  })
}
