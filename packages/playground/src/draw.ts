import type { Points } from './data.js'

/** One colour per class, the head first; classes beyond the list reuse it. */
export const CLASS_COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf']

/** Half the side of the square of the plane shown: the blobs sit on the unit circle, so ±2.5 holds their tails. */
export const VIEW = 2.5

/** Cells per side of the decision-region grid: 96² predictions per redraw, cheap on every backend. */
export const GRID = 96

/** The centres of the grid's cells as a flat `[x, y, …]` array, row by row from the top. */
export function gridPoints(): Float32Array {
  const xy = new Float32Array(2 * GRID * GRID)
  for (let row = 0; row < GRID; row++) {
    for (let col = 0; col < GRID; col++) {
      const i = row * GRID + col
      xy[2 * i] = -VIEW + ((col + 0.5) / GRID) * 2 * VIEW
      xy[2 * i + 1] = VIEW - ((row + 0.5) / GRID) * 2 * VIEW
    }
  }
  return xy
}

function colour(c: number): [number, number, number] {
  const hex = CLASS_COLOURS[c % CLASS_COLOURS.length]!
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number]
}

/**
 * Paints the predicted class of each grid cell in a pale tint of the class colour, then the
 * training points on top in full colour, so one can see which classes the model gives up space to.
 */
export function drawRegions(canvas: HTMLCanvasElement, cellClasses: Int32Array | null, train: Points): void {
  const ctx = canvas.getContext('2d')!
  const size = canvas.width
  ctx.fillStyle = '#fff'
  ctx.fillRect(0, 0, size, size)
  if (cellClasses) {
    const cells = document.createElement('canvas')
    cells.width = cells.height = GRID
    const cellsCtx = cells.getContext('2d')!
    const image = cellsCtx.createImageData(GRID, GRID)
    cellClasses.forEach((c, i) => {
      const [r, g, b] = colour(c)
      // A tint (mixed 30% with white) keeps the points readable on top of their own region.
      image.data.set([255 - 0.3 * (255 - r), 255 - 0.3 * (255 - g), 255 - 0.3 * (255 - b), 255], 4 * i)
    })
    cellsCtx.putImageData(image, 0, 0)
    ctx.imageSmoothingEnabled = false
    ctx.drawImage(cells, 0, 0, size, size)
  }
  const toPixel = (v: number) => ((v + VIEW) / (2 * VIEW)) * size
  for (let i = 0; i < train.labels.length; i++) {
    ctx.beginPath()
    ctx.arc(toPixel(train.xy[2 * i]!), size - toPixel(train.xy[2 * i + 1]!), 2.5, 0, 2 * Math.PI)
    ctx.fillStyle = CLASS_COLOURS[train.labels[i]! % CLASS_COLOURS.length]!
    ctx.fill()
    ctx.strokeStyle = 'rgba(0, 0, 0, 0.5)'
    ctx.stroke()
  }
}

/**
 * One bar per class: its test accuracy (the test set is balanced) and its training count. Each row
 * carries `data-class` and `data-accuracy`, so the numbers can be read off the page as well as seen.
 */
export function renderAccuracyBars(container: HTMLElement, accuracy: readonly number[] | null, classCounts: readonly number[]): void {
  container.replaceChildren(
    ...classCounts.map((n, c) => {
      const row = document.createElement('div')
      row.className = 'bar-row'
      row.dataset.class = String(c)
      const label = document.createElement('span')
      label.className = 'bar-label'
      label.textContent = `class ${c} (n = ${n})`
      const track = document.createElement('span')
      track.className = 'bar-track'
      const bar = document.createElement('span')
      bar.className = 'bar'
      bar.style.background = CLASS_COLOURS[c % CLASS_COLOURS.length]!
      const value = document.createElement('span')
      value.className = 'bar-value'
      if (accuracy) {
        row.dataset.accuracy = String(accuracy[c])
        bar.style.width = `${100 * accuracy[c]!}%`
        value.textContent = `${(100 * accuracy[c]!).toFixed(1)}%`
      } else {
        bar.style.width = '0'
        value.textContent = '–'
      }
      track.append(bar)
      row.append(label, track, value)
      return row
    }),
  )
}
