import { packageBuild } from '../../tsup.config.base.js'

// Three entries: the users' (index), the backend implementers' and the verifiers'.
export default packageBuild({ entry: ['src/index.ts', 'src/backend.ts', 'src/verify.ts'] })
