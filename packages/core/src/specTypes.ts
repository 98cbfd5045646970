/**
 * The JSON rule spec: one object names a rule and its parameters, and every backend builds the same
 * loss from it. `parseSpec` validates untrusted JSON into these types and fills in defaults.
 */

interface SpecBase {
  /** Spec format version; always 1 on output. */
  version?: 1
  /** Number of classes `C`; implied by `classCounts` where a rule has them. */
  numClasses?: number
}

/** Plain cross-entropy, `CE(u, y)`. */
export interface CeSpec extends SpecBase {
  /** The rule's name, `'ce'`. */
  rule: 'ce'
}

/** Logit adjustment (Menon et al., ICLR 2021): `CE(u + τ log π, y)`. */
export interface LogitAdjustmentSpec extends SpecBase {
  /** The rule's name, `'logit-adjustment'`. */
  rule: 'logit-adjustment'
  /** Training-set class counts `n_c ≥ 0` (or priors), `[C]`; `π_c = n_c / Σ n`. A zero count is read as the smallest positive one. */
  classCounts: number[]
  /** Temperature `τ ≥ 0`; default 1. */
  tau: number
}

/** Balanced softmax (Ren et al., NeurIPS 2020): `CE(u + log π, y)`. */
export interface BalancedSoftmaxSpec extends SpecBase {
  /** The rule's name, `'balanced-softmax'`. */
  rule: 'balanced-softmax'
  /** Training-set class counts `n_c ≥ 0` (or priors), `[C]`; `π_c = n_c / Σ n`. A zero count is read as the smallest positive one. */
  classCounts: number[]
}

/** LDAM (Cao et al., NeurIPS 2019): `CE(s·(u − Δ_y e_y), y)`, optionally with deferred re-weighting. */
export interface LdamSpec extends SpecBase {
  /** The rule's name, `'ldam'`. */
  rule: 'ldam'
  /** Training-set class counts `n_c ≥ 0`, `[C]`: the margins `Δ_c = M·n_c^{−1/4} / max_j n_j^{−1/4}` and the DRW weights. */
  classCounts: number[]
  /** Largest margin `M ≥ 0` (of the rarest class); default 0.5. */
  maxMargin: number
  /** Logit scale `s > 0`; default 30 (meant for cosine logits). */
  scale: number
  /** Deferred re-weighting: class weights `(1−β)/(1−β^{n_c})` (sum C) from epoch `fromEpoch` on. */
  drw?: {
    /** `0 ≤ β < 1` of the effective number of samples `(1 − β^{n_c})/(1 − β)`; default 0.9999. */
    beta: number
    /** First epoch (0-based, as the loss context's `epoch`) with the weights on; default 0. */
    fromEpoch: number
  }
}

/** Vector scaling (Kini et al., NeurIPS 2021): `CE(Δ ⊙ u + ι, y)`. */
export interface VsSpec extends SpecBase {
  /** The rule's name, `'vs'`. */
  rule: 'vs'
  /** Class counts; give them, or both `multiplicative` and `additive`. */
  classCounts?: number[]
  /** With counts: `Δ_c = (n_c / n_max)^γ`; default 0.2. */
  gamma?: number
  /** With counts: `ι_c = τ log π_c`; default 1. */
  tau?: number
  /** Explicit multiplicative terms `Δ_c > 0` (e.g. `1/T_c` for class temperatures). */
  multiplicative?: number[]
  /** Explicit additive terms `ι_c`. */
  additive?: number[]
}

/** ISDA (Wang et al., NeurIPS 2019): `δ_{c,j} = (λ/2)(w_j − w_c)ᵀ Σ_c (w_j − w_c)`. */
export interface IsdaSpec extends SpecBase {
  /** The rule's name, `'isda'`. */
  rule: 'isda'
  /** `λ ≥ 0`; default 0.5. */
  lambda: number
  /** Classifier weights `[C][D]`; else passed per call in the context. */
  weights?: number[][]
  /** Class feature covariances `[C][D][D]`; else passed per call in the context. */
  covariances?: number[][][]
}

/** The specs LPL accepts as its base rule. */
export type LplBaseSpec = CeSpec | LogitAdjustmentSpec | BalancedSoftmaxSpec | LdamSpec | VsSpec | IsdaSpec

