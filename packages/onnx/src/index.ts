/**
 * ONNX adapter: a symbolic backend that builds ONNX graphs of the core's rules
 * ({@link createSymbolicOps}), the export of a loss as a model ({@link exportLossModel}), a runner on
 * onnxruntime-web ({@link runLossModel}) and the post-hoc logit adjustment of a trained classifier
 * ({@link appendPostHocAdjustment}).
 *
 * @module @logit-perturb/onnx
 */
export type { SymbolicTensor } from './tensor.js'
export type { SymbolicOps } from './symbolicOps.js'
export { createSymbolicOps } from './symbolicOps.js'
export type { Attribute, ElemTypeName, GraphMark, GraphModel, GraphNode, Initializer, OutputRequest, ValueDecl } from './graph.js'
export { ElemType, GraphBuilder, MAX_OPSET, MIN_OPSET } from './graph.js'
export { IR_VERSION, PRODUCER, serializeModel } from './serialize.js'
export type { ExportLossOptions, ExportedLossModel } from './exportLoss.js'
export { exportLossModel } from './exportLoss.js'
export type { HostTensor } from './runner.js'
export type { LossModelResult, RowInputs } from './runLoss.js'
export type { LossLabels } from './lossInputs.js'
export type { OnnxRuntime, OnnxSession } from './runtimeTypes.js'
export { createSession, evaluateSymbolic, loadOnnxRuntime, runModel } from './runner.js'
export { runLossModel } from './runLoss.js'
export { MIN_EDIT_OPSET } from './readModel.js'
export type { PostHocOptions } from './postHoc.js'
export { onnxWasmBackend } from './harness.js'
export { POST_HOC_METADATA_KEY, appendPostHocAdjustment } from './postHoc.js'
