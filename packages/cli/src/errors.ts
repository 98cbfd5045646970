/**
 * An error meant for the person at the terminal: `lpl` prints its message as one line and exits
 * with status 1 (2 for a usage error), without a stack trace.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message)
    this.name = 'CliError'
  }
}
