/** Config helpers shared by both processes: seeds, the cluster secret, numbers with units. */
import { readFileSync } from 'node:fs'
import { InvalidArgumentError } from 'commander'
import { isMemberAddress, NODE_ID_RE } from '../names.js'

/** `host:port,host:port` -> list; each entry checked. */
export function parseSeeds(text: string | undefined): string[] {
  if (!text) return []
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      if (!isMemberAddress(s)) throw new InvalidArgumentError(`seed "${s}" is not host:port`)
      return s
    })
}

/** `host:port` with a port in 1..65535 (the same shape as a seed, and as gossip accepts). */
export function parseAddress(v: string): string {
  if (!isMemberAddress(v)) throw new InvalidArgumentError('expected host:port (a host name or IPv4 address, a port in 1..65535)')
  return v
}

/** A member id (the same rule as gossip applies). */
export function parseNodeId(v: string): string {
  if (!NODE_ID_RE.test(v)) throw new InvalidArgumentError('letters, digits, "-" and "_", at most 63')
  return v
}

export function parseIntArg(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value)
    // Number('') and Number(' ') are 0: an empty value is a mistake, not zero.
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer in ${min}..${max}`)
    return n
  }
}

/** A probability: a number from 0 to 1. */
export function parseFraction(value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a number from 0 to 1')
  return n
}

/** `on` or `off`. */
export function parseOnOff(value: string): boolean {
  if (value !== 'on' && value !== 'off') throw new InvalidArgumentError('on or off')
  return value === 'on'
}

/** A parser for a flag that takes one of `choices`. */
export function parseChoice<const C extends string>(...choices: C[]): (value: string) => C {
  return (value) => {
    const found = choices.find((c) => c === value)
    if (found === undefined) throw new InvalidArgumentError(choices.join(' or '))
    return found
  }
}

/** Help text of --internal-rpc, the same for both processes. */
export const INTERNAL_RPC_HELP = 'small reads and writes between members over multiplexed RPC channels (off: one HTTP request each)'

/** The cluster secret: --secret-file wins, then CLUSTER_SECRET; refuses to run without one. */
export function loadSecret(secretFile: string | undefined, env: NodeJS.ProcessEnv): string {
  const secret = secretFile ? readFileSync(secretFile, 'utf8').trim() : (env.CLUSTER_SECRET ?? '').trim()
  if (secret.length < 16) {
    throw new Error('a cluster secret of at least 16 characters is required: set CLUSTER_SECRET or pass --secret-file')
  }
  return secret
}
