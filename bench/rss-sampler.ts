/**
 * Resident memory of named processes, read from /proc/<pid>/status (VmRSS) every 100 ms while a
 * phase runs. Only for processes this run owns: with --target the cluster's pids are unknown.
 */
import { readFileSync } from 'node:fs'

export interface RssPeak {
  name: string
  pid: number
  /** VmRSS when sampling started, MiB. */
  startMiB: number
  /** Highest VmRSS seen while sampling, MiB. */
  peakMiB: number
  /** VmRSS at the last sample, MiB. */
  endMiB: number
  samples: number
}

/** VmRSS of a live process in KiB, or undefined once it is gone (or /proc is not there). */
export function readRssKiB(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) : undefined
  } catch {
    return undefined
  }
}

export class RssSampler {
  private readonly peaks = new Map<string, { pid: number; start: number; peak: number; end: number; samples: number }>()
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly procs: readonly { name: string; pid: number }[],
    private readonly intervalMs = 100,
  ) {}

  start(): this {
    this.sample()
    this.timer = setInterval(() => this.sample(), this.intervalMs)
    this.timer.unref()
    return this
  }

  private sample(): void {
    for (const p of this.procs) {
      const kib = readRssKiB(p.pid)
      if (kib === undefined) continue
      const seen = this.peaks.get(p.name)
      if (!seen) this.peaks.set(p.name, { pid: p.pid, start: kib, peak: kib, end: kib, samples: 1 })
      else {
        seen.peak = Math.max(seen.peak, kib)
        seen.end = kib
        seen.samples++
      }
    }
  }

  /** Stop sampling (one last sample first) and return each process's figures. */
  stop(): RssPeak[] {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    this.sample()
    return this.procs.flatMap((p) => {
      const s = this.peaks.get(p.name)
      return s
        ? [{ name: p.name, pid: s.pid, startMiB: toMiB(s.start), peakMiB: toMiB(s.peak), endMiB: toMiB(s.end), samples: s.samples }]
        : []
    })
  }
}

function toMiB(kib: number): number {
  return Math.round((kib / 1024) * 10) / 10
}

/** Run `work` while sampling the processes; sampling stops whether it succeeds or throws. */
export async function sampleDuring<T>(procs: readonly { name: string; pid: number }[], work: () => Promise<T>): Promise<{ value: T; rss: RssPeak[] }> {
  const sampler = new RssSampler(procs).start()
  try {
    const value = await work()
    return { value, rss: sampler.stop() }
  } finally {
    sampler.stop()
  }
}
