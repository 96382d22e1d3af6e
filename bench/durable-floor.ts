/**
 * Where the cluster's small-PUT cost goes: 4 KiB PUTs (unique keys) against six systems in one
 * run, with the same load generator and settings, in rounds (each round measures every system
 * once, in an order rotated from round to round):
 *   - baseline: the bare W=2, N=3 coordinator of `make bench` (backends store nothing);
 *   - floor: the same coordinator with backends that store every body durably in LMDB,
 *     group-committed as a storage node commits (see bench/baseline-coordinator.ts);
 *   - floor-2rounds: the LMDB floor writing in two rounds, as a Dynamo write does (one backend
 *     first, then the other two): what that structure costs, with none of the cluster's logic;
 *   - log-floor: the same with backends that append every group of bodies to one file and
 *     fdatasync it once (the cheapest durable write we know of: how much a store other than LMDB
 *     could gain);
 *   - cluster: our own 4 nodes + proxy, default settings;
 *   - cluster-unsynced: the same with `--durability none` (commits left to the OS): what the
 *     device flushes cost the cluster, so what any cheaper durable commit could gain at most.
 * For each it prints ops/s, latency, and the CPU time (user + system, from /proc) spent per PUT by
 * its front (the proxy, or the bare coordinator), by its storage processes and by the load
 * generator. The floors say what a durable W=2, N=3 store written in Node can reach on this
 * machine, so how far the cluster's ratio to the baseline can rise. "ratio to floor" is to LMDB's.
 * Each system is first warmed (PUTs at c16 for --warmup seconds) so JIT compilation is over.
 */
import { Option, parseCommandLineOrExit, parseIntArg, parseIntList, scriptCommand } from '../devtools/command-line.js'
import { startBaseline } from './baseline-coordinator.js'
import { ensureBucket } from './http-client.js'
import { Owned } from './owned.js'
import { cannon, putRequest, type SmallSpec, uniquePutSpec } from './scenarios.js'
import { cpuSecondsOf } from './rss-sampler.js'
import { startOwnCluster } from './setup.js'
import type { Stats } from './stats.js'

const cli = scriptCommand('bench/durable-floor.ts', '4 KiB PUTs against the baseline, the durable floors and the cluster, in rounds: ops/s, latency and CPU per PUT')
  .option('--seconds <s>', 'per system per round and concurrency', parseIntArg(1, 3600), 8)
  .addOption(new Option('--concurrency <list>', 'connections, comma-separated').argParser(parseIntList(1, 10_000)).default([16, 64], '16,64'))
  .option('--rounds <n>', 'rounds (each measures every system once, in a rotated order)', parseIntArg(1, 100), 3)
  .option('--warmup <s>', 'PUTs at c16 for this long before measuring each system', parseIntArg(0, 3600), 8)
const SIZE = 4096

interface System {
  name: 'baseline' | 'floor' | 'floor-2rounds' | 'log-floor' | 'cluster' | 'cluster-unsynced'
  url: string
  procs: { name: string; pid: number }[]
  stop(): Promise<void>
}

interface Sample {
  stats: Stats
  /** CPU ms per successful PUT: the system's processes, its front (proxy or bare coordinator) among them, and this process (the load generator). */
  cpuMs: number
  frontMs: number
  loadgenMs: number
}

const frontOf = (sys: System): System['procs'] => sys.procs.filter((p) => p.name === 'proxy' || p.name.endsWith('-coordinator'))

