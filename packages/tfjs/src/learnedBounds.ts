import * as tf from '@tensorflow/tfjs-core'
import { classDirections } from '@logit-perturb/core'
import { createTfjsOps, oneHotFloat } from './ops.js'

/** Inputs of {@link exactLearnedBoundsHypergradient}. */
export interface ExactLearnedBoundsInputs {
  /** The model: `apply(x)` gives the logits `[N, C]`; its trainable weights take the virtual step. */
  model: {
    /** The forward pass: the logits `[N, C]` of a batch of inputs. */
    apply(x: tf.Tensor): tf.Tensor | tf.Tensor[] | unknown
    /** The weights that take the virtual step (a `tf.LayersModel`'s `trainableWeights`). */
    trainableWeights: {
      /** The weight's variable. */
      read(): tf.Tensor
    }[]
  }
  /** Inputs of the training batch, `[B, …]`. */
  trainX: tf.Tensor
  /** Class ids of the training batch, `[B]`. */
  trainLabels: readonly number[]
  /** Inputs of the class-balanced meta batch, `[M, …]`. */
  metaX: tf.Tensor
  /** Class ids of the meta batch, `[M]`. */
  metaLabels: readonly number[]
  /** The signed bounds `θ`, one per class. */
  theta: readonly number[]
  /** The virtual step's learning rate `η`. */
  eta: number
  /** The class count `C`. */
  numClasses: number
}

const logitsOf = (model: ExactLearnedBoundsInputs['model'], x: tf.Tensor): tf.Tensor => model.apply(x) as tf.Tensor

function meanCrossEntropy(logits: tf.Tensor, oneHot: tf.Tensor): tf.Scalar {
  return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), oneHot), 1))) as tf.Scalar
}

/**
 * The exact hypergradient of learned bounds over all trainable weights (docs/spec.md#6-learned-bounds): with
 * `δ_c = θ_c·d_c`, `W' = W − η·∇_W L_train(W; θ)` and `f(θ) = L_meta(W')`,
 *
 *     ∂f/∂θ_c = −(η/B) Σ_{i: y_i = c} (J_i d_c)ᵀ (∂u_i/∂W · v),    v = ∇_W L_meta(W')
 *
 * where `u_i` are the logits of training sample `i` and `J_i` the softmax Jacobian at its perturbed
 * logits. `Σ_i r_iᵀ (∂u_i/∂W·v)` is `⟨∇_W Σ_i r_iᵀ u_i, v⟩`, so each class costs one more backward
 * pass with `r_i = J_i d_c` held fixed: no second-order automatic differentiation (which tfjs lacks),
 * and no approximation. The weights are restored afterwards. Returns `∂f/∂θ` and `f(θ)`.
 */
export function exactLearnedBoundsHypergradient(inp: ExactLearnedBoundsInputs): {
  /** `∂f/∂θ`, one per class (0 for classes absent from the training batch). */
  hypergradient: number[]
  /** `f(θ)`, the meta batch's mean cross-entropy after the virtual step. */
  metaLoss: number
} {
  const c = inp.numClasses
  const variables = inp.model.trainableWeights.map((w) => w.read() as tf.Variable)
  const saved = variables.map((v) => tf.keep(v.clone()))
  try {
    return tf.tidy(() => {
      const yTrain = oneHotFloat(tf.tensor1d(inp.trainLabels as number[], 'int32'), c)
      const yMeta = oneHotFloat(tf.tensor1d(inp.metaLabels as number[], 'int32'), c)
      const b = inp.trainLabels.length
      // d_c at δ = 0, and the perturbed training softmax, on the host.
      const logits = logitsOf(inp.model, inp.trainX)
      const u = logits.dataSync()
      const labelTensor = tf.tensor1d(inp.trainLabels as number[], 'int32')
      const directions = classDirections(createTfjsOps(), logits, labelTensor, yTrain, c).dataSync()
      const shift = new Float32Array(b * c)
      inp.trainLabels.forEach((y, i) => {
        for (let j = 0; j < c; j++) shift[i * c + j] = inp.theta[y]! * directions[i * c + j]!
      })
      const delta = tf.tensor2d(shift, [b, c])
      // The virtual step, the meta gradient at W', and the weights put back.
      const trainGrads = tf.variableGrads(() => meanCrossEntropy(tf.add(logitsOf(inp.model, inp.trainX), delta), yTrain), variables)
      variables.forEach((v, k) => {
        v.assign(tf.sub(saved[k]!, tf.mul(inp.eta, trainGrads.grads[v.name]!)))
      })
      const meta = tf.variableGrads(() => meanCrossEntropy(logitsOf(inp.model, inp.metaX), yMeta), variables)
      const metaLoss = meta.value.dataSync()[0]!
      variables.forEach((v, k) => {
        v.assign(saved[k]!)
      })
      // r_i = J_i d_{y_i} = p_i ⊙ d − p_i (p_i · d), at the perturbed logits.
      const p = tf.softmax(tf.add(tf.tensor2d(u, [b, c]), delta)).dataSync()
      const hypergradient = new Array<number>(c).fill(0)
      for (let cls = 0; cls < c; cls++) {
        const members = inp.trainLabels.flatMap((y, i) => (y === cls ? [i] : []))
        if (members.length === 0) continue
        const r = new Float32Array(b * c)
        for (const i of members) {
          let pd = 0
          for (let j = 0; j < c; j++) pd += p[i * c + j]! * directions[i * c + j]!
          for (let j = 0; j < c; j++) r[i * c + j] = p[i * c + j]! * (directions[i * c + j]! - pd)
        }
        const weights = tf.tensor2d(r, [b, c])
        const g = tf.variableGrads(() => tf.sum(tf.mul(weights, logitsOf(inp.model, inp.trainX))) as tf.Scalar, variables)
        let dot = 0
        for (const v of variables) dot += tf.sum(tf.mul(g.grads[v.name]!, meta.grads[v.name]!)).dataSync()[0]!
        hypergradient[cls] = (-inp.eta / b) * dot
      }
      return { hypergradient, metaLoss }
    })
  } finally {
    variables.forEach((v, k) => {
      v.assign(saved[k]!)
    })
    tf.dispose(saved)
  }
}
