import { check } from './errors.js'
import { postHocPredict } from './rules/logitAdjustment.js'
import { MAX_CLASSES, checkClassCounts, checkLabelValues, checkNumber, checkNumberList } from './validate.js'
import { meanOfHeadRows } from './heads.js'

/**
 * Per-class accuracy: for each class, the share of its samples predicted as that class.
 * A class with no samples has `null` (absent), never 0.
 */
export function perClassAccuracy(predictions: ArrayLike<number>, labels: ArrayLike<number>, numClasses: number): (number | null)[] {
  checkNumber(numClasses, { min: 1, max: MAX_CLASSES, integer: true }, 'numClasses')
  check(
    predictions.length === labels.length,
    'LABELS_SHAPE',
    `${predictions.length} predictions for ${labels.length} labels`,
    'predictions',
  )
  checkLabelValues(labels, numClasses)
  const hits = new Array<number>(numClasses).fill(0)
  const totals = new Array<number>(numClasses).fill(0)
  for (let i = 0; i < labels.length; i++) {
    totals[labels[i]!]!++
    if (predictions[i] === labels[i]) hits[labels[i]!]!++
  }
  return totals.map((t, c) => (t === 0 ? null : hits[c]! / t))
}

/** The mean of the per-class accuracies of the classes present: balanced accuracy. */
export function balancedAccuracy(perClass: readonly (number | null)[]): number | null {
  return meanOf(perClass.filter((a): a is number => a !== null))
}

function meanOf(values: readonly number[]): number | null {
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length
}

/** Accuracy of groups of classes; a group with no class (or no class with test samples) is absent. */
export interface GroupAccuracy {
  /** Mean per-class accuracy of the most frequent third of the classes. */
  head?: number
  /** Mean per-class accuracy of the classes between the head and the tail. */
  medium?: number
  /** Mean per-class accuracy of the rarest third of the classes. */
  tail?: number
}

/** Shot groups: many (> 100 training samples), medium (20 to 100), few (< 20). */
export interface ShotAccuracy {
  /** Mean per-class accuracy of the classes with more than 100 training samples. */
  many?: number
  /** Mean per-class accuracy of the classes with 20 to 100 training samples. */
  medium?: number
  /** Mean per-class accuracy of the classes with fewer than 20 training samples. */
  few?: number
}

function groupMean(perClass: readonly (number | null)[], members: readonly number[]): number | undefined {
  return meanOf(members.map((c) => perClass[c]!).filter((a): a is number => a !== null)) ?? undefined
}

function present<G extends object>(groups: Record<string, number | undefined>): G {
  return Object.fromEntries(Object.entries(groups).filter(([, v]) => v !== undefined)) as G
}

/**
 * Head/medium/tail accuracy: classes ranked by training count (largest first, ties by id) and cut
 * into thirds; with `C` classes the head and the tail have `round(C/3)` classes each and the medium
 * the rest. Each group's value is the mean per-class accuracy of its classes.
 */
export function thirdsAccuracy(perClass: readonly (number | null)[], classCounts: readonly number[]): GroupAccuracy {
  checkClassCounts(classCounts, perClass.length)
  const ranked = classCounts
    .map((n, c) => ({ n, c }))
    .sort((a, b) => b.n - a.n || a.c - b.c)
    .map((e) => e.c)
  const third = Math.round(ranked.length / 3)
  return present<GroupAccuracy>({
    head: groupMean(perClass, ranked.slice(0, third)),
    medium: groupMean(perClass, ranked.slice(third, ranked.length - third)),
    tail: groupMean(perClass, ranked.slice(ranked.length - third)),
  })
}

/** Many-shot (> 100 training samples), medium-shot (20 to 100) and few-shot (< 20) accuracy. */
export function shotAccuracy(perClass: readonly (number | null)[], classCounts: readonly number[]): ShotAccuracy {
  checkClassCounts(classCounts, perClass.length)
  const ids = classCounts.map((_, c) => c)
  return present<ShotAccuracy>({
    many: groupMean(
      perClass,
      ids.filter((c) => classCounts[c]! > 100),
    ),
    medium: groupMean(
      perClass,
      ids.filter((c) => classCounts[c]! >= 20 && classCounts[c]! <= 100),
    ),
    few: groupMean(
      perClass,
      ids.filter((c) => classCounts[c]! < 20),
    ),
  })
}