/** LPL (Li et al., TNNLS 2023): a class-level perturbation learned by a bounded gradient search. */
export interface LplSpec extends SpecBase {
  /** The rule's name, `'lpl'`. */
  rule: 'lpl'
  /**
   * How classes are split into `P` (loss raised, positive augmentation) and `N` (loss lowered):
   * - `'prior'` (long-tailed data): the `headClasses` most frequent classes form `N`, the rest `P`;
   * - `'confidence'` (balanced data): classes whose mean true-class confidence is below the
   *   threshold form `P`;
   * - `'fixed'`: `directions` (`+1` for P, `−1` for N) and `bounds` given per class;
   * - `'learned'`: `δ_c = θ_c·d_c` with the signed bounds `θ` learned from a meta batch and held as
   *   the loss's state (SPEC.md section 6); no search of its own.
   */
  split: 'prior' | 'confidence' | 'fixed' | 'learned'
  /** `'prior'`: training-set class counts. */
  classCounts?: number[]
  /** `'prior'`: size of the head; default: the classes whose count is above the median count. */
  headClasses?: number
  /** `'confidence'`: running-average momentum in `[0, 1)`; 0 uses the batch alone. Default 0.9. */
  momentum?: number
  /** `'confidence'`: `'mean'` (mean class confidence, default) or a fixed number in `[0, 1]`. */
  threshold?: 'mean' | number
  /** `'fixed'`: `+1` (P) or `−1` (N) per class. */
  directions?: number[]
  /** `'fixed'`: the bound `ε_c ≥ 0` per class. */
  bounds?: number[]
  /** `'learned'`: `θ` is clipped to `[−maxBound, maxBound]`; default 1.5. */
  maxBound?: number
  /** Step size `α > 0`; default 0.15 (not for `'learned'`). */
  alpha?: number
  /** `prior`, `confidence`: base bound `ε ≥ 0`; default 0.3. */
  epsilon?: number
  /** `prior`, `confidence`: bound growth `Δε ≥ 0`; default 1.2. */
  deltaEpsilon?: number
  /** Cap `K` on every class's step count; default 20 (not for `'learned'`). */
  maxSteps?: number
  /** Normalize each step to length `α` (the released code); default true (not for `'learned'`). */
  normalize?: boolean
  /** `'stop'`: `δ` is a constant for the outer gradient (default); `'through'`: differentiate through the steps. */
  gradient: 'stop' | 'through'
  /** A rule applied first; LPL then searches on its perturbed logits (e.g. LA+LPL). */
  base?: LplBaseSpec
}

/** The authors' released long-tail code, reproduced to its numbers (SPEC.md section 4b). */
export interface OfficialLongtailSpec extends SpecBase {
  /** The rule's name, `'official-longtail'`. */
  rule: 'official-longtail'
  /** Counts in class order, head first, as `classes_freq` of the released code. */
  classCounts: number[]
  /** Number of head classes (negative sign). */
  split: number
  /** `S` of the step-count formula; default 10. */
  stepSize: number
  /** `κ` of the step-count formula for head classes; default 0.6. */
  headFactor: number
  /** `K`, the number of steps run; default 10. */
  steps: number
  /** Step size `α`; default 0.15. */
  alpha: number
}

/** The authors' released balanced-data code, reproduced to its numbers (SPEC.md section 4b). */
export interface OfficialBalancedSpec extends SpecBase {
  /** The rule's name, `'official-balanced'`. */
  rule: 'official-balanced'
  /** `K ≥ 5` (fewer iterations than `K + 1` would store no entry a class uses); default 10. */
  steps: number
  /** Step size `α`; default 0.01. */
  alpha: number
}

/** Any single-label rule spec: labels are class ids `[N]`. */
export type SingleLabelRuleSpec =
  | LplBaseSpec
  | LplSpec
  | OfficialLongtailSpec
  | OfficialBalancedSpec

/**
 * Binary cross-entropy per label (multi-label, SPEC.md section 5):
 * `mean_{i,c} softplus(u_ic) − Y_ic·u_ic`; the zero perturbation of the multi-label rules.
 */
