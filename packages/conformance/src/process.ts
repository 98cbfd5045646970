/**
 * Runs a command and collects its output without blocking the test worker.
 *
 * Tests never use `spawnSync`/`execFileSync`: a worker that blocks its event loop for a minute (a few
 * `lpl train` runs in a row on a loaded machine) cannot answer the test runner's RPC, and vitest then
 * fails the whole run with "Timeout calling onTaskUpdate" even though every test passed.
 */
import { spawn } from 'node:child_process'

/** What a finished command gave: its exit status (null when killed) and its output. */
export interface ProcessResult {
  status: number | null
  stdout: string
  stderr: string
}

/** Options of {@link runProcess}: the working folder (default this process's), the environment, and a time limit in ms. */
export interface ProcessOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  timeout?: number
}

/** Runs `command ...args` and resolves with its status and output once it has closed. */
export function runProcess(command: string, args: readonly string[], options: ProcessOptions): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      timeout: options.timeout ?? 300_000,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
    })
    // A command that does not exist has no status, as one that was killed.
    child.on('error', (error: NodeJS.ErrnoException) =>
      error.code === 'ENOENT' ? resolve({ status: null, stdout, stderr: error.message }) : reject(error),
    )
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}

/** {@link runProcess}, rejecting with the command's output when it exits with a non-zero status. */
export async function runProcessOrThrow(command: string, args: readonly string[], options: ProcessOptions): Promise<string> {
  const r = await runProcess(command, args, options)
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${r.status}:\n${r.stdout}${r.stderr}`)
  return r.stdout
}