async function measure(sys: System, spec: SmallSpec, c: number, seconds: number, tag: string): Promise<Sample> {
  const cpu0 = cpuSecondsOf(sys.procs)
  const front0 = cpuSecondsOf(frontOf(sys))
  const self0 = process.cpuUsage()
  const stats = await cannon(sys.url, c, seconds, SIZE, (i) => putRequest(spec, tag, i))
  const self = process.cpuUsage(self0)
  const ops = Math.max(1, stats.ops)
  return {
    stats,
    cpuMs: ((cpuSecondsOf(sys.procs) - cpu0) * 1000) / ops,
    frontMs: ((cpuSecondsOf(frontOf(sys)) - front0) * 1000) / ops,
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
  const o = parseCommandLineOrExit(cli).opts<{ seconds: number; concurrency: number[]; rounds: number; warmup: number }>()
  const { seconds, rounds, concurrency } = o
  const warmupS = o.warmup
  const owned = new Owned()
  try {
    const baseline = await owned.start(() => startBaseline())
    const floor = await owned.start(() => startBaseline({ durable: 'lmdb' }))
    const floor2 = await owned.start(() => startBaseline({ durable: 'lmdb', twoRounds: true }))
    const logFloor = await owned.start(() => startBaseline({ durable: 'log' }))
    const cluster = await owned.start(() => startOwnCluster())
    const unsynced = await owned.start(() => startOwnCluster(4, ['--durability', 'none']))
    const systems: System[] = [
      { name: 'baseline', ...baseline },
      { name: 'floor', ...floor },
      { name: 'floor-2rounds', ...floor2 },
      { name: 'log-floor', ...logFloor },
      { name: 'cluster', url: cluster.url, procs: cluster.procs, stop: cluster.stop },
      { name: 'cluster-unsynced', url: unsynced.url, procs: unsynced.procs, stop: unsynced.stop },
    ]
    const spec = uniquePutSpec('floor', SIZE)
    await ensureBucket(cluster.url, spec.bucket)
    await ensureBucket(unsynced.url, spec.bucket)
    if (warmupS > 0) for (const s of systems) await cannon(s.url, 16, warmupS, SIZE, (i) => putRequest(spec, `warm-${s.name}`, i))

    const samples = new Map<string, Sample[]>()
    for (let round = 0; round < rounds; round++) {
      // Rotated each round, so no system always runs first (or right after the heaviest).
      const order = systems.map((_, i) => systems[(i + round) % systems.length] as System)
      for (const c of concurrency) {
        for (const s of order) {
          const m = await measure(s, spec, c, seconds, `${s.name}-c${c}-r${round}`)
          process.stderr.write(
            `[floor] round ${round + 1} c${c} ${s.name}: ${m.stats.opsPerSec} ops/s, p50 ${m.stats.p50Ms} ms, p99 ${m.stats.p99Ms} ms, errors ${m.stats.errors}, CPU ${m.cpuMs.toFixed(3)} ms/PUT (front ${m.frontMs.toFixed(3)}; + load generator ${m.loadgenMs.toFixed(3)})\n`,
          )
          const key = `${c}/${s.name}`
          samples.set(key, [...(samples.get(key) ?? []), m])
          await new Promise((r) => setTimeout(r, 1000))
        }
      }
    }

    console.log(`Durable floor: 4 KiB PUTs, ${seconds} s per run, ${rounds} round(s) after ${warmupS} s of warm-up, medians; ratios to the baseline of the same round.`)
    console.log('| concurrency | system | ops/s | p50 / p99 ms | errors | CPU ms per PUT: proxy or coordinator + storage + load generator | ratio to baseline | ratio to floor |')
    console.log('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const c of concurrency) {
      const base = samples.get(`${c}/baseline`) ?? []
      const floorRuns = samples.get(`${c}/floor`) ?? []
      for (const s of systems) {
        const ms = samples.get(`${c}/${s.name}`) ?? []
        const ratios = ms.map((m, i) => m.stats.opsPerSec / Math.max(1, base[i]?.stats.opsPerSec ?? 0))
        const toFloor = ms.map((m, i) => m.stats.opsPerSec / Math.max(1, floorRuns[i]?.stats.opsPerSec ?? 0))
        const errors = ms.reduce((n, m) => n + m.stats.errors, 0)
        console.log(
          `| ${c} | ${s.name} | ${Math.round(median(ms.map((m) => m.stats.opsPerSec)))} | ${median(ms.map((m) => m.stats.p50Ms)).toFixed(1)} / ${median(ms.map((m) => m.stats.p99Ms)).toFixed(1)} | ${errors} | ${median(ms.map((m) => m.frontMs)).toFixed(2)} + ${median(ms.map((m) => m.cpuMs - m.frontMs)).toFixed(2)} + ${median(ms.map((m) => m.loadgenMs)).toFixed(2)} | ${median(ratios).toFixed(2)}x | ${median(toFloor).toFixed(2)}x |`,
        )
      }
    }
  } finally {
    await owned.stopAll()
  }
}

void main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
