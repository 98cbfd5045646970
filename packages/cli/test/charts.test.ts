import { describe, expect, it } from 'vitest'
import { balancedAccuracyChart, perClassChart } from '../src/report/svg.js'
import type { MethodSummary } from '../src/report/summary.js'

/** `count` methods whose per-class accuracy is 0.5 on each of `classes` classes. */
function summaries(count: number, classes: number): MethodSummary[] {
  return Array.from({ length: count }, (_, m) => ({
    method: `method-${m}`,
    seeds: [0],
    balancedAccuracy: { mean: 0.5, std: 0.01 },
    groups: {},
    perClass: Array.from({ length: classes }, () => 0.5),
    runs: [],
  }))
}

const attribute = (tag: string, name: string): string => new RegExp(`${name}="([^"]*)"`).exec(tag)![1]!

describe('the results charts', () => {
  it('give each of thirteen methods its own colour, and keep the legend inside the picture', () => {
    const names = Array.from({ length: 3 }, (_, c) => `class ${c}`)
    const svg = perClassChart(summaries(13, 3), names, [30, 20, 10])
    const width = Number(attribute(svg, 'width'))
    const height = Number(attribute(svg, 'height'))
    // Legend swatches are the 10×10 squares; each method has one.
    const swatches = svg.match(/<rect x="[\d.]+" y="[\d.]+" width="10" height="10" fill="[^"]+"\/>/g) ?? []
    expect(swatches).toHaveLength(13)
    expect(new Set(swatches.map((s) => attribute(s, 'fill'))).size).toBe(13)
    for (const s of swatches) {
      expect(Number(attribute(s, 'x')) + 110).toBeLessThanOrEqual(width)
      expect(Number(attribute(s, 'y')) + 10).toBeLessThanOrEqual(height)
    }
    const bars = balancedAccuracyChart(summaries(13, 3)).match(/fill="#[0-9a-f]{6}"><title>/g) ?? []
    expect(new Set(bars).size).toBe(13)
  })
})
