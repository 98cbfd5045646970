import { type RefTensor, createLoss, describeClasses, referenceOps } from '@logit-perturb/core'

export { createLoss, describeClasses, referenceOps }

/**
 * A reproducible long-tailed batch without any data files: 64 samples of 6 classes drawn in
 * proportion to counts 5000/2000/800/300/120/50, with logits that favour the head classes, as a
 * model trained on such data would.
 */
export function longTailedBatch(): { logits: RefTensor; labels: RefTensor; classCounts: number[] } {
  const classCounts = [5000, 2000, 800, 300, 120, 50]
  let state = 12345
  const rand = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31
    return state / 2 ** 31
  }
  const total = classCounts.reduce((a, b) => a + b, 0)
  const n = 64
  const labels: number[] = []
  const logits: number[] = []
  for (let i = 0; i < n; i++) {
    // Stratify so every class appears at least once.
    let y = i < classCounts.length ? i : 0
    if (i >= classCounts.length) {
      let r = rand() * total
      while (r >= classCounts[y]!) r -= classCounts[y++]!
    }
    labels.push(y)
    for (let c = 0; c < classCounts.length; c++) {
      logits.push(0.4 * Math.log(classCounts[c]! / total) + (c === y ? 1.5 : 0) + rand() - 0.5)
    }
  }
  return {
    logits: referenceOps.constant(logits, [n, classCounts.length]),
    labels: referenceOps.constant(labels, [n], 'int32'),
    classCounts,
  }
}
