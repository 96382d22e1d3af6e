/**
 * Options and CPU readings shared by the bench scripts (setup.ts's settings use `wholeNumber`;
 * durable-floor, store-cost and warmup-curve `intOptions`): whole-number options parsed strictly (an unknown or malformed option is a usage
 * error, never silently ignored), and the CPU time of processes that must still be alive.
 */
import { parseArgs } from 'node:util'
import { readCpuSeconds } from './rss-sampler.js'

export class UsageError extends Error {}

export interface IntOption {
  /** A list option's default may be several values. */
  default: number | number[]
  /** Smallest accepted value (default 1). */
  min?: number
  /** Accept a comma-separated list. */
  list?: boolean
}

/** Parse `--name N` (or `--name N,M` for lists) options; throws UsageError on anything else. */
export function intOptions<K extends string>(argv: readonly string[], spec: Record<K, IntOption>): Record<K, number[]> {
  let values: Record<string, string | boolean | undefined>
  try {
    const options = Object.fromEntries(Object.keys(spec).map((k) => [k, { type: 'string' as const }]))
    values = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const out = {} as Record<K, number[]>
  for (const key of Object.keys(spec) as K[]) {
    const { default: dflt, min = 1, list = false } = spec[key]
    const text = values[key]
    if (typeof text !== 'string') {
      out[key] = Array.isArray(dflt) ? dflt : [dflt]
      continue
    }
    out[key] = (list ? text.split(',') : [text]).map((part) => wholeNumber(key, part, min, text))
  }
  return out
}

/** `text` as a whole number >= `min`, else a UsageError naming `--name` (and `whole`, the option's full text). */
export function wholeNumber(name: string, text: string, min = 1, whole = text): number {
  const n = Number(text.trim())
  if (text.trim() === '' || !Number.isInteger(n) || n < min) throw new UsageError(`--${name} needs whole numbers >= ${min}, got ${whole}`)
  return n
}

/** `intOptions`, or undefined after printing the problem and `usage` and setting exit code 2. */
export function intOptionsOrUsage<K extends string>(argv: readonly string[], spec: Record<K, IntOption>, usage: string): Record<K, number[]> | undefined {
  try {
    return intOptions(argv, spec)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    console.error(`${err.message}\n${usage}`)
    process.exitCode = 2
    return undefined
  }
}

/** User + system CPU seconds of processes that must all still be running (a dead one would make the figure a lie). */
export function cpuSecondsOf(procs: readonly { name: string; pid: number }[]): number {
  let total = 0
  for (const p of procs) {
    const s = readCpuSeconds(p.pid)
    if (s === undefined) throw new Error(`${p.name} (pid ${p.pid}) is gone: its CPU time cannot be read`)
    total += s
  }
  return total
}
