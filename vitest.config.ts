import { defineConfig } from 'vitest/config'

// Workspace packages resolve to their TypeScript sources through the
// `@logit-perturb/source` export condition, so tests never need a build.
export default defineConfig({
  resolve: { conditions: ['@logit-perturb/source'] },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
  },
})
