/**
 * The pixel confusion matrix of a segmentation, `M[t][p]` = pixels of true class `t` predicted as
 * `p`, over the pixels whose label is not `ignoreIndex`. Add more pixels with {@link addPixels}.
 */
export function confusionMatrix(numClasses: number): number[][] {
  return Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0))
}

/** Adds pixels (predicted and true class ids, same length) to a confusion matrix, skipping `ignoreIndex` labels. */
export function addPixels(matrix: number[][], predictions: ArrayLike<number>, labels: ArrayLike<number>, ignoreIndex: number): void {
  if (predictions.length !== labels.length) throw new Error(`${predictions.length} predictions for ${labels.length} labels`)
  for (let i = 0; i < labels.length; i++) {
    const t = labels[i]!
    if (t === ignoreIndex) continue
    const row = matrix[t]
    if (row === undefined) throw new Error(`label ${t} at pixel ${i} is not a class in [0, ${matrix.length}) nor the ignore label`)
    row[predictions[i]!]!++
  }
}

/** The scores of a segmentation (mmsegmentation's). */
export interface SegmentationScores {
  /**
   * Per class, the intersection over union `IoU_c = TP_c / (TP_c + FP_c + FN_c)`; null for a class
   * neither labelled nor predicted anywhere (its union is empty).
   */
  perClassIoU: (number | null)[]
  /** `mIoU`: the mean of the defined `IoU_c` (background included). */
  meanIoU: number
  /** `Σ_c TP_c / Σ_c (TP_c + FN_c)`: the share of labelled pixels predicted right. */
  pixelAccuracy: number
}

/** IoU per class, mean IoU and pixel accuracy of a confusion matrix (see {@link SegmentationScores}). */
export function segmentationScores(matrix: readonly (readonly number[])[]): SegmentationScores {
  const c = matrix.length
  let correct = 0
  let labelled = 0
  const perClassIoU = matrix.map((row, k) => {
    const tp = row[k]!
    const fn = row.reduce((a, b) => a + b, 0) - tp
    let fp = 0
    for (let t = 0; t < c; t++) if (t !== k) fp += matrix[t]![k]!
    correct += tp
    labelled += tp + fn
    return tp + fp + fn === 0 ? null : tp / (tp + fp + fn)
  })
  const defined = perClassIoU.filter((v): v is number => v !== null)
  return {
    perClassIoU,
    meanIoU: defined.length ? defined.reduce((a, b) => a + b, 0) / defined.length : 0,
    pixelAccuracy: labelled ? correct / labelled : 0,
  }
}
