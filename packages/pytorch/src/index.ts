/**
 * PyTorch adapter: a symbolic backend that writes the core's rules as Python source
 * ({@link createPythonOps}) and the export of a loss as a self-contained `torch.nn.Module` file
 * ({@link exportTorchModule}), whose batch statistics are all-reduced across data-parallel workers.
 *
 * @module @logit-perturb/pytorch
 */
export type { PyTensor } from './tensor.js'
export type { PythonOps } from './pythonOps.js'
export { createPythonOps, pyNumber } from './pythonOps.js'
export type { PyBuffer } from './program.js'
export { PythonProgram } from './program.js'
export type { ExportTorchOptions, ExportedTorchModule } from './exportModule.js'
export { exportTorchModule } from './exportModule.js'
