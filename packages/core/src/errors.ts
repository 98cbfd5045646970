/**
 * Every way a call into the library can be refused. Each code names one kind of bad input, so that
 * callers can branch on `error.code` and tests can check that the right problem was found.
 */
export type LogitPerturbErrorCode =
  /** Logits are not a rank-2 `[N, C]` tensor (or `C` disagrees with the rule's class count). */
  | 'LOGITS_SHAPE'
  /** Logits contain NaN or ±Infinity (and the rule was not told to propagate them). */
  | 'LOGITS_NOT_FINITE'
  /** Labels are not a vector of length `N` (multi-label rules: not a matrix `[N, C]` like the logits). */
  | 'LABELS_SHAPE'
  /** A label is fractional, negative, `≥ C`, or not a number (multi-label rules: an entry other than 0 or 1). */
  | 'LABEL_VALUE'
  /**
   * Soft targets (probability rows) given to a rule whose method does not define them (LPL, seesaw,
   * the focal loss), or to an operation that takes class ids only (`explain`).
   */
  | 'SOFT_TARGETS'
  /** `classCounts` has the wrong length. */
  | 'CLASS_COUNTS_LENGTH'
  /** A sample weight is negative or not finite. */
  | 'SAMPLE_WEIGHT_VALUE'
  /** A row mask holds an entry other than 0 and 1. */
  | 'MASK_VALUE'
  /** A class count is negative, non-finite, or every count is zero. */
  | 'CLASS_COUNTS_VALUE'
  /** A hyper-parameter is out of its range or of the wrong type. */
  | 'INVALID_PARAMETER'
  /** A spec names a rule this library does not know. */
  | 'UNKNOWN_RULE'
  /** A spec is not an object, misses a required field, or has a field this rule does not take. */
  | 'INVALID_SPEC'
  /** Two tensors handed to one operation have shapes that do not fit. */
  | 'SHAPE_MISMATCH'
  /** A context value the rule needs (for example ISDA's classifier weights) is missing or malformed. */
  | 'MISSING_CONTEXT'
  /** A saved rule state does not fit the rule (wrong class count, values out of range). */
  | 'INVALID_STATE'
  /** A serialized model (ONNX bytes) cannot be read, or lacks what the operation needs (an output, an opset). */
  | 'INVALID_MODEL'
  /**
   * An optional peer package the call needs is not installed or not loaded (for example
   * `onnxruntime-web` to run an ONNX model, or tfjs-layers for the gradients of tfjs's kernels); the
   * message names the package to install.
   */
  | 'MISSING_PEER_DEPENDENCY'

/**
 * The one error type of the library. `code` says what kind of input was refused; `field` (when set)
 * is the path of the offending spec field or argument, e.g. `"base.classCounts[3]"` or `"labels"`.
 */
export class LogitPerturbError extends Error {
  /** The kind of problem, e.g. `'LOGITS_SHAPE'` or `'INVALID_PARAMETER'`. */
  readonly code: LogitPerturbErrorCode
  /** The path of the offending spec field or argument, or `undefined` when none applies. */
  readonly field: string | undefined

  constructor(code: LogitPerturbErrorCode, message: string, field?: string) {
    super(field === undefined ? message : `${field}: ${message}`)
    this.name = 'LogitPerturbError'
    this.code = code
    this.field = field
  }
}

/** Throws a {@link LogitPerturbError} unless `condition` holds. */
export function check(condition: boolean, code: LogitPerturbErrorCode, message: string, field?: string): asserts condition {
  if (!condition) throw new LogitPerturbError(code, message, field)
}
