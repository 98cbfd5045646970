import { CliError } from '../errors.js'
import { METHODS, type Method } from './methods.js'

/** The methods of `lpl train --task segmentation` when `--methods all`, in report order. */
const DEFAULT_NAMES = ['ce', 'la', 'cb-ce', 'seesaw', 'lpl']

/**
 * Methods of the classification table that fit a per-pixel loss: a plain classifier layer (no
 * cosine logits), no post-hoc τ (it needs the validation split) and no learned bounds (they need
 * the MLP's last layer).
 */
const fitsSegmentation = (m: Method): boolean => m.classifier === 'dense' && !m.posthoc && !m.learned

/** The segmentation methods named in a comma-separated list (`all`: ce, la, cb-ce, seesaw, lpl). */
export function selectSegmentationMethods(list: string): Method[] {
  const usable = METHODS.filter(fitsSegmentation)
  const names = list === 'all' ? DEFAULT_NAMES : list.split(',').map((name) => name.trim())
  return names.map((name) => {
    const method = usable.find((m) => m.name === name)
    if (!method) throw new CliError(`unknown segmentation method "${name}"; known: ${usable.map((m) => m.name).join(', ')}`, 2)
    return method
  })
}

/** The segmentation methods `lpl train --help` lists. */
export const SEGMENTATION_METHOD_NAMES: readonly string[] = METHODS.filter(fitsSegmentation).map((m) => m.name)
