/**
 * The command line of every script (bench/, faults/, cluster-ctl/), parsed with commander as the
 * servers parse theirs (storage-node/config.ts, proxy/config.ts): `--help` prints the usage and
 * exits 0; an unknown option or a bad value prints what is wrong and exits 2.
 */
import { pathToFileURL } from 'node:url'
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { parseIntArg } from '../shared/config/common.js'

export { Command, InvalidArgumentError, Option }
/** The value parsers the servers use: an integer in min..max, and one of some choices. */
export { parseChoice, parseIntArg } from '../shared/config/common.js'

/** A commander program for a script: `name` is how its usage names it. */
export function scriptCommand(name: string, description: string): Command {
  return new Command(name).description(description).exitOverride().allowExcessArguments(false).showHelpAfterError('(see --help)')
}

/**
 * `argv` (without node and the script) parsed by `cmd`; throws CommanderError on --help (exitCode 0)
 * and on bad input (exitCode 1). `silent`: print neither the usage nor the error (for tests).
 */
export function parseCommandLine(cmd: Command, argv: readonly string[], { silent = false } = {}): Command {
  if (silent) cmd.configureOutput({ writeOut: () => {}, writeErr: () => {} })
  return cmd.exitOverride().parse([...argv], { from: 'user' })
}

/** `parseCommandLine`, exiting 0 after --help and 2 after bad input (commander has printed the message). */
export function parseCommandLineOrExit(cmd: Command, argv: readonly string[] = process.argv.slice(2)): Command {
  try {
    return parseCommandLine(cmd, argv)
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2)
    throw err
  }
}

/** A number (fractions allowed) in min..max. */
export function parseNumberArg(min: number, max: number): (text: string) => number {
  return (text) => {
    const n = Number(text)
    if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`expected a number from ${min} to ${max}`)
    return n
  }
}

/** A comma-separated list of integers in min..max, e.g. `16,64`. */
export function parseIntList(min: number, max: number): (text: string) => number[] {
  const one = parseIntArg(min, max)
  return (text) => text.split(',').map((part) => one(part.trim()))
}

/** True when the module at `moduleUrl` is the script node was started with (not imported by a test). */
export function isMain(moduleUrl: string): boolean {
  const script = process.argv[1]
  return script !== undefined && moduleUrl === pathToFileURL(script).href
}
