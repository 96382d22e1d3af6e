/**
 * Where a small PUT's CPU goes, process by process: after a warm-up, one window of 4 KiB PUTs
 * (unique keys; with `--op get`, GETs of keys written once before) per concurrency against a fresh cluster (default settings), with each process's
 * user and system CPU per PUT and its voluntary and involuntary context switches per PUT, read from
 * /proc. Voluntary switches count the waits (for the disk, for the next request); involuntary ones
 * count preemptions, e.g. by the process a socket write has just woken.
 *
 * Then the nodes' group commits (`GET /health`, `commits`): groups per PUT, journaled table writes
 * per group and node CPU per group. With two or more concurrencies it also splits the nodes' CPU
 * into a cost per group and a cost per replica write (least squares over the windows of
 *   node CPU = a * groups + b * replica writes,
 * replica writes taken as 3 per PUT: N=3, every node up). The fit does not say what larger groups
 * at the same concurrency would save: it mixes the groups' cost with everything else that shrinks
 * as concurrency grows, e.g. frames per wake-up (a longer group-commit wait made fewer, larger
 * groups and saved no node CPU: docs/decisions/0015-group-commit-per-event-loop-turn.md).
 */
import { readFileSync } from 'node:fs'
import { NodeHealthSchema } from '../shared/wire/internal-api.js'
import { Option, parseChoice, parseCommandLineOrExit, parseIntArg, parseIntList, scriptCommand } from '../devtools/command-line.js'
import { ensureBucket } from './http-client.js'
import { Owned } from './owned.js'
import { readCpuTimes } from './rss-sampler.js'
import { cannon, getRequest, putRequest, uniquePutSpec } from './scenarios.js'
import { startOwnCluster } from './setup.js'

const cli = scriptCommand('bench/cpu-split.ts', "Where a small PUT's (or GET's) CPU goes, process by process, and the nodes' group commits, per concurrency")
  .option('--op <put|get>', 'what the measured windows send: PUTs of new keys, or GETs of keys written before', parseChoice('put', 'get'), 'put')
  .option('--seconds <s>', 'one window per concurrency', parseIntArg(1, 3600), 8)
  .addOption(new Option('--concurrency <list>', 'connections, comma-separated').argParser(parseIntList(1, 10_000)).default([16], '16'))
  .option('--warmup <s>', 'PUTs at c16 for this long first', parseIntArg(1, 3600), 8)
  .option('--durability <mode>', "the nodes' --durability", parseChoice('fsync', 'none'), 'fsync')
  .option('--metrics <on|off>', "the proxy's and the nodes' --metrics (bench/metrics-cost.ts compares both in alternating windows)", parseChoice('on', 'off'), 'on')
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

interface CommitSample {
  groups: number
  writes: number
}

/** The group-commit counters of every node (summed); a node that does not report them fails the run. */
async function commitCounters(host: string, ports: readonly number[]): Promise<CommitSample> {
  const sum = { groups: 0, writes: 0 }
  for (const port of ports) {
    const res = await fetch(`http://${host}:${port}/health`, { signal: AbortSignal.timeout(5000) })
    const commits = NodeHealthSchema.parse(await res.json()).commits
    if (!commits) throw new Error(`node on port ${port} reports no group-commit counters`)
    sum.groups += commits.groups
    sum.writes += commits.writes
  }
  return sum
}

/** Least-squares a, b of y = a*x1 + b*x2 (no intercept); undefined when the windows cannot tell them apart. */
function fitTwo(rows: readonly { x1: number; x2: number; y: number }[]): { a: number; b: number } | undefined {
  let s11 = 0
  let s12 = 0
  let s22 = 0
  let s1y = 0
  let s2y = 0
  for (const r of rows) {
    s11 += r.x1 * r.x1
    s12 += r.x1 * r.x2
    s22 += r.x2 * r.x2
    s1y += r.x1 * r.y
    s2y += r.x2 * r.y
  }
  const det = s11 * s22 - s12 * s12
  if (rows.length < 2 || Math.abs(det) < 1e-9 * s11 * s22) return undefined
  return { a: (s1y * s22 - s2y * s12) / det, b: (s2y * s11 - s1y * s12) / det }
}

