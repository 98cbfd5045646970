/**
 * Builds the public packages and packs each into a tarball, as `pnpm publish` would publish it
 * (`workspace:` ranges replaced by versions, `publishConfig` applied).
 *
 *   pnpm pack:public [DIR]     tarballs into DIR (default out/packs), one path per line
 */
import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { packPublicPackages } from '../test/support/pack.js'

const dir = resolve(process.argv[2] ?? join(import.meta.dirname, '..', 'out', 'packs'))
mkdirSync(dir, { recursive: true })
for (const tarball of Object.values(await packPublicPackages(dir))) console.log(tarball)
