#!/usr/bin/env node
/**
 * `lpl`: trains models on long-tailed Fashion-MNIST with each rule (`train`), and verifies,
 * explains, exports and applies rules (`verify`, `explain`, `export`, `adjust`), and audits
 * implementations against specs (`audit`).
 */
import { LogitPerturbError } from '@logit-perturb/core'
import { CliError } from './errors.js'
import { COMMANDS, USAGE } from './commands/index.js'

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(USAGE)
    return name === undefined ? 2 : 0
  }
  const command = COMMANDS[name]
  if (!command) throw new CliError(`unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(', ')}`, 2)
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage)
    return 0
  }
  await command.run(rest)
  return process.exitCode === undefined ? 0 : Number(process.exitCode)
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof CliError) {
      console.error(`lpl: ${error.message}`)
      process.exit(error.exitCode)
    }
    if (error instanceof LogitPerturbError) {
      console.error(`lpl: ${error.code}: ${error.message}`)
      process.exit(1)
    }
    // parseArgs' errors (unknown option, missing value) are usage errors.
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      console.error(`lpl: ${error.message}`)
      process.exit(2)
    }
    console.error(`lpl: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    process.exit(1)
  },
)
