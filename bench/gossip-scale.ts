/**
 * Gossip at scale: start N storage nodes (default 100) on this machine with default gossip
 * settings, measure how long until every node's view has all N members up, then per-node memory
 * (VmRSS) and gossip traffic per second. Usage: node --import=tsx bench/gossip-scale.ts [N] [--seconds S]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { type ClusterLayout, ensureSecret, freePorts, knownProcesses, nodeSpec, runningPid, startProcess, stopProcesses, waitHealthy } from '../cluster-ctl/launcher.js'
import { type Command, isMain, parseCommandLine, parseCommandLineOrExit, parseIntArg, scriptCommand } from '../devtools/command-line.js'

export interface GossipScaleOptions {
  nodes: number
  /** How long gossip traffic is sampled once every view is complete. */
  seconds: number
}

function gossipScaleCommand() {
  return scriptCommand('bench/gossip-scale.ts', 'Start N storage nodes with default gossip settings; time until every view has all N up, then RSS and gossip bytes per node')
    .argument('[nodes]', 'storage nodes to start', parseIntArg(1, 1000), 100)
    .option('--seconds <s>', 'how long gossip traffic is sampled', parseIntArg(1, 3600), 10)
}

function optionsOf(cmd: Command): GossipScaleOptions {
  return { nodes: cmd.processedArgs[0] as number, seconds: cmd.opts<{ seconds: number }>().seconds }
}

/** The options in `argv`; throws CommanderError on --help or bad input (the script exits 0 or 2 then). */
export function parseGossipScaleArgs(argv: readonly string[]): GossipScaleOptions {
  return optionsOf(parseCommandLine(gossipScaleCommand(), argv, { silent: true }))
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1] ?? 0)
}

async function views(layout: ClusterLayout): Promise<number[]> {
  return Promise.all(
    layout.nodePorts.map(async (p) => {
      try {
        const m = (await (await fetch(`http://127.0.0.1:${p}/membership`, { signal: AbortSignal.timeout(2000) })).json()) as { members: { status: string }[] }
        return m.members.filter((x) => x.status === 'up').length
      } catch {
        return 0
      }
    }),
  )
}

async function gossipBytes(layout: ClusterLayout): Promise<number> {
  const all = await Promise.all(
    layout.nodePorts.map(async (p) => {
      const h = (await (await fetch(`http://127.0.0.1:${p}/health`)).json()) as { gossip: { bytesOut: number; bytesIn: number } }
      return h.gossip.bytesOut + h.gossip.bytesIn
    }),
  )
  return all.reduce((a, b) => a + b, 0)
}

async function main({ nodes: n, seconds: sampleSeconds }: GossipScaleOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gossip-scale-'))
  const layout: ClusterLayout = {
    root: resolve(import.meta.dirname, '..'),
    host: '127.0.0.1',
    proxyPort: 0,
    nodePorts: await freePorts(n),
    dataDir: join(dir, 'data'),
    runDir: join(dir, 'run'),
    logDir: join(dir, 'logs'),
  }
  const stop = async () => {
    await stopProcesses(layout, knownProcesses(layout), 'SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('SIGINT', () => void stop().then(() => process.exit(130)))
  try {
    ensureSecret(layout)
    const t0 = Date.now()
    const specs = layout.nodePorts.map((_, i) => nodeSpec(layout, i + 1))
    for (const s of specs) startProcess(layout, s)
    await waitHealthy(
      specs.map((s) => s.healthUrl),
      300_000,
    )
    const healthyAt = Date.now()
    let converged = 0
    const deadline = Date.now() + 180_000
    while (Date.now() < deadline) {
      const v = await views(layout)
      converged = v.filter((c) => c === n).length
      if (converged === n) break
      await new Promise((r) => setTimeout(r, 500))
    }
    const convergedAt = Date.now()
    const b0 = await gossipBytes(layout)
    const s0 = Date.now()
    await new Promise((r) => setTimeout(r, sampleSeconds * 1000))
    const bytesDuringSample = (await gossipBytes(layout)) - b0
    const elapsed = (Date.now() - s0) / 1000
    const rss = specs.map((s) => rssKiB(runningPid(layout, s.name) ?? 0))
    const result = {
      nodes: n,
      all_healthy_s: (healthyAt - t0) / 1000,
      views_converged_s: (convergedAt - t0) / 1000,
      converged_after_healthy_s: (convergedAt - healthyAt) / 1000,
      nodes_with_full_view: converged,
      gossip_bytes_per_s_per_node: Math.round(bytesDuringSample / elapsed / n),
      rss_mib_mean: Math.round(rss.reduce((a, b) => a + b, 0) / rss.length / 1024),
      rss_mib_max: Math.round(Math.max(...rss) / 1024),
    }
    console.log(JSON.stringify(result, null, 2))
    if (converged !== n) process.exitCode = 1
  } finally {
    await stop()
  }
}

if (isMain(import.meta.url)) void main(optionsOf(parseCommandLineOrExit(gossipScaleCommand())))
