import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runProcess } from '../../../../test/support/process.js'

/** The official ONNX checker: Debian's python3-onnx (1.12, opsets up to 17); `.ci/run` installs it. */
const PYTHON = '/usr/bin/python3'

// One Python process for all models: importing onnx costs far more than checking a model.
const SCRIPT = `
import json, sys
import onnx
for path in sys.argv[1:]:
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
        print(json.dumps({"ok": True, "message": ""}))
    except Exception as e:
        print(json.dumps({"ok": False, "message": str(e)}))
`

/** A model's verdict: `ok`, or the checker's message. */
export interface CheckerVerdict {
  name: string
  ok: boolean
  message: string
}

/**
 * Runs `onnx.checker.check_model(model, full_check=True)` (structure, operator schemas and strict
 * shape inference) on each model, written to a temporary folder. Throws, saying what to install,
 * when the checker is not there.
 */
export async function checkModels(models: Readonly<Record<string, Uint8Array>>): Promise<CheckerVerdict[]> {
  const dir = mkdtempSync(join(tmpdir(), 'logit-perturb-onnx-'))
  try {
    const names = Object.keys(models)
    const files = names.map((name, k) => {
      const file = join(dir, `${k}.onnx`)
      writeFileSync(file, models[name]!)
      return file
    })
    const r = await runProcess(PYTHON, ['-c', SCRIPT, ...files], { cwd: dir }).catch((error: unknown) => ({
      status: null,
      stdout: '',
      stderr: String(error),
    }))
    if (r.status !== 0) {
      throw new Error(`the ONNX checker could not run (install it with: apt-get install -y python3-onnx): ${r.stderr.trim()}`)
    }
    const lines = r.stdout.trim().split('\n')
    return names.map((name, k) => ({ name, ...(JSON.parse(lines[k]!) as { ok: boolean; message: string }) }))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
