// The public types of core, tfjs and onnx, used without the optional peers installed
// (checked with skipLibCheck: false).
import { type LogitPerturbErrorCode, type RuleSpec, LogitPerturbError, createLoss, referenceOps } from '@logit-perturb/core'
import { type OnnxSession, type LossModelResult, createSession, exportLossModel, runLossModel } from '@logit-perturb/onnx'
import { type TfjsLoss, createTfjsLoss, layersLoss } from '@logit-perturb/tfjs'

const spec: RuleSpec = createLoss(referenceOps, { rule: 'logit-adjustment', tau: 1, classCounts: [9, 1] }).spec
const loss: TfjsLoss = createTfjsLoss(spec)
export const compiled = layersLoss(loss)
export const code: LogitPerturbErrorCode = 'MISSING_PEER_DEPENDENCY'
export const isOurs = (e: unknown): e is LogitPerturbError => e instanceof LogitPerturbError
export async function run(): Promise<LossModelResult> {
  const session: OnnxSession = await createSession(exportLossModel(spec).bytes)
  return runLossModel(session, [[1, 2]], [0])
}
