import { runProcess } from '../process.js'

/**
 * Where Python interpreters with torch may be: `$LOGIT_PERTURB_PYTHON` first, then `python3` on the
 * path, then Debian's own `/usr/bin/python3`, where the `python3-torch` package installs torch (a
 * `python3` of another installation, pyenv's say, may come first on the path without it).
 */
function candidates(): string[] {
  const chosen = process.env.LOGIT_PERTURB_PYTHON
  return [...(chosen ? [chosen] : []), 'python3', '/usr/bin/python3']
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

let found: Promise<string> | undefined

/**
 * The first interpreter that imports torch; rejects, naming the interpreters tried and the Debian
 * package to install, when none does.
 */
export function torchPython(): Promise<string> {
  found ??= (async () => {
    for (const python of candidates()) {
      if ((await runProcess(python, ['-c', 'import torch'], {})).status === 0) return python
    }
    throw new Error(
      `no Python with torch: tried ${candidates().join(', ')}; install Debian's python3-torch (apt-get install -y python3-torch) or set LOGIT_PERTURB_PYTHON`,
    )
  })()
  return found
}

/** Runs `python -c program args...`; resolves with its output, rejects with its standard error when it fails. */
export function runPython(program: string, args: readonly string[], options: PythonOptions = {}): Promise<string> {
  return runInterpreter(['-c', program, ...args], options)
}

/** Runs the Python file `script` with `args`; resolves with its output, rejects with its standard error when it fails. */
export function runPythonScript(script: string, args: readonly string[], options: PythonOptions = {}): Promise<string> {
  return runInterpreter([script, ...args], options)
}

async function runInterpreter(argv: readonly string[], options: PythonOptions): Promise<string> {
  // Asynchronous (spawn, not spawnSync): a test worker that blocks for long cannot answer its runner.
  const result = await runProcess(await torchPython(), argv, {
    env: { ...process.env, ...options.env },
    timeout: options.timeoutMs ?? 600_000,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  })
  if (result.status !== 0) throw new Error(`python exited with ${result.status}: ${result.stderr}`)
  return result.stdout
}