async function main(): Promise<void> {
  const o = parseCommandLineOrExit(cli).opts<{ op: 'put' | 'get'; seconds: number; concurrency: number[]; warmup: number; durability: 'fsync' | 'none'; metrics: 'on' | 'off' }>()
  const durability = o.durability
  const owned = new Owned()
  try {
    const cluster = await owned.start(() => startOwnCluster(4, ['--durability', durability, '--metrics', o.metrics], ['--metrics', o.metrics]))
    const spec = uniquePutSpec('split', SIZE)
    await ensureBucket(cluster.url, spec.bucket)
    await cannon(cluster.url, 16, o.warmup, SIZE, (i) => putRequest(spec, 'warm', i))
    // GETs read keys written once each (a second write without its context would make siblings).
    const seeded = o.op === 'get' ? (await cannon(cluster.url, 16, 3, SIZE, (i) => ({ ...putRequest(spec, 'seed', i), path: getRequest(spec, i).path }))).ops : 0
    const OP = o.op === 'get' ? 'GET' : 'PUT'
    const request = (c: number, i: number) => (o.op === 'get' ? getRequest(spec, i % Math.max(1, seeded)) : putRequest(spec, `c${c}`, i))
    const { host, nodePorts } = cluster.layout
    const windows: { c: number; ops: number; groups: number; writes: number; nodeCpuMs: number }[] = []
    for (const c of o.concurrency) {
      const commitsBefore = await commitCounters(host, nodePorts)
      const before = cluster.procs.map(sample)
      const s = await cannon(cluster.url, c, o.seconds, SIZE, (i) => request(c, i))
      const after = cluster.procs.map(sample)
      const commitsAfter = await commitCounters(host, nodePorts)
      const ops = Math.max(1, s.ops)
      console.log(`c${c}: ${Math.round(s.opsPerSec)} ${OP}/s, p50 ${s.p50Ms.toFixed(1)} p99 ${s.p99Ms.toFixed(1)} ms, errors ${s.errors}`)
      console.log(`| process | user ms/${OP} | sys ms/${OP} | vol. switches/${OP} | invol./${OP} |`)
      let tu = 0
      let ts = 0
      let nodeCpuMs = 0
      cluster.procs.forEach((p, i) => {
        const a = after[i] as ProcSample
        const b = before[i] as ProcSample
        const u = ((a.user - b.user) * 1000) / ops
        const sy = ((a.sys - b.sys) * 1000) / ops
        tu += u
        ts += sy
        if (p.name !== 'proxy') nodeCpuMs += (a.user - b.user + a.sys - b.sys) * 1000
        console.log(`| ${p.name} | ${u.toFixed(3)} | ${sy.toFixed(3)} | ${((a.vcs - b.vcs) / ops).toFixed(2)} | ${((a.ivcs - b.ivcs) / ops).toFixed(2)} |`)
      })
      console.log(`| all | ${tu.toFixed(3)} | ${ts.toFixed(3)} | | |`)
      const groups = commitsAfter.groups - commitsBefore.groups
      const writes = commitsAfter.writes - commitsBefore.writes
      windows.push({ c, ops, groups, writes, nodeCpuMs })
      console.log(
        `nodes' group commits: ${(groups / ops).toFixed(2)} groups/PUT, ${(writes / Math.max(1, groups)).toFixed(1)} table writes/group, ` +
          `${((nodeCpuMs * 1000) / Math.max(1, groups)).toFixed(0)} us of node CPU per group`,
      )
    }
    const fit = fitTwo(windows.map((w) => ({ x1: w.groups, x2: 3 * w.ops, y: w.nodeCpuMs * 1000 })))
    if (fit) {
      console.log(`node CPU split over the ${windows.length} windows: ${fit.a.toFixed(0)} us per group + ${fit.b.toFixed(0)} us per replica write`)
      for (const w of windows) {
        const perGroup = (fit.a * w.groups) / (w.nodeCpuMs * 1000)
        console.log(`  c${w.c}: per-group part ${(100 * perGroup).toFixed(0)} % of the nodes' CPU`)
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
