/**
 * What the PyTorch backend writes, read as text (the modules are run by test/pytorch.test.ts and the
 * golden suite): loops written once, shared subexpressions, no dead bindings, numbers that read back
 * exactly, and the export's refusals.
 */
import type { RuleInput } from '@logit-perturb/core'
import { codeAndField, refusal } from '@logit-perturb/conformance'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PythonProgram, createPythonOps, exportTorchModule, pyNumber } from '../src/index.js'

const COUNTS = [500, 200, 50, 10]
const lines = (source: string, pattern: RegExp) => source.split('\n').filter((l) => pattern.test(l))

describe('exportTorchModule', () => {
  it("writes LPL's search as one for loop of maxSteps iterations, shared by the three reductions", () => {
    const { source } = exportTorchModule({ rule: 'lpl', split: 'prior', classCounts: COUNTS, maxSteps: 7 })
    expect(lines(source, /^\s*for k_\d+ in range\(7\):$/)).toHaveLength(1)
    // The loop state reads as the rule names it: δ, one row per class present, gathered by each
    // sample's slot, moved each step.
    expect(lines(source, /torch\.index_select\(delta_\d+, 0, row_slot_\d+\)/).length).toBeGreaterThanOrEqual(1)
    expect(lines(source, /^\s+move_\d+ = /).length).toBeGreaterThanOrEqual(1)
    expect(source).toMatch(/if self\.reduction == 'mean':[\s\S]*elif self\.reduction == 'sum':[\s\S]*else:/)
  })

  it("writes official-longtail's search as a loop that selects each class's step by the loop's index", () => {
    const { source } = exportTorchModule({ rule: 'official-longtail', classCounts: COUNTS, headClasses: 2, steps: 5 })
    expect(lines(source, /^\s*for k_\d+ in range\(5\):$/)).toHaveLength(1)
    expect(source).toMatch(/index_\d+ = torch\.tensor\(float\(k_\d+\)/)
  })

  it('writes a file that does not grow with the class count beyond the spec: index tables and fresh states by rule, searches as loops', () => {
    // Specs with no per-class numbers of their own: only the digits of C may differ.
    for (const spec of [{ rule: 'official-balanced' }, { rule: 'lpl', split: 'confidence' }, { rule: 'seesaw', numClasses: 1 }] as const) {
      const size = (c: number) =>
        exportTorchModule({ ...spec, ...('numClasses' in spec ? { numClasses: c } : {}) }, { numClasses: c }).source.length
      expect(size(1000) - size(10), spec.rule).toBeLessThan(200)
    }
    const balanced = exportTorchModule({ rule: 'official-balanced' }, { numClasses: 1000 }).source
    expect(balanced).toContain('torch.arange(1000, dtype=torch.float64)')
    expect(lines(balanced, /^\s+for k_\d+ in range\(/)).toHaveLength(1)
  })

  it('leaves no binding unread and binds each buffer once, at the start of the function', () => {
    const { source } = exportTorchModule({ rule: 'lpl', split: 'prior', classCounts: COUNTS, gradient: 'through' })
    const bound = [...source.matchAll(/^\s*([a-z][a-z0-9_]*_\d+) = /gm)].map((m) => m[1]!)
    for (const name of bound) expect(source.split(new RegExp(`\\b${name}\\b`)).length - 1, name).toBeGreaterThan(1)
    const casts = lines(source, /= self\.const_\d+\.to\(/)
    expect(new Set(casts.map((l) => l.split('=')[1])).size).toBe(casts.length)
  })

  it('writes the epoch switch of deferred re-weighting and the state of the confidence split', () => {
    const drw = exportTorchModule({ rule: 'ldam', classCounts: COUNTS, drw: { beta: 0.999, fromEpoch: 3 } }).source
    expect(drw).toContain('if self.epoch >= 3:')
    expect(drw).toContain('self.epoch = 0')
    const weighted = exportTorchModule({ rule: 'focal', classCounts: COUNTS, weighting: { kind: 'class-balanced', fromEpoch: 2 } }).source
    expect(weighted).toContain('if self.epoch >= 2:')
    expect(exportTorchModule({ rule: 'ldam', classCounts: COUNTS, drw: {} }).source).not.toContain('self.epoch')
    const confidence = exportTorchModule({ rule: 'lpl', split: 'confidence', numClasses: 4, momentum: 0.5 })
    expect(confidence.stateful).toBe(true)
    expect(confidence.source).toContain("self.register_buffer('state_confidence'")
    expect(confidence.source).toContain('if self.training:')
    expect(confidence.source).toMatch(/with torch\.no_grad\(\):\n\s+self\.state_confidence\.copy_\(/)
  })

  it("sums every batch statistic through _batch_sum: the class sums in LPL's loop, the counts of plain steps before it", () => {
    const batchSums = (normalize: boolean) => {
      const source = exportTorchModule({ rule: 'lpl', split: 'prior', classCounts: COUNTS, maxSteps: 4, normalize }).source
      const main = source.slice(source.indexOf('def _evaluate_rows('), source.indexOf('def _search_')).split('\n')
      const search = source.slice(source.indexOf('def _search_'), source.search(/def _search_\d+_reverse/)).split('\n')
      const start = search.findIndex((l) => l.startsWith('        for k_'))
      const end = search.findIndex((l, i) => i > start && !l.startsWith('            '))
      return [search.slice(0, start), search.slice(start, end), search.slice(end), main].map(
        (part) => part.filter((l) => l.includes('self._batch_sum(')).length,
      )
    }
    // In the search's method, before the loop the class counts (the slots of the classes present,
    // and the plain steps' divisor), in it the class sums; in the loss the mean's normalizer.
    expect(batchSums(true)).toEqual([1, 1, 0, 1])
    expect(batchSums(false)).toEqual([1, 1, 0, 1])
  })

  it("takes F.cross_entropy's targets: ids with ignore_index (-100 by default), probabilities where the rule defines them, any rank", () => {
    const la = exportTorchModule({ rule: 'logit-adjustment', classCounts: COUNTS })
    expect(la.softTargets).toBe(true)
    expect(la.source).toContain("def __init__(self, reduction='mean', all_reduce=True, check_values=True, ignore_index=-100):")
    // Typed for torch.jit.script.
    expect(la.source).toContain(
      'def forward(self, logits: Tensor, target: Tensor, sample_weight: Optional[Tensor] = None, mask: Optional[Tensor] = None) -> Tensor:',
    )
    // The checks of the target, then one traced body per kind of target, chosen when the module runs.
    expect(lines(la.source, /^ {8}if soft:$/)).toHaveLength(2)
    expect(la.source).toContain('.masked_fill(ignored.to(device), -100)')
    // Logits of any rank become rows, and results come back to their layout.
    expect(la.source).toContain('logits.movedim(1, -1).reshape(-1, 4)')
    expect(la.source).toMatch(/\.reshape\(logits\.movedim\(1, -1\)\.shape\)\.movedim\(-1, 1\)$/m)
    expect(la.source).toMatch(/\.reshape\(logits\.shape\[:1\] \+ logits\.shape\[2:\]\)$/m)
    const seesaw = exportTorchModule({ rule: 'seesaw', numClasses: 4 })
    expect(seesaw.softTargets).toBe(false)
    expect(lines(seesaw.source, /^ {8}if soft:$/)).toHaveLength(1)
    expect(seesaw.source).toContain("rule seesaw does not define soft targets (probability rows): its method reads each sample's class")
    const bce = exportTorchModule({ rule: 'bce', numClasses: 4 })
    expect(bce.softTargets).toBe(false)
    expect(bce.source).not.toContain('ignore_index')
  })

  it("scores class ids with a gather, and makes what only the closed-form gradient reads in that gradient's branch", () => {
    const { source } = exportTorchModule({ rule: 'logit-adjustment', classCounts: COUNTS })
    const ids = source.slice(source.indexOf('        else:\n            positions_'))
    // Outside `if with_gradient:` the class-id branch has no [N, C] one-hot matrix nor its product.
    const outside = ids.replace(/^(\s+)if with_gradient:\n(?:\1 {4}.*\n)+/gm, '')
    expect(outside).toMatch(/torch\.gather\(log_softmax_\d+, 1, ids_\d+\)/)
    expect(outside).not.toMatch(/one_hot_\d+ = /)
    expect(outside).not.toMatch(/torch\.softmax\(/)
    // Each of the three reductions' gradient branches makes the one-hot matrix it reads.
    expect(lines(ids, /^ {20}one_hot_\d+ = /)).toHaveLength(3)
  })

  it('writes the value checks of the logits as one aminmax, with the element-wise checks only when an end is not finite', () => {
    const { source } = exportTorchModule({ rule: 'logit-adjustment', classCounts: COUNTS })
    const checks = source.slice(source.indexOf('if self.check_values and logits.numel() > 0:'))
    expect(checks).toMatch(
      /:\n {12}low, high = torch\.aminmax\(logits\)\n {12}if not \(bool\(torch\.isfinite\(low\)\) and bool\(torch\.isfinite\(high\)\)\):\n {16}/,
    )
  })

  it("writes a rule's own reverse pass as the backward of an autograd.Function, once for the three reductions", () => {
    const { source } = exportTorchModule({ rule: 'official-longtail', classCounts: COUNTS, headClasses: 2, steps: 5 })
    // One search: a forward method (the loop) and a reverse method, called by one _CustomGradient.
    expect(lines(source, /^ {4}def _search_\d+_forward\(self, x_\d+: Tensor, captured: List\[Tensor\]/)).toHaveLength(1)
    expect(lines(source, /^ {4}def _search_\d+_reverse\(self, dy_\d+: Tensor, saved: List\[Tensor\]/)).toHaveLength(1)
    expect(source).toMatch(/^ {4}@torch\.jit\.unused\n {4}def _search_\d+_reverse/m)
    expect(lines(source, /_CustomGradient\.apply\(/)).toHaveLength(1)
    // Scripted, the forward method is called and differentiated through.
    expect(source).toMatch(/if torch\.jit\.is_scripting\(\):\n\s+search_\d+ = self\._search_\d+_forward\(/)
    // Each method body reads only what it binds, is given, or the function's dtype and device.
    for (const method of source.split(/\n {4}(?=def |@torch)/).filter((m) => /^def _search_/.test(m))) {
      const bound = new Set([...method.matchAll(/\b([a-z][a-z0-9_]*_\d+)(?: = |: Tensor| in range)/g)].map((m) => m[1]!))
      for (const read of method.match(/(?<![.\w])[a-z][a-z0-9_]*_\d+\b/g) ?? []) expect(bound, read).toContain(read)
    }
  })

  it('refuses a spec without a class count, a class count the spec contradicts or out of range, a bad class name and bad options', () => {
    expect(codeAndField(refusal(() => exportTorchModule({ rule: 'ce' })))).toBe('INVALID_PARAMETER numClasses')
    expect(codeAndField(refusal(() => exportTorchModule({ rule: 'logit-adjustment', classCounts: COUNTS }, { numClasses: 5 })))).toBe(
      'INVALID_PARAMETER numClasses',
    )
    expect(codeAndField(refusal(() => exportTorchModule({ rule: 'ce', numClasses: 3 }, { className: 'not a name' })))).toBe(
      'INVALID_PARAMETER className',
    )
    expect(codeAndField(refusal(() => exportTorchModule({ rule: 'lpl' } as unknown as RuleInput)))).toBe('INVALID_SPEC split')
    // Options are checked like spec fields.
    expect(codeAndField(refusal(() => exportTorchModule({ rule: 'ce', numClasses: 3 }, null as never)))).toBe('INVALID_PARAMETER options')
    expect(codeAndField(refusal(() => exportTorchModule({ rule: 'ce', numClasses: 3 }, { context: 5 as never })))).toBe(
      'INVALID_PARAMETER context',
    )
    expect(codeAndField(refusal(() => exportTorchModule({ rule: 'ce' }, { numClasses: 1e308 })))).toBe('INVALID_PARAMETER numClasses')
  })
})

describe('createPythonOps', () => {
  it('writes a body that reads the host iteration number once per iteration (unrolled), not as a loop', () => {
    const ops = createPythonOps()
    const x = ops.input('x', 'float32', [3])
    const [out] = ops.loop!(3, [x], (k, [s]) => [ops.add(s!, ops.constant([k + 1], []))])
    ops.program.line(`result = ${out!.expr}`)
    const body = ops.program.body('')
    expect(body.some((l) => l.startsWith('for '))).toBe(false)
    expect(body.filter((l) => / \+ [123]\.0$/.test(l))).toHaveLength(3)
    expect(out!.expr).toMatch(/^add_\d+$/)
  })

  it('shares a subexpression written twice in one scope, not across sibling branches', () => {
    const program = new PythonProgram()
    const ops = createPythonOps(program)
    const x = ops.input('x', 'float32', [-1, 4])
    expect(ops.softmax(x)).toBe(ops.softmax(x))
    let inBranch: unknown
    program.block('if a:', () => {
      inBranch = ops.exp(x)
    })
    program.block('else:', () => {
      expect(ops.exp(x)).not.toBe(inBranch)
    })
  })

  it('refuses operands of another program and shapes that cannot broadcast', () => {
    const a = createPythonOps()
    const b = createPythonOps()
    expect(codeAndField(refusal(() => a.add(a.input('x', 'float32', [2]), b.input('y', 'float32', [2]))))).toBe('INVALID_PARAMETER')
    expect(codeAndField(refusal(() => a.add(a.input('x', 'float32', [2]), a.input('y', 'float32', [3]))))).toBe('SHAPE_MISMATCH')
  })
})

describe('pyNumber', () => {
  it('writes every double so that it reads back as the same double', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (v) => {
        const text = pyNumber(v)
        expect(text).toMatch(/^-?(\d+\.\d*|\d+(\.\d+)?e[+-]\d+|\d\.\d+)$|^-?\d+(\.\d+)?e[+-]?\d+$/)
        expect(Object.is(Number(text), v)).toBe(true)
      }),
    )
    expect([pyNumber(Infinity), pyNumber(-Infinity), pyNumber(Number.NaN), pyNumber(3)]).toEqual([
      'math.inf',
      '-math.inf',
      'math.nan',
      '3.0',
    ])
  })
})
