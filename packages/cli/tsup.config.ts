import { defineConfig } from 'tsup'

// tsup leaves every dependency of package.json external, so the bundle imports only what the
// package declares; the consumer test checks that against the installed tarball.
export default defineConfig({
  entry: ['src/main.ts', 'src/index.ts'],
  format: ['esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
})
