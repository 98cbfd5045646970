import { packageBuild } from '../../tsup.config.base.js'

// The command (bin) and its commands table, as ES modules only.
export default packageBuild({ entry: ['src/main.ts', 'src/index.ts'], format: ['esm'] })
