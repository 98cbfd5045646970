/**
 * Host math shared by the multi-head rules (`balanced-experts`, `diverse-experts`;
 * docs/spec.md#313-multi-head-rules): their priors, with the epsilon of the released code.
 */

/** The `1e-9` the released BalPoE and SADE code add to a prior before its log. */
export const EXPERT_PRIOR_EPSILON = 1e-9

/** The priors `π_c = n_c / Σ n` of class counts (`[C]`), zero counts kept as 0. */
export function expertPriors(classCounts: readonly number[]): number[] {
  const total = classCounts.reduce((a, b) => a + b, 0)
  return classCounts.map((n) => n / total)
}

/**
 * `log(π_c + 1e-9)` (`[C]`), as BalPoE's `BSExpertLoss` and SADE's `DiverseExpertLoss` compute it: a
 * zero count gives `log 1e-9 ≈ −20.7`, finite.
 */
export function expertLogPriors(classCounts: readonly number[]): number[] {
  return expertPriors(classCounts).map((p) => Math.log(p + EXPERT_PRIOR_EPSILON))
}

/**
 * SADE's inverse prior `π̃` (`[C]`): π with its order reversed, `π̃_c = sort_asc(π)[C − 1 − rank_c]`
 * with `rank_c` the position of `π_c` in ascending order (the most frequent class gets the smallest
 * prior, and so on). It is not `1/π`. Ties are ranked by class id (a stable sort), so that equal
 * counts give a defined `π̃`; the released code's `torch.sort` leaves their order unspecified.
 */
export function reversedPriors(classCounts: readonly number[]): number[] {
  const priors = expertPriors(classCounts)
  const order = priors.map((_, c) => c).sort((a, b) => priors[a]! - priors[b]! || a - b)
  const rank = new Array<number>(priors.length)
  order.forEach((c, k) => {
    rank[c] = k
  })
  return priors.map((_, c) => priors[order[priors.length - 1 - rank[c]!]!]!)
}