export interface BceSpec extends SpecBase {
  /** The rule's name, `'bce'`. */
  rule: 'bce'
}

/** Logit-adjusted BCE (multi-label): BCE of `u_ic + τ·log(π_c / (1 − π_c))`, `π_c = n_c / numSamples`. */
export interface LogitAdjustedBceSpec extends SpecBase {
  /** The rule's name, `'logit-adjusted-bce'`. */
  rule: 'logit-adjusted-bce'
  /** Positives of each label in the training set. */
  classCounts: number[]
  /** Training-set size (samples); no count may exceed it. */
  numSamples: number
  /** Temperature `τ ≥ 0`; default 1. */
  tau: number
}

/**
 * The negative-tolerant regularization of the distribution-balanced loss (Wu et al., ECCV 2020):
 * `ℓ = y·softplus(−(u − ν)) + (1/λ)(1 − y)·softplus(λ(u − ν))`, `ν_c = −κ·log(1/π_c − 1)`.
 */
export interface DbNegativeTolerantSpec extends SpecBase {
  /** The rule's name, `'db-negative-tolerant'`. */
  rule: 'db-negative-tolerant'
  /** Positives of each label in the training set. */
  classCounts: number[]
  /** Training-set size (samples); no count may exceed it. */
  numSamples: number
  /** Scale `κ ≥ 0` of the class-specific bias `ν`; default 0.05. */
  kappa: number
  /** Negative tolerance `λ > 0` (the negatives' logit scale, and `1/λ` their weight); default 5. */
  lambda: number
}

/**
 * LPL for multi-label data (Li et al., TNNLS 2023; SPEC.md section 5): per label `c`, `δ_c⁺` added
 * to the logits of its positives and `δ_c⁻` to those of its negatives, found by a bounded search on
 * the label's BCE, ascent for the rare labels (`P`), descent for the head (`N`).
 */
export interface LplMultiLabelSpec extends SpecBase {
  /** The rule's name, `'lpl-multilabel'`. */
  rule: 'lpl-multilabel'
  /** Positives of each label in the training set: the split and bounds of SPEC.md section 4 (`prior`). */
  classCounts: number[]
  /** Size of the head `N`; default: the labels whose count is above the median count. */
  headClasses?: number
  /** Step size `α > 0`; default 0.15. */
  alpha: number
  /** Base bound `ε ≥ 0`; default 0.3. */
  epsilon: number
  /** Bound growth `Δε ≥ 0`; default 1.2. */
  deltaEpsilon: number
  /** Cap `K` on every label's step count; default 20. */
  maxSteps: number
  /** Steps `α·sign(g)` (default true) or `α·g`. */
  normalize: boolean
  /** `'stop'`: `δ` is a constant for the outer gradient (default); `'through'`: differentiate through the steps. */
  gradient: 'stop' | 'through'
}

/** Any multi-label rule spec: labels are a 0/1 matrix `[N, C]`. */
export type MultiLabelRuleSpec = BceSpec | LogitAdjustedBceSpec | DbNegativeTolerantSpec | LplMultiLabelSpec

/** Any rule spec, single- or multi-label. */
export type RuleSpec = SingleLabelRuleSpec | MultiLabelRuleSpec

/** The name of a rule. */
export type RuleName = RuleSpec['rule']

/** The rules whose labels are a 0/1 matrix `[N, C]` (SPEC.md section 5). */
export const MULTI_LABEL_RULE_NAMES = [
  'bce', 'logit-adjusted-bce', 'db-negative-tolerant', 'lpl-multilabel',
] as const satisfies readonly MultiLabelRuleSpec['rule'][]

/** Every rule name the library knows, single- and multi-label. */
export const RULE_NAMES = [
  'ce', 'logit-adjustment', 'balanced-softmax', 'ldam', 'vs', 'isda', 'lpl',
  'official-longtail', 'official-balanced',
  ...MULTI_LABEL_RULE_NAMES,
] as const satisfies readonly RuleName[]

/** Whether a spec names a multi-label rule (labels `[N, C]` of 0 and 1). */
export function isMultiLabelSpec(spec: RuleSpec): spec is MultiLabelRuleSpec {
  return (MULTI_LABEL_RULE_NAMES as readonly string[]).includes(spec.rule)
}