/**
 * The arg-max of each row (ties: the smallest class id): the predictions of logits `[N][C]`. For the
 * logits of a rule with `heads` heads (`[N][E·C]`, head-major, docs/spec.md#313-multi-head-rules),
 * the arg-max of the mean of the heads' logits ({@link meanOfHeadRows}), the rule's prediction.
 */
export function argmaxRows(logits: readonly (readonly number[])[], heads = 1): number[] {
  const rows = heads === 1 ? logits : meanOfHeadRows(logits, heads)
  return rows.map((row) => row.reduce((best, v, c) => (v > row[best]! ? c : best), 0))
}

/** The default grid of post-hoc temperatures: 0, 0.25, …, 3. */
export const DEFAULT_TAU_GRID: readonly number[] = Array.from({ length: 13 }, (_, k) => k * 0.25)

/**
 * Chooses the post-hoc logit-adjustment temperature `τ` on held-out data (never the test set): the
 * grid value whose predictions `argmax(u − τ log π)` have the highest balanced accuracy (ties: the
 * smallest `τ`). Returns the choice and the score of every grid value.
 */
export function chooseTau(
  heldOutLogits: readonly (readonly number[])[],
  heldOutLabels: ArrayLike<number>,
  classCounts: readonly number[],
  grid: readonly number[] = DEFAULT_TAU_GRID,
): {
  /** The chosen `τ`. */
  tau: number
  /** Balanced accuracy of the held-out predictions at the chosen `τ`. */
  balancedAccuracy: number
  /** Every grid value with its held-out balanced accuracy, in grid order. */
  scores: {
    /** A grid value of `τ`. */
    tau: number
    /** Balanced accuracy of `argmax(u − τ log π)` on the held-out data. */
    balancedAccuracy: number
  }[]
} {
  check(grid.length > 0, 'INVALID_PARAMETER', 'the τ grid is empty', 'grid')
  checkNumberList(grid, { min: 0 }, 'grid')
  checkClassCounts(classCounts, heldOutLogits[0]?.length)
  const scores = grid.map((tau) => {
    const perClass = perClassAccuracy(postHocPredict(heldOutLogits, classCounts, tau), heldOutLabels, classCounts.length)
    return { tau, balancedAccuracy: balancedAccuracy(perClass) ?? 0 }
  })
  const best = scores.reduce((a, b) => (b.balancedAccuracy > a.balancedAccuracy ? b : a))
  return { ...best, scores }
}

/**
 * Average precision of one label: `AP = Σ_k (R_k − R_{k−1})·P_k` over the distinct score
 * thresholds, from the highest down (samples with equal scores enter together), as scikit-learn's
 * `average_precision_score` computes it. `null` when the label has no positive sample (AP is
 * undefined there, not 0).
 */
export function averagePrecision(scores: ArrayLike<number>, targets: ArrayLike<number>): number | null {
  check(scores.length === targets.length, 'LABELS_SHAPE', `${scores.length} scores for ${targets.length} targets`, 'targets')
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!)
  const positives = Array.from(targets).filter((t) => t === 1).length
  if (positives === 0) return null
  let truePositives = 0
  let seen = 0
  let ap = 0
  let previousRecall = 0
  for (let k = 0; k < order.length; k++) {
    truePositives += targets[order[k]!] === 1 ? 1 : 0
    seen++
    // Close a threshold only after the last of a run of equal scores.
    if (k + 1 < order.length && scores[order[k + 1]!] === scores[order[k]!]) continue
    const recall = truePositives / positives
    ap += (recall - previousRecall) * (truePositives / seen)
    previousRecall = recall
  }
  return ap
}

/**
 * Per-label average precision of multi-label scores (`[N][C]`) against 0/1 targets (`[N][C]`),
 * `null` for a label without positives, and their mean over the labels that have some (mAP).
 */
export function multiLabelAveragePrecision(
  scores: readonly (readonly number[])[],
  targets: readonly (readonly number[])[],
): {
  /** Average precision of each label, `[C]`; `null` for a label without positives. */
  perLabel: (number | null)[]
  /** The mean over the labels with positives (mAP); `null` when no label has any. */
  mean: number | null
} {
  check(
    scores.length === targets.length,
    'LABELS_SHAPE',
    `${scores.length} rows of scores for ${targets.length} rows of targets`,
    'targets',
  )
  const c = scores[0]?.length ?? 0
  const perLabel = Array.from({ length: c }, (_, j) =>
    averagePrecision(
      scores.map((r) => r[j]!),
      targets.map((r) => r[j]!),
    ),
  )
  return { perLabel, mean: balancedAccuracy(perLabel) }
}
