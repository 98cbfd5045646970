export { onTfjsBackend, tfjsBackends } from './tfjs.js'
