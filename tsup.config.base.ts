import { type Options, defineConfig } from 'tsup'

/**
 * The one build of every public package: ES modules and CommonJS (the command line: ES modules
 * only), declarations, and source maps that embed the sources (the tarballs ship no `src/`). tsup
 * leaves every dependency and peer dependency of the package's manifest external, so a bundle
 * imports only what its package declares; the consumer test checks that on the packed tarballs.
 */
export function packageBuild(options: Pick<Options, 'entry' | 'format'> = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'es2022',
    ...options,
  })
}
