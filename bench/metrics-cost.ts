/**
 * What Prometheus metrics cost: two clusters side by side, one with the default `--metrics on`,
 * one with `--metrics off` on the proxy and every node, loaded in alternating windows (on, off,
 * then off, on, ...) so that both see the same noise of a shared machine. Per window: ops/s and
 * each side's CPU (user + system, /proc) per request, the proxy apart from the nodes, for 4 KiB
 * PUTs of new keys and GETs of keys written before. Every window is printed; the summary is the
 * median of the rounds and the ratio off/on of the ops/s. No assertion: a figure to read.
 */
import { Option, parseCommandLineOrExit, parseIntArg, parseIntList, scriptCommand } from '../devtools/command-line.js'
import { ensureBucket, populate } from './http-client.js'
import { Owned } from './owned.js'
import { readCpuTimes } from './rss-sampler.js'
import { cannon, getRequest, putRequest, type SmallSpec } from './scenarios.js'
import { type OwnCluster, startOwnCluster } from './setup.js'

const cli = scriptCommand('bench/metrics-cost.ts', 'CPU per 4 KiB PUT/GET with --metrics on and off, in alternating windows on two clusters')
  .option('--seconds <s>', 'one window', parseIntArg(1, 3600), 8)
  .addOption(new Option('--concurrency <list>', 'connections (one, or several: each gets its rounds)').argParser(parseIntList(1, 10_000)).default([16], '16'))
  .option('--rounds <n>', 'pairs of windows per operation', parseIntArg(1, 100), 4)
  .option('--warmup <s>', 'PUTs and GETs on each cluster for this long first', parseIntArg(1, 3600), 8)
  .option('--get-keys <n>', 'keys written before the GETs', parseIntArg(1, 1_000_000), 2000)
const SIZE = 4096
const SIDES = ['on', 'off'] as const
type Side = (typeof SIDES)[number]

interface Window {
  op: 'PUT' | 'GET'
  c: number
  side: Side
  opsPerSec: number
  errors: number
  /** CPU ms per request: the proxy, and the nodes summed. */
  proxyMs: number
  nodesMs: number
}

/** user + system seconds of every process of the cluster, by name; a process gone fails the run. */
function cpuOf(cluster: OwnCluster): Map<string, number> {
  return new Map(
    cluster.procs.map((p) => {
      const t = readCpuTimes(p.pid)
      if (!t) throw new Error(`${p.name} (pid ${p.pid}) is gone: its CPU time cannot be read`)
      return [p.name, t.user + t.system]
    }),
  )
}

async function measure(cluster: OwnCluster, spec: SmallSpec, op: Window['op'], c: number, side: Side, seconds: number, tag: string): Promise<Window> {
  const before = cpuOf(cluster)
  const s = await cannon(cluster.url, c, seconds, SIZE, (i) => (op === 'PUT' ? putRequest(spec, tag, i) : getRequest(spec, i)))
  const after = cpuOf(cluster)
  const ops = Math.max(1, s.ops)
  let proxyMs = 0
  let nodesMs = 0
  for (const [name, t] of after) {
    const ms = ((t - (before.get(name) ?? t)) * 1000) / ops
    if (name === 'proxy') proxyMs += ms
    else nodesMs += ms
  }
  return { op, c, side, opsPerSec: s.opsPerSec, errors: s.errors, proxyMs, nodesMs }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

function row(w: Window, round: number): string {
  return `| ${w.op} c${w.c} | ${round} | ${w.side} | ${Math.round(w.opsPerSec)} | ${w.proxyMs.toFixed(3)} | ${w.nodesMs.toFixed(3)} | ${(w.proxyMs + w.nodesMs).toFixed(3)} | ${w.errors} |`
}

async function main(): Promise<void> {
  const o = parseCommandLineOrExit(cli).opts<{ seconds: number; concurrency: number[]; rounds: number; warmup: number; getKeys: number }>()
  const owned = new Owned()
  try {
    const clusters = {
      on: await owned.start(() => startOwnCluster(4)),
      off: await owned.start(() => startOwnCluster(4, ['--metrics', 'off'], ['--metrics', 'off'])),
    }
    const runId = Date.now().toString(36)
    const spec: SmallSpec = { bucket: `metrics-cost-${runId}`, runId, body: Buffer.alloc(SIZE, 0x62), getKey: (i) => `g-${i % o.getKeys}` }
    for (const side of SIDES) {
      const cluster = clusters[side]
      await ensureBucket(cluster.url, spec.bucket)
      const pre = await populate(cluster.url, spec.bucket, o.getKeys, (i) => `g-${i}`, spec.body, { concurrency: 32, deadlineMs: 120_000 })
      if (pre.written < o.getKeys) throw new Error(`metrics ${side}: wrote ${pre.written} of ${o.getKeys} keys for the GETs: ${pre.failures.join('; ')}`)
      await cannon(cluster.url, 16, o.warmup, SIZE, (i) => putRequest(spec, 'warm', i))
      await cannon(cluster.url, 16, Math.ceil(o.warmup / 2), SIZE, (i) => getRequest(spec, i))
    }
    const windows: Window[] = []
    console.log('| load | round | metrics | ops/s | proxy CPU ms/op | nodes CPU ms/op | all ms/op | errors |')
    console.log('|---|---|---|---|---|---|---|---|')
    for (const op of ['PUT', 'GET'] as const) {
      for (const c of o.concurrency) {
        for (let r = 1; r <= o.rounds; r++) {
          // on, off; then off, on: neither side always goes first.
          const order: readonly Side[] = r % 2 ? SIDES : [...SIDES].reverse()
          for (const side of order) {
            const w = await measure(clusters[side], spec, op, c, side, o.seconds, `${op}-c${c}-r${r}`)
            windows.push(w)
            console.log(row(w, r))
          }
        }
      }
    }
    console.log('\nmedian of the rounds (off/on ops/s > 1: metrics cost throughput):')
    console.log('| load | proxy ms/op on | off | nodes ms/op on | off | ops/s on | off | off/on |')
    console.log('|---|---|---|---|---|---|---|---|')
    for (const op of ['PUT', 'GET'] as const) {
      for (const c of o.concurrency) {
        const of = (side: Side) => windows.filter((w) => w.op === op && w.c === c && w.side === side)
        const m = (side: Side, f: (w: Window) => number) => median(of(side).map(f))
        const [on, off] = [m('on', (w) => w.opsPerSec), m('off', (w) => w.opsPerSec)]
        console.log(
          `| ${op} c${c} | ${m('on', (w) => w.proxyMs).toFixed(3)} | ${m('off', (w) => w.proxyMs).toFixed(3)} | ` +
            `${m('on', (w) => w.nodesMs).toFixed(3)} | ${m('off', (w) => w.nodesMs).toFixed(3)} | ${Math.round(on)} | ${Math.round(off)} | ${(off / on).toFixed(3)} |`,
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
