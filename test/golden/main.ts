/**
 * `pnpm test:golden`: every `golden-*.json` in `$GOLDEN_DIR` (default `../shared/fixtures`) on every
 * backend, one line per backend: `golden <backend>: N passed, M failed`; then on the exported
 * PyTorch modules, in float64 and float32 (Debian's python3-torch): `golden pytorch: N passed, M
 * failed`. Exits 1 if any case failed or no case ran.
 */
import { resolve } from 'node:path'
import { loadGoldenDir, runGoldenCase } from '@logit-perturb/conformance'
import { workspaceBackends } from '@logit-perturb/conformance/backends'
import { runTorchGolden } from '@logit-perturb/conformance/torch'

const dir = resolve(process.env.GOLDEN_DIR ?? '../shared/fixtures')
const cases = loadGoldenDir(dir)
let failedAny = cases.length === 0
if (cases.length === 0) console.error(`no golden-*.json cases found in ${dir}`)

for (const backend of await workspaceBackends()) {
  let passed = 0
  let failed = 0
  for (const loaded of cases) {
    const result = await runGoldenCase(backend, loaded)
    if (result.passed) passed++
    else {
      failed++
      const worst = result.checks
        .filter((k) => !(k.error <= (k.tolerance ?? backend.rtol)))
        .map((k) => `${k.what} ${k.error.toExponential(2)}`)
      console.error(`  ${backend.name} ${result.id}: ${worst.join(', ')} (tolerance ${backend.rtol})`)
    }
  }
  console.log(`golden ${backend.name}: ${passed} passed, ${failed} failed`)
  if (failed > 0) failedAny = true
}
{
  let passed = 0
  let failed = 0
  for (const result of await runTorchGolden(cases)) {
    if (result.passed) passed++
    else {
      failed++
      const worst = result.checks.filter((k) => !(k.error <= k.tolerance!)).map((k) => `${k.what} ${k.error.toExponential(2)}`)
      console.error(`  pytorch ${result.id}: ${worst.join(', ')}`)
    }
  }
  console.log(`golden pytorch: ${passed} passed, ${failed} failed`)
  if (failed > 0) failedAny = true
}
process.exit(failedAny ? 1 : 0)
