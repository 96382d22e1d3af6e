/**
 * Command line of the local cluster (called by start_n_servers.sh and stop_servers.sh):
 *   cli.js start [N]            env PROXY_PORT (8080), NODE_BASE_PORT (9000: node-i on base+i), DATA_DIR (./data), HOST (127.0.0.1)
 *   cli.js stop [--kill] [name ...]
 */
import { resolve } from 'node:path'
import { type ClusterLayout, knownProcesses, startCluster, stopProcesses } from './launcher.js'

function layoutFromEnv(n: number): ClusterLayout {
  const env = process.env
  const base = Number(env.NODE_BASE_PORT ?? 9000)
  return {
    root: resolve(import.meta.dirname, '../..'),
    host: env.HOST ?? '127.0.0.1',
    proxyPort: Number(env.PROXY_PORT ?? 8080),
    nodePorts: Array.from({ length: n }, (_, i) => base + i + 1),
    dataDir: resolve(env.DATA_DIR ?? 'data'),
    runDir: resolve(env.RUN_DIR ?? 'run'),
    logDir: resolve(env.LOG_DIR ?? 'logs'),
  }
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2)
  if (command === 'start') {
    const n = Number(rest[0] ?? 4)
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error('usage: start [N], N from 1 to 1000')
    const layout = layoutFromEnv(n)
    // Process start-up dominates on a small machine (~0.7 s per node on 2 cores): allow for N.
    const { started } = await startCluster(layout, Math.max(60_000, n * 2000))
    console.log(started.length ? `started: ${started.join(' ')}` : 'everything was already running')
    console.log(`proxy: http://${layout.host}:${layout.proxyPort}   try: ./client.sh`)
  } else if (command === 'stop') {
    const kill = rest.includes('--kill')
    const layout = layoutFromEnv(0)
    const names = rest.filter((a) => a !== '--kill')
    const targets = names.length ? names : knownProcesses(layout).sort((a, b) => (a === 'proxy' ? -1 : b === 'proxy' ? 1 : 0))
    const stopped = await stopProcesses(layout, targets, kill ? 'SIGKILL' : 'SIGTERM')
    console.log(stopped.length ? `${kill ? 'killed' : 'stopped'}: ${stopped.join(' ')}` : 'nothing was running')
  } else {
    throw new Error('usage: cli.js start [N] | stop [--kill] [name ...]')
  }
}

main().catch((err) => {
  console.error(String(err instanceof Error ? err.message : err))
  process.exit(1)
})
