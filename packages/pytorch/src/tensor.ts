// The backend's value type lives with the program its expressions belong to.
export type { PyTensor } from './program.js'
