/**
 * Command line of the local cluster (called by start_n_servers.sh and stop_servers.sh):
 *   cli.js start [N]            env PROXY_PORT (8080), S3_PORT (9000; 0: no S3 endpoint), NODE_BASE_PORT (9000: node-i on base+i), DATA_DIR (./data), HOST (127.0.0.1),
 *                               TLS (on: mutual TLS between members and HTTPS on the proxy, certificates in run/tls)
 *   cli.js stop [--kill] [name ...]
 */
import { relative, resolve } from 'node:path'
import { Command, CommanderError } from 'commander'
import { parseIntArg } from '../shared/config/common.js'
import { credentialsPath } from './admin-key.js'
import { type ClusterLayout, knownProcesses, startCluster, stopProcesses, tlsDir } from './launcher.js'

function layoutFromEnv(n: number): ClusterLayout {
  const env = process.env
  const base = Number(env.NODE_BASE_PORT ?? 9000)
  return {
    root: resolve(import.meta.dirname, '../..'),
    host: env.HOST ?? '127.0.0.1',
    proxyPort: Number(env.PROXY_PORT ?? 8080),
    s3Port: env.S3_PORT === '0' ? undefined : Number(env.S3_PORT ?? 9000),
    nodePorts: Array.from({ length: n }, (_, i) => base + i + 1),
    dataDir: resolve(env.DATA_DIR ?? 'data'),
    runDir: resolve(env.RUN_DIR ?? 'run'),
    logDir: resolve(env.LOG_DIR ?? 'logs'),
    tls: parseTlsEnv(env.TLS),
  }
}

/** TLS=on|off (default off). */
function parseTlsEnv(v: string | undefined): boolean {
  if (v === undefined || v === '' || v === 'off') return false
  if (v === 'on') return true
  throw new Error(`TLS=${v}: on or off`)
}

async function start(n: number): Promise<void> {
  const layout = layoutFromEnv(n)
  // Process start-up dominates on a small machine (~0.7 s per node on 2 cores): allow for N.
  const { started, credentials, joining } = await startCluster(layout, Math.max(60_000, n * 2000))
  console.log(started.length ? `started: ${started.join(' ')}` : 'everything was already running')
  if (joining.length > 0) console.log(`joining the ring: ${joining.join(' ')} (their ranges stream to them; ./dynamoctl node status shows the progress)`)
  const scheme = layout.tls ? 'https' : 'http'
  console.log(`proxy: ${scheme}://${layout.host}:${layout.proxyPort}   try: ./client.sh`)
  if (layout.s3Port !== undefined) console.log(`S3: ${scheme}://${layout.host}:${layout.s3Port}   (AWS_ENDPOINT_URL in run/credentials; docs/s3.md)`)
  if (layout.tls)
    console.log(`TLS: member certificates and the CA in ${relative(process.cwd(), tlsDir(layout)) || tlsDir(layout)} (clients: --cacert ${relative(process.cwd(), tlsDir(layout))}/ca.crt)`)
  if (credentials) {
    const file = relative(process.cwd(), credentialsPath(layout.runDir)) || credentialsPath(layout.runDir)
    console.log(`admin key ${credentials.accessKeyId} in ${file} (mode 0600): set -a; . ${file}; set +a   then: ./client.sh, ./dynamoctl, curl -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" ...`)
  }
}

async function stop(names: string[], kill: boolean): Promise<void> {
  const layout = layoutFromEnv(0)
  const targets = names.length ? names : knownProcesses(layout).sort((a, b) => (a === 'proxy' ? -1 : b === 'proxy' ? 1 : 0))
  const stopped = await stopProcesses(layout, targets, kill ? 'SIGKILL' : 'SIGTERM')
  console.log(stopped.length ? `${kill ? 'killed' : 'stopped'}: ${stopped.join(' ')}` : 'nothing was running')
}

async function main(): Promise<void> {
  const cli = new Command('cli.js').description('Start and stop the local cluster (start_n_servers.sh, stop_servers.sh)')
  cli
    .command('start')
    .description('start N storage nodes and the proxy (env PROXY_PORT 8080, S3_PORT 9000 (0: none), NODE_BASE_PORT 9000: node-i on base+i, DATA_DIR ./data, HOST 127.0.0.1, TLS off|on)')
    .argument('[n]', 'storage nodes', parseIntArg(1, 1000), 4)
    .action((n: number) => start(n))
  cli
    .command('stop')
    .description('stop the named processes (default: all that run), the proxy first')
    .argument('[names...]', 'node-1, ..., proxy')
    .option('--kill', 'SIGKILL instead of SIGTERM', false)
    .action((names: string[], o: { kill: boolean }) => stop(names, o.kill))
  // As the servers: --help exits 0, a bad command or value exits 2 (commander has printed why).
  for (const c of [cli, ...cli.commands]) c.exitOverride().showHelpAfterError('(see --help)')
  try {
    await cli.parseAsync(process.argv.slice(2), { from: 'user' })
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2)
    throw err
  }
}

main().catch((err) => {
  console.error(String(err instanceof Error ? err.message : err))
  process.exit(1)
})
