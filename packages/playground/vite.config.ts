import { join } from 'node:path'
import { defaultClientConditions, defineConfig } from 'vite'

// The workspace packages resolve to their TypeScript sources through the `@logit-perturb/source`
// export condition: the page runs the library's current code, with no prior build.
export default defineConfig({
  root: import.meta.dirname,
  base: './',
  resolve: { conditions: ['@logit-perturb/source', ...defaultClientConditions] },
  // One chunk of about 1 MB: tfjs-core, -layers and two backends, loaded once by a single page.
  // Three pages: the playground; fit.html, which counts the synchronous reads of model.fit on WebGL;
  // float16.html, which evaluates the rules on WebGL with float32 or float16 textures.
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1200,
    rollupOptions: {
      input: {
        main: join(import.meta.dirname, 'index.html'),
        fit: join(import.meta.dirname, 'fit.html'),
        float16: join(import.meta.dirname, 'float16.html'),
      },
    },
  },
})
