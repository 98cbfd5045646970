/**
 * Builds and packs the public packages: what `pnpm release:check`, `pnpm pack:public` and the
 * consumer test install. Runs child processes asynchronously (see process.ts).
 */
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { runProcessOrThrow } from './process.js'

const root = join(import.meta.dirname, '..', '..')

/** The published packages, by folder under `packages/`; every other package there is private. */
export const PUBLIC_PACKAGES = ['core', 'tfjs', 'onnx', 'pytorch', 'cli'] as const
export type PublicPackage = (typeof PUBLIC_PACKAGES)[number]

/** Builds every public package (tsup), then packs each into `dir`; returns the tarball of each. */
export async function packPublicPackages(dir: string): Promise<Record<PublicPackage, string>> {
  await runProcessOrThrow('pnpm', ['run', 'build'], { cwd: root })
  const tarballs = {} as Record<PublicPackage, string>
  for (const name of PUBLIC_PACKAGES) {
    const folder = join(root, 'packages', name)
    const manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) as { name: string; version: string }
    // npm's tarball name: the scope's `@` dropped and its `/` turned into `-`.
    const tarball = join(dir, `${manifest.name.replace(/^@/, '').replace('/', '-')}-${manifest.version}.tgz`)
    rmSync(tarball, { force: true })
    await runProcessOrThrow('pnpm', ['pack', '--pack-destination', dir], { cwd: folder })
    if (!existsSync(tarball)) throw new Error(`pnpm pack of packages/${name} did not write ${tarball}`)
    tarballs[name] = tarball
  }
  return tarballs
}
