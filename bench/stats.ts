/** What one measurement of one target yields, and how latencies become percentiles. */

export type Unit = 'ops/s' | 'MB/s' | 'keys/s'

export interface Stats {
  /** Operations that succeeded (2xx, verified where the scenario verifies). */
  ops: number
  /** Failed operations: transport errors, timeouts, non-2xx answers, failed verifications. */
  errors: number
  /** What the errors were, counted by kind (e.g. "status 503", "timeout"). */
  errorKinds: Record<string, number>
  seconds: number
  /** Payload bytes moved (bodies sent by PUTs, received by GETs). */
  bytes: number
  opsPerSec: number
  /** Payload megabytes (10^6 bytes) per second. */
  mbPerSec: number
  p50Ms: number
  p99Ms: number
  p999Ms: number
}

/** Latency samples in ms; keeps at most `cap` (the rest are counted, not kept). */
export class Latencies {
  private readonly values: number[] = []
  constructor(private readonly cap = 5_000_000) {}

  push(ms: number): void {
    if (this.values.length < this.cap) this.values.push(ms)
  }

  get count(): number {
    return this.values.length
  }

  /** Nearest-rank percentiles. */
  percentiles(): { p50Ms: number; p99Ms: number; p999Ms: number } {
    const sorted = Float64Array.from(this.values).sort()
    const at = (p: number): number => {
      if (sorted.length === 0) return 0
      const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
      return round(sorted[i] as number, 3)
    }
    return { p50Ms: at(50), p99Ms: at(99), p999Ms: at(99.9) }
  }
}

export class ErrorCounter {
  readonly kinds: Record<string, number> = {}
  total = 0
  add(kind: string, n = 1): void {
    if (n <= 0) return
    this.kinds[kind] = (this.kinds[kind] ?? 0) + n
    this.total += n
  }
}

export function makeStats(ops: number, errors: ErrorCounter, seconds: number, bytes: number, lat: Latencies): Stats {
  return {
    ops,
    errors: errors.total,
    errorKinds: errors.kinds,
    seconds: round(seconds, 3),
    bytes,
    opsPerSec: seconds > 0 ? round(ops / seconds, 1) : 0,
    mbPerSec: seconds > 0 ? round(bytes / seconds / 1e6, 2) : 0,
    ...lat.percentiles(),
  }
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}
