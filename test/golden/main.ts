/**
 * `pnpm test:golden`: every `golden-*.json` in the folders of `$GOLDEN_DIR` (separated as in `PATH`;
 * default `../shared/fixtures` and its `catalogue/`, `catalogue-2/`, `dense/` and `soft/` folders) on every backend, one line per backend: `golden <backend>: N passed, M failed`; then on the exported
 * PyTorch modules, in float64 and float32 (Debian's python3-torch), eager and compiled by
 * `torch.jit.script`: `golden pytorch: N passed, M failed`. Exits 1 if any case failed or no case ran.
 * `GOLDEN_KINDS=lade,balanced-bce` runs only the cases of those kinds.
 */
import { basename, delimiter, resolve } from 'node:path'
import { loadGoldenDir, runGoldenCase } from '@logit-perturb/conformance'
import { workspaceBackends } from '@logit-perturb/conformance/backends'
import { runTorchGolden } from '@logit-perturb/conformance/torch'

// Several folders may be given, separated as in PATH: the default takes the shared fixtures and
// their catalogue, dense and soft folders.
const dirs = (
  process.env.GOLDEN_DIR ??
  [
    '../shared/fixtures',
    '../shared/fixtures/catalogue',
    '../shared/fixtures/catalogue-2',
    '../shared/fixtures/dense',
    '../shared/fixtures/soft',
  ].join(delimiter)
)
  .split(delimiter)
  .filter((d) => d !== '')
  .map((d) => resolve(d))
const kinds = process.env.GOLDEN_KINDS?.split(',').filter((k) => k !== '')
const cases = dirs
  .flatMap((dir) => loadGoldenDir(dir).map((c) => (dirs.length > 1 ? { ...c, id: `${basename(dir)}/${c.id}` } : c)))
  .filter((c) => kinds === undefined || kinds.includes(c.data.kind))
let failedAny = cases.length === 0
if (cases.length === 0) console.error(`no golden-*.json cases found in ${dirs.join(', ')}`)

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
  // A case passes when the eager module and the one torch.jit.script compiles both do.
  for (const result of await runTorchGolden(cases, { scripted: true })) {
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
