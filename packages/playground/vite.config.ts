import { join } from 'node:path'
import { defaultClientConditions, defineConfig } from 'vite'

// The workspace packages resolve to their TypeScript sources through the `@logit-perturb/source`
// export condition: the page runs the library's current code, with no prior build.
export default defineConfig({
  root: import.meta.dirname,
  base: './',
  resolve: { conditions: ['@logit-perturb/source', ...defaultClientConditions] },
  // One chunk of about 1 MB: tfjs-core, -layers and two backends, loaded once by a single page.
  // Two pages: the playground, and fit.html, which counts the synchronous reads of model.fit on WebGL.
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1200,
    rollupOptions: { input: { main: join(import.meta.dirname, 'index.html'), fit: join(import.meta.dirname, 'fit.html') } },
  },
})
