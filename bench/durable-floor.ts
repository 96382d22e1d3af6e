/**
 * Where the cluster's small-PUT cost goes: 4 KiB PUTs (unique keys) against three systems in one
 * run, with the same load generator and settings, in alternating rounds:
 *   - baseline: the bare W=2, N=3 coordinator of `make bench` (backends store nothing);
 *   - floor: the same coordinator with backends that store every body durably in LMDB,
 *     group-committed as a storage node commits (see bench/baseline-coordinator.ts);
 *   - cluster: our own 4 nodes + proxy, default settings.
 * For each it prints ops/s, latency, and the CPU time (user + system, from /proc) its processes and
 * the load generator spent per PUT. The floor says what any durable W=2, N=3 store written in Node
 * can reach on this machine, so how far the cluster's ratio to the baseline can rise.
 * Each system is first warmed (PUTs at c16 for --warmup seconds) so JIT compilation is over.
 * Usage: node --import=tsx bench/durable-floor.ts [--seconds S] [--concurrency C[,C..]] [--rounds R] [--warmup S]
 */
import { readCpuSeconds } from './rss-sampler.js'
import { startBaseline } from './baseline-coordinator.js'
import { ensureBucket } from './http-client.js'
import { cannon, putRequest, type SmallSpec } from './scenarios.js'
import { startOwnCluster } from './setup.js'
import type { Stats } from './stats.js'

const args = process.argv.slice(2)
const opt = (name: string, dflt: string): string => (args.includes(`--${name}`) ? String(args[args.indexOf(`--${name}`) + 1]) : dflt)
const SECONDS = Number(opt('seconds', '8'))
const CONCURRENCY = opt('concurrency', '16,64').split(',').map(Number)
const ROUNDS = Number(opt('rounds', '3'))
const WARMUP_S = Number(opt('warmup', '8'))
const SIZE = 4096
const USAGE = 'usage: node --import=tsx bench/durable-floor.ts [--seconds S] [--concurrency C[,C..]] [--rounds R] [--warmup S]'
if ([SECONDS, ROUNDS, ...CONCURRENCY].some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(WARMUP_S) || WARMUP_S < 0) {
  console.error(USAGE)
  process.exit(2)
}

interface System {
  name: 'baseline' | 'floor' | 'cluster'
  url: string
  procs: { name: string; pid: number }[]
  stop(): Promise<void>
}

interface Sample {
  stats: Stats
  /** CPU ms per successful PUT: the system's processes, its coordinator (proxy) among them, and this process (the load generator). */
  cpuMs: number
  coordinatorMs: number
  loadgenMs: number
}

const cpuOf = (procs: System['procs']): number => procs.reduce((n, p) => n + (readCpuSeconds(p.pid) ?? 0), 0)
const coordinatorOf = (sys: System): System['procs'] => sys.procs.filter((p) => p.name === 'proxy' || p.name.endsWith('-coordinator'))

async function measure(sys: System, spec: SmallSpec, c: number, tag: string): Promise<Sample> {
  const cpu0 = cpuOf(sys.procs)
  const coord0 = cpuOf(coordinatorOf(sys))
  const self0 = process.cpuUsage()
  const stats = await cannon(sys.url, c, SECONDS, SIZE, (i) => putRequest(spec, tag, i))
  const self = process.cpuUsage(self0)
  const ops = Math.max(1, stats.ops)
  return {
    stats,
    cpuMs: ((cpuOf(sys.procs) - cpu0) * 1000) / ops,
    coordinatorMs: ((cpuOf(coordinatorOf(sys)) - coord0) * 1000) / ops,
    loadgenMs: (self.user + self.system) / 1000 / ops,
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return 0
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

async function main(): Promise<void> {
  const systems: System[] = []
  const stopAll = async (): Promise<void> => {
    for (const s of systems.splice(0)) await s.stop().catch((err: unknown) => console.error('stop:', err))
  }
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void stopAll().then(() => process.exit(130)))
  try {
    const baseline = await startBaseline()
    systems.push({ name: 'baseline', ...baseline })
    const floor = await startBaseline({ durable: true })
    systems.push({ name: 'floor', ...floor })
    const cluster = await startOwnCluster()
    systems.push({ name: 'cluster', url: cluster.url, procs: cluster.procs, stop: cluster.stop })
    const runId = Date.now().toString(36)
    const spec: SmallSpec = { bucket: `floor-${runId}`, runId, body: Buffer.alloc(SIZE, 0x62), getKey: (i) => `g-${i}` }
    await ensureBucket(cluster.url, spec.bucket)
    for (const s of systems) if (WARMUP_S > 0) await cannon(s.url, 16, WARMUP_S, SIZE, (i) => putRequest(spec, `warm-${s.name}`, i))

    const samples = new Map<string, Sample[]>()
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of CONCURRENCY) {
        for (const s of systems) {
          const m = await measure(s, spec, c, `${s.name}-c${c}-r${round}`)
          process.stderr.write(`[floor] round ${round + 1} c${c} ${s.name}: ${m.stats.opsPerSec} ops/s, p50 ${m.stats.p50Ms} ms, p99 ${m.stats.p99Ms} ms, errors ${m.stats.errors}, CPU ${m.cpuMs.toFixed(3)} ms/PUT (coordinator ${m.coordinatorMs.toFixed(3)}; + load generator ${m.loadgenMs.toFixed(3)})\n`)
          const key = `${c}/${s.name}`
          samples.set(key, [...(samples.get(key) ?? []), m])
          await new Promise((r) => setTimeout(r, 1000))
        }
      }
    }

    console.log(`Durable floor: 4 KiB PUTs, ${SECONDS} s per run, ${ROUNDS} round(s), medians; ratios to the baseline of the same round.`)
    console.log('| concurrency | system | ops/s | p50 / p99 ms | errors | CPU ms per PUT: coordinator + storage + load generator | ratio to baseline | ratio to floor |')
    console.log('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const c of CONCURRENCY) {
      const base = samples.get(`${c}/baseline`) ?? []
      const floorRuns = samples.get(`${c}/floor`) ?? []
      for (const s of systems) {
        const ms = samples.get(`${c}/${s.name}`) ?? []
        const ratios = ms.map((m, i) => m.stats.opsPerSec / Math.max(1, base[i]?.stats.opsPerSec ?? 0))
        const toFloor = ms.map((m, i) => m.stats.opsPerSec / Math.max(1, floorRuns[i]?.stats.opsPerSec ?? 0))
        const errors = ms.reduce((n, m) => n + m.stats.errors, 0)
        console.log(
          `| ${c} | ${s.name} | ${Math.round(median(ms.map((m) => m.stats.opsPerSec)))} | ${median(ms.map((m) => m.stats.p50Ms)).toFixed(1)} / ${median(ms.map((m) => m.stats.p99Ms)).toFixed(1)} | ${errors} | ${median(ms.map((m) => m.coordinatorMs)).toFixed(2)} + ${median(ms.map((m) => m.cpuMs - m.coordinatorMs)).toFixed(2)} + ${median(ms.map((m) => m.loadgenMs)).toFixed(2)} | ${median(ratios).toFixed(2)}x | ${median(toFloor).toFixed(2)}x |`,
        )
      }
    }
  } finally {
    await stopAll()
  }
}

void main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
