import { defineConfig } from 'tsup'

export default defineConfig({
  entry: ['src/main.ts', 'src/index.ts'],
  format: ['esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  // The private conformance package is bundled in; the published packages stay external.
  noExternal: ['@logit-perturb/conformance'],
  external: [/^@tensorflow\//, '@logit-perturb/core', '@logit-perturb/tfjs', '@logit-perturb/onnx', 'onnxruntime-web', 'fast-check'],
})
