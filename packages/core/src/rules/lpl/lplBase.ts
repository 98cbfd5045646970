import type { BalancedSoftmaxSpec } from '../balancedSoftmax.js'
import type { CdtInput, CdtSpec } from '../cdt.js'
import type { CeSpec } from '../ce.js'
import type { SpecInput } from '../definition.js'
import type { FocalInput, FocalSpec } from '../focal.js'
import type { IsdaInput, IsdaSpec } from '../isda.js'
import type { LdamInput, LdamSpec } from '../ldam.js'
import type { LogitAdjustmentInput, LogitAdjustmentSpec } from '../logitAdjustment.js'
import type { VsInput, VsSpec } from '../vs.js'

/** The specs LPL accepts as its base rule. */
export type LplBaseSpec = CeSpec | LogitAdjustmentSpec | BalancedSoftmaxSpec | FocalSpec | LdamSpec | VsSpec | CdtSpec | IsdaSpec

/** LPL's base rule as written. */
export type LplBaseInput =
  | SpecInput<CeSpec>
  | LogitAdjustmentInput
  | SpecInput<BalancedSoftmaxSpec>
  | FocalInput
  | LdamInput
  | VsInput
  | CdtInput
  | IsdaInput
