/**
 * What a bench run stands on: its own cluster (4 nodes + proxy, default N/R/W and durability
 * settings, free ports, a temp dir) started through the launcher and torn down by pid, the
 * command-line settings, and the facts recorded with the results (commit, machine).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { wholeNumber } from './script-args.js'
import { type ClusterLayout, freePorts, knownProcesses, layoutUnder, runningPid, startCluster, stopProcesses } from '../cluster-ctl/launcher.js'

export const ROOT = resolve(import.meta.dirname, '..')
export const QUICK_OUT = join(ROOT, 'bench/results/quick')

export interface Settings {
  quick: boolean
  durationS: number
  /** Warm-up before the first scenario, per target: this long of small PUTs, then half as long of GETs. */
  warmupS: number
  concurrency: number[]
  size: number
  largeSize: number
  largeConcurrency: number
  hugeSize: number
  listKeys: number
  listLimit: number
  getKeys: number
  target?: string
  out: string
}

export const USAGE = `usage: node --import=tsx bench/run.ts [options]
  --quick               smoke test: ~2 s per scenario, 64 MiB instead of 1 GiB, 1,000 listed keys;
                        fails (exit 1) if any scenario had an error or completed nothing
  --duration SECONDS    per load scenario (default 10; 2 with --quick)
  --warmup SECONDS      before the first scenario, each target takes this long of small PUTs and
                        half as long of GETs at c16, so JIT compilation is over (default 8; 1 with --quick)
  --concurrency LIST    connections for the small-object scenarios, comma-separated (default 16,64);
                        the mixed scenario uses the largest
  --size BYTES          small-object size (default 4k); suffixes k, m, g (powers of 1024)
  --large-size BYTES    large-object size (default 1m), --large-concurrency N (default 4)
  --huge-size BYTES     the single huge object (default 1g; 64m with --quick)
  --list-keys N         keys in the listed bucket (default 10000; 1000 with --quick)
  --target URL          measure an already running cluster (its processes' memory is not sampled)
  --out DIR             where results go (default bench/results; bench/results/quick with --quick)`

export function parseSize(text: string): number {
  const m = /^(\d+)\s*([kmg])?(i?b)?$/i.exec(text.trim())
  if (!m) throw new Error(`not a size: ${text}`)
  const unit = (m[2] ?? '').toLowerCase()
  return Number(m[1]) * 1024 ** (unit === 'k' ? 1 : unit === 'm' ? 2 : unit === 'g' ? 3 : 0)
}

export function sizeLabel(bytes: number): string {
  for (const [unit, f] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) if (bytes >= f && bytes % f === 0) return `${bytes / f} ${unit}`
  return `${bytes} B`
}

function positiveInt(name: string, text: string | undefined, fallback: number, min = 1): number {
  return text === undefined ? fallback : wholeNumber(name, text, min)
}

export function parseSettings(argv: string[]): Settings | 'help' {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      concurrency: { type: 'string' },
      size: { type: 'string' },
      'large-size': { type: 'string' },
      'large-concurrency': { type: 'string' },
      'huge-size': { type: 'string' },
      'list-keys': { type: 'string' },
      target: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (v.help) return 'help'
  const quick = v.quick === true
  const concurrency = (v.concurrency ?? '16,64').split(',').map((c) => positiveInt('concurrency', c.trim(), 1))
  const s: Settings = {
    quick,
    durationS: positiveInt('duration', v.duration, quick ? 2 : 10),
    warmupS: positiveInt('warmup', v.warmup, quick ? 1 : 8, 0),
    concurrency,
    size: v.size ? parseSize(v.size) : 4096,
    largeSize: parseSize(v['large-size'] ?? '1m'),
    largeConcurrency: positiveInt('large-concurrency', v['large-concurrency'], 4),
    hugeSize: parseSize(v['huge-size'] ?? (quick ? '64m' : '1g')),
    listKeys: positiveInt('list-keys', v['list-keys'], quick ? 1000 : 10_000),
    listLimit: 1000,
    getKeys: quick ? 500 : 2000,
    out: resolve(v.out ?? (quick ? QUICK_OUT : join(ROOT, 'bench/results'))),
  }
  if (v.target) s.target = new URL(v.target).origin
  return s
}

export function commitInfo(): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim() !== ''
    return { commit, dirty }
  } catch {
    return { commit: 'nocommit', dirty: false }
  }
}

export function machine(): { node: string; cpus: number; memGiB: number; platform: string; loadavg: number[] } {
  const load = loadavg().map((x) => Math.round(x * 100) / 100)
  return { node: process.versions.node, cpus: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), platform: `${process.platform}-${process.arch}`, loadavg: load }
}


export interface OwnCluster {
  url: string
  layout: ClusterLayout
  procs: { name: string; pid: number }[]
  stop(): Promise<void>
}

/** 4 nodes + proxy from dist/, default settings, free ports, a temp dir; `stop` kills by pid and removes the dir. */
export async function startOwnCluster(nodes = 4, nodeArgs: string[] = [], proxyArgs: string[] = []): Promise<OwnCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'dynamo-bench-'))
  const ports = await freePorts(nodes + 1)
  const layout: ClusterLayout = layoutUnder(ROOT, dir, ports, { nodeArgs, proxyArgs })
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    await stopProcesses(layout, knownProcesses(layout), 'SIGTERM', 5000)
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await startCluster(layout, 60_000)
    const url = `http://127.0.0.1:${layout.proxyPort}`
    await waitAllUp(url, nodes, 60_000)
    const procs = knownProcesses(layout).flatMap((name) => {
      const pid = runningPid(layout, name)
      return pid ? [{ name, pid }] : []
    })
    return { url, layout, procs: procs.sort((a, b) => a.name.localeCompare(b.name)), stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/** Wait until the proxy sees `n` storage nodes up (bounded). */
async function waitAllUp(url: string, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      const c = (await (await fetch(`${url}/cluster`, { signal: AbortSignal.timeout(2000) })).json()) as { nodes?: { status?: string }[] }
      if ((c.nodes ?? []).filter((m) => m.status === 'up').length >= n) return
    } catch {}
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`the proxy did not see ${n} nodes up within ${timeoutMs} ms`)
}
