/**
 * What one benchmark run measured, as kept in its JSON record under bench/results/: a row per
 * scenario (cluster and baseline), the processes' memory, and how rows are built from the stats.
 */
import type { DynamoctlRoundTrip } from './dynamoctl-round-trip.js'
import type { RssPeak } from './rss-sampler.js'
import type { Stats, Unit } from './stats.js'

export interface Row {
  id: string
  title: string
  unit: Unit
  cluster: Stats
  baseline?: Stats
  /** Cluster throughput over baseline throughput for the same scenario. */
  ratio?: number
}

export interface RssRow {
  name: string
  put?: RssPeak
  /** Between the PUT's answer and the GET, while the run waited for every process to go idle. */
  settle?: RssPeak
  get?: RssPeak
  /** Highest peak minus the RSS before the PUT, MiB. */
  growthMiB: number
  flat: boolean
}

export interface Report {
  date: string
  commit: string
  dirty: boolean
  quick: boolean
  command: string
  machine: { node: string; cpus: number; memGiB: number; platform: string; loadavg: number[] }
  /** Load average (1, 5, 15 min) before the run; other work on the machine skews the numbers. */
  loadBefore: number[]
  settings: Record<string, unknown>
  target: string
  rows: Row[]
  rss: { objectBytes: number; flatLimitMiB: number; rows: RssRow[]; settleMs?: { cluster: number; baseline: number } }
  /** `./dynamoctl put` then `get` of one object of the huge size (own cluster only). */
  dynamoctl?: DynamoctlRoundTrip
  problems: string[]
}

export function throughput(s: Stats, unit: Unit): number {
  return unit === 'MB/s' ? s.mbPerSec : s.opsPerSec
}

export function withRatio(row: Omit<Row, 'ratio'>): Row {
  if (!row.baseline) return row
  const b = throughput(row.baseline, row.unit)
  return { ...row, ratio: b > 0 ? Math.round((throughput(row.cluster, row.unit) / b) * 1000) / 1000 : 0 }
}

/** RSS per process over the PUT and GET phases; flat when the peak grew less than `flatLimitMiB` over the RSS before the PUT. */
export function rssRows(put: readonly RssPeak[], get: readonly RssPeak[], flatLimitMiB: number, settle: readonly RssPeak[] = []): RssRow[] {
  const names = [...new Set([...put.map((p) => p.name), ...get.map((p) => p.name)])]
  return names.map((name) => {
    const p = put.find((x) => x.name === name)
    const st = settle.find((x) => x.name === name)
    const g = get.find((x) => x.name === name)
    const before = p?.startMiB ?? g?.startMiB ?? 0
    const growthMiB = Math.round((Math.max(p?.peakMiB ?? 0, st?.peakMiB ?? 0, g?.peakMiB ?? 0) - before) * 10) / 10
    const row: RssRow = { name, growthMiB, flat: growthMiB < flatLimitMiB }
    if (p) row.put = p
    if (st) row.settle = st
    if (g) row.get = g
    return row
  })
}
