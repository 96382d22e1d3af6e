/**
 * What a bench run stands on: its own cluster (4 nodes + proxy, default N/R/W and durability
 * settings, free ports, a temp dir) started through the launcher and torn down by pid, the
 * command-line settings, and the facts recorded with the results (commit, machine).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { type Command, InvalidArgumentError, Option, parseIntArg, parseIntList, scriptCommand } from '../devtools/command-line.js'
import { type ClusterLayout, freePorts, knownProcesses, layoutUnder, runningPid, startCluster, stopProcesses, tlsDir } from '../cluster-ctl/launcher.js'
import { forgetProxy, rememberProxy } from '../devtools/proxy-credentials.js'
import type { Credentials } from '../shared/config/credentials-file.js'
import { authedFetch } from './client-auth.js'

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

export function parseSize(text: string): number {
  const m = /^(\d+)\s*([kmg])?(i?b)?$/i.exec(text.trim())
  if (!m) throw new Error(`not a size: ${text}`)
  const unit = (m[2] ?? '').toLowerCase()
  return Number(m[1]) * 1024 ** (unit === 'k' ? 1 : unit === 'm' ? 2 : unit === 'g' ? 3 : 0)
}

export function sizeLabel(bytes: number): string {
  for (const [unit, f] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const)
    if (bytes >= f && bytes % f === 0) return `${bytes / f} ${unit}`
  return `${bytes} B`
}

/** A size argument (`4k`, `1m`, `1g`: powers of 1024) for commander. */
function sizeArg(text: string): number {
  try {
    return parseSize(text)
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message)
  }
}

/** The command line of bench/run.ts; the defaults that depend on --quick are applied by settingsOf. */
export function benchCommand(): Command {
  return scriptCommand('bench/run.ts', 'Benchmark the cluster against a bare baseline coordinator, scenario by scenario')
    .option('--quick', 'smoke test: ~2 s per scenario, 64 MiB instead of 1 GiB, 1,000 listed keys; fails (exit 1) if any scenario had an error or completed nothing', false)
    .option('--duration <seconds>', 'per load scenario (default 10; 2 with --quick)', parseIntArg(1, 3600))
    .option(
      '--warmup <seconds>',
      'before the first scenario, each target takes this long of small PUTs and half as long of GETs at c16, so JIT compilation is over (default 8; 1 with --quick)',
      parseIntArg(0, 3600),
    )
    .addOption(
      new Option('--concurrency <list>', 'connections for the small-object scenarios, comma-separated; the mixed scenario uses the largest')
        .argParser(parseIntList(1, 10_000))
        .default([16, 64], '16,64'),
    )
    .addOption(new Option('--size <bytes>', 'small-object size; suffixes k, m, g (powers of 1024)').argParser(sizeArg).default(4096, '4k'))
    .addOption(new Option('--large-size <bytes>', 'large-object size').argParser(sizeArg).default(1024 ** 2, '1m'))
    .option('--large-concurrency <n>', 'connections for the large-object scenarios', parseIntArg(1, 1024), 4)
    .option('--huge-size <bytes>', 'the single huge object (default 1g; 64m with --quick)', sizeArg)
    .option('--list-keys <n>', 'keys in the listed bucket (default 10000; 1000 with --quick)', parseIntArg(1, 10_000_000))
    .option('--target <url>', "measure an already running cluster (its processes' memory is not sampled)", (v: string) => {
      try {
        return new URL(v).origin
      } catch {
        throw new InvalidArgumentError('expected a URL, e.g. http://127.0.0.1:8080')
      }
    })
    .option('--out <dir>', 'where results go (default bench/results; bench/results/quick with --quick)')
}

interface BenchOptions {
  quick: boolean
  duration?: number
  warmup?: number
  concurrency: number[]
  size: number
  largeSize: number
  largeConcurrency: number
  hugeSize?: number
  listKeys?: number
  target?: string
  out?: string
}

/** The settings of a run from its parsed command line (benchCommand). */
export function settingsOf(cmd: Command): Settings {
  const v = cmd.opts<BenchOptions>()
  const quick = v.quick
  const s: Settings = {
    quick,
    durationS: v.duration ?? (quick ? 2 : 10),
    warmupS: v.warmup ?? (quick ? 1 : 8),
    concurrency: v.concurrency,
    size: v.size,
    largeSize: v.largeSize,
    largeConcurrency: v.largeConcurrency,
    hugeSize: v.hugeSize ?? parseSize(quick ? '64m' : '1g'),
    listKeys: v.listKeys ?? (quick ? 1000 : 10_000),
    listLimit: 1000,
    getKeys: quick ? 500 : 2000,
    out: resolve(v.out ?? (quick ? QUICK_OUT : join(ROOT, 'bench/results'))),
  }
  if (v.target) s.target = v.target
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
  /** The admin key the launcher made; client-auth.ts signs the bench's requests to `url` with it. */
  credentials: Credentials | undefined
  layout: ClusterLayout
  procs: { name: string; pid: number }[]
  stop(): Promise<void>
}

/** The bench's cluster runs with mutual TLS between members and HTTPS on the proxy when env TLS=on (the launcher's opt-in). */
export function benchTls(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.TLS === 'on'
}

/**
 * 4 nodes + proxy from dist/, default settings, free ports, a temp dir; `stop` kills by pid and removes the dir.
 * With `tls` (env TLS=on), the launcher's TLS: this process trusts the cluster's CA, and so do the ./dynamoctl it runs.
 */
export async function startOwnCluster(nodes = 4, nodeArgs: string[] = [], proxyArgs: string[] = [], tls = benchTls()): Promise<OwnCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'dynamo-bench-'))
  const ports = await freePorts(nodes + 1)
  const layout: ClusterLayout = layoutUnder(ROOT, dir, ports, { nodeArgs, proxyArgs, tls })
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${layout.proxyPort}`
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    forgetProxy(url)
    await stopProcesses(layout, knownProcesses(layout), 'SIGTERM', 5000)
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const { credentials } = await startCluster(layout, 60_000)
    if (tls) process.env.NODE_EXTRA_CA_CERTS = join(tlsDir(layout), 'ca.crt')
    rememberProxy(url, credentials)
    await waitAllUp(url, nodes, 60_000)
    const procs = knownProcesses(layout).flatMap((name) => {
      const pid = runningPid(layout, name)
      return pid ? [{ name, pid }] : []
    })
    return { url, credentials, layout, procs: procs.sort((a, b) => a.name.localeCompare(b.name)), stop }
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
      const c = (await (await authedFetch(`${url}/cluster`, { signal: AbortSignal.timeout(2000) })).json()) as { nodes?: { status?: string }[] }
      if ((c.nodes ?? []).filter((m) => m.status === 'up').length >= n) return
    } catch {}
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`the proxy did not see ${n} nodes up within ${timeoutMs} ms`)
}
