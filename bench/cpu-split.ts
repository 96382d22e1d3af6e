/**
 * Where a small PUT's CPU goes, process by process: after a warm-up, one window of 4 KiB PUTs
 * (unique keys) per concurrency against a fresh cluster (default settings), with each process's
 * user and system CPU per PUT and its voluntary and involuntary context switches per PUT, read from
 * /proc. Voluntary switches count the waits (for the disk, for the next request); involuntary ones
 * count preemptions, e.g. by the process a socket write has just woken.
 */
import { readFileSync } from 'node:fs'
import { ensureBucket } from './http-client.js'
import { Owned } from './owned.js'
import { readCpuTimes } from './rss-sampler.js'
import { cannon, putRequest, uniquePutSpec } from './scenarios.js'
import { intOptionsOrUsage } from './script-args.js'
import { startOwnCluster } from './setup.js'

const USAGE = 'usage: node --import=tsx bench/cpu-split.ts [--seconds S] [--concurrency C[,C..]] [--warmup S] [--durability fsync|none]'
const SIZE = 4096
interface ProcSample {
  user: number
  sys: number
  vcs: number
  ivcs: number
}

/** CPU times (/proc/<pid>/stat) and context switches (/proc/<pid>/status) of a process that must still be running. */
function sample(p: { name: string; pid: number }): ProcSample {
  const times = readCpuTimes(p.pid)
  if (!times) throw new Error(`${p.name} (pid ${p.pid}) is gone: its CPU time cannot be read`)
  const status = readFileSync(`/proc/${p.pid}/status`, 'utf8')
  const num = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0)
  return { user: times.user, sys: times.system, vcs: num('voluntary_ctxt_switches'), ivcs: num('nonvoluntary_ctxt_switches') }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  const at = args.indexOf('--durability')
  const durability = at >= 0 ? args.splice(at, 2)[1] : 'fsync'
  if (durability !== 'fsync' && durability !== 'none') {
    console.error(USAGE)
    process.exitCode = 2
    return
  }
  const o = intOptionsOrUsage(args, { seconds: { default: 8 }, concurrency: { default: 16, list: true }, warmup: { default: 8 } }, USAGE)
  if (!o) return
  const owned = new Owned()
  try {
    const cluster = await owned.start(() => startOwnCluster(4, ['--durability', durability]))
    const spec = uniquePutSpec('split', SIZE)
    await ensureBucket(cluster.url, spec.bucket)
    await cannon(cluster.url, 16, o.warmup[0] as number, SIZE, (i) => putRequest(spec, 'warm', i))
    for (const c of o.concurrency) {
      const before = cluster.procs.map(sample)
      const s = await cannon(cluster.url, c, o.seconds[0] as number, SIZE, (i) => putRequest(spec, `c${c}`, i))
      const after = cluster.procs.map(sample)
      const ops = Math.max(1, s.ops)
      console.log(`c${c}: ${Math.round(s.opsPerSec)} PUT/s, p50 ${s.p50Ms.toFixed(1)} p99 ${s.p99Ms.toFixed(1)} ms, errors ${s.errors}`)
      console.log('| process | user ms/PUT | sys ms/PUT | vol. switches/PUT | invol./PUT |')
      let tu = 0
      let ts = 0
      cluster.procs.forEach((p, i) => {
        const a = after[i] as ProcSample
        const b = before[i] as ProcSample
        const u = ((a.user - b.user) * 1000) / ops
        const sy = ((a.sys - b.sys) * 1000) / ops
        tu += u
        ts += sy
        console.log(`| ${p.name} | ${u.toFixed(3)} | ${sy.toFixed(3)} | ${((a.vcs - b.vcs) / ops).toFixed(2)} | ${((a.ivcs - b.ivcs) / ops).toFixed(2)} |`)
      })
      console.log(`| all | ${tu.toFixed(3)} | ${ts.toFixed(3)} | | |`)
    }
  } finally {
    await owned.stopAll()
  }
}

void main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
