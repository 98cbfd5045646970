/**
 * A one-line progress bar on stderr: what runs (method, seed, epoch), the last batch loss, and the
 * time left, estimated from the steps done so far. On a terminal it redraws in place; elsewhere
 * (a log, CI) it prints one line per epoch.
 */
export class Progress {
  private done = 0
  private readonly started = performance.now()
  private lastEpochLine = ''

  constructor(
    private readonly totalSteps: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  step(label: string, epoch: number, epochs: number, batch: number, batches: number, loss: number): void {
    this.done++
    const elapsed = (performance.now() - this.started) / 1000
    const left = (elapsed / this.done) * (this.totalSteps - this.done)
    const fraction = this.done / this.totalSteps
    const bar = '#'.repeat(Math.round(20 * fraction)).padEnd(20, '.')
    const line =
      `[${bar}] ${label} epoch ${epoch + 1}/${epochs} batch ${batch + 1}/${batches} loss ${loss.toFixed(4)} ` +
      `${formatSeconds(elapsed)} elapsed, ${formatSeconds(left)} left`
    if (this.stream.isTTY) this.stream.write(`\r${line.slice(0, (this.stream.columns ?? 120) - 1)}\x1b[K`)
    else if (batch + 1 === batches && line !== this.lastEpochLine) {
      this.lastEpochLine = line
      this.stream.write(`${line}\n`)
    }
  }

  finish(): void {
    if (this.stream.isTTY) this.stream.write('\r\x1b[K')
  }
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?'
  const m = Math.floor(s / 60)
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`
}
