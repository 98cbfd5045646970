import { spawnSync } from 'node:child_process'

/**
 * Where Python interpreters with torch may be: `$LOGIT_PERTURB_PYTHON` first, then `python3` on the
 * path, then Debian's own `/usr/bin/python3`, where the `python3-torch` package installs torch (a
 * `python3` of another installation, pyenv's say, may come first on the path without it).
 */
function candidates(): string[] {
  const chosen = process.env.LOGIT_PERTURB_PYTHON
  return [...(chosen ? [chosen] : []), 'python3', '/usr/bin/python3']
}

let found: string | undefined

/**
 * The first interpreter that imports torch; throws, naming the interpreters tried and the Debian
 * package to install, when none does.
 */
export function torchPython(): string {
  if (found !== undefined) return found
  for (const python of candidates()) {
    const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' })
    if (probe.status === 0) {
      found = python
      return python
    }
  }
  throw new Error(
    `no Python with torch: tried ${candidates().join(', ')}; install Debian's python3-torch (apt-get install -y python3-torch) or set LOGIT_PERTURB_PYTHON`,
  )
}

/** Options of {@link runPython}. */
export interface PythonOptions {
  /** Default 10 minutes. */
  timeoutMs?: number
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv
  /** The working folder; default this process's. */
  cwd?: string
}

/** Runs `python -c program args...`; throws with its standard error when it fails. */
export function runPython(program: string, args: readonly string[], options: PythonOptions = {}): string {
  return runInterpreter(['-c', program, ...args], options)
}

/** Runs the Python file `script` with `args`; throws with its standard error when it fails. */
export function runPythonScript(script: string, args: readonly string[], options: PythonOptions = {}): string {
  return runInterpreter([script, ...args], options)
}

function runInterpreter(argv: readonly string[], options: PythonOptions): string {
  const result = spawnSync(torchPython(), argv, {
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 600_000,
    env: { ...process.env, ...options.env },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    maxBuffer: 256 * 1024 * 1024,
  })
  if (result.status !== 0) {
    throw new Error(`python exited with ${result.status ?? result.signal}: ${result.stderr || result.error?.message}`)
  }
  return result.stdout
}
