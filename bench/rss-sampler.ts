/**
 * Resident memory of named processes, read from /proc/<pid>/status (VmRSS) every 100 ms while a
 * phase runs, and the CPU time each used over the phase (/proc/<pid>/stat). Only for processes
 * this run owns: with --target the cluster's pids are unknown.
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
  /** CPU seconds (user + system) the process used while sampling. */
  cpuSeconds: number
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on Linux). */
const USER_HZ = 100

/** User and system CPU time of a live process in seconds, or undefined once it is gone. */
export function readCpuTimes(pid: number): { user: number; system: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { user: Number(fields[11]) / USER_HZ, system: Number(fields[12]) / USER_HZ }
  } catch {
    return undefined
  }
}

/** User + system CPU time of a live process in seconds, or undefined once it is gone. */
export function readCpuSeconds(pid: number): number | undefined {
  const t = readCpuTimes(pid)
  return t && t.user + t.system
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
  private readonly peaks = new Map<string, { pid: number; start: number; peak: number; end: number; samples: number; cpuStart: number; cpuEnd: number }>()
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
      const cpu = readCpuSeconds(p.pid) ?? 0
      const seen = this.peaks.get(p.name)
      if (!seen) this.peaks.set(p.name, { pid: p.pid, start: kib, peak: kib, end: kib, samples: 1, cpuStart: cpu, cpuEnd: cpu })
      else {
        seen.peak = Math.max(seen.peak, kib)
        seen.end = kib
        seen.cpuEnd = cpu
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
        ? [
            {
              name: p.name,
              pid: s.pid,
              startMiB: toMiB(s.start),
              peakMiB: toMiB(s.peak),
              endMiB: toMiB(s.end),
              samples: s.samples,
              cpuSeconds: Math.round((s.cpuEnd - s.cpuStart) * 100) / 100,
            },
          ]
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

/**
 * Wait until none of the processes uses more than `maxShare` of a core over a `windowMs` window
 * (or `maxMs` passed); resolves with the time waited. Work a PUT leaves behind after its answer
 * (the replica beyond W still receiving and syncing its copy) ends before the next phase.
 */
export async function waitIdle(procs: readonly { name: string; pid: number }[], maxMs = 30_000, windowMs = 500, maxShare = 0.1): Promise<number> {
  const start = performance.now()
  while (performance.now() - start < maxMs) {
    const before = procs.map((p) => readCpuSeconds(p.pid) ?? 0)
    await new Promise((r) => setTimeout(r, windowMs))
    const busy = procs.some((p, i) => ((readCpuSeconds(p.pid) ?? 0) - (before[i] as number)) * 1000 > windowMs * maxShare)
    if (!busy) break
  }
  return Math.round(performance.now() - start)
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
