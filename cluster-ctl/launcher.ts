/**
 * Starting and stopping a local cluster of real processes: what start_n_servers.sh and
 * stop_servers.sh run, and what the cluster tests use, so both go through the same code.
 * Each process runs detached from the compiled dist/ entry point, logs to logs/<name>.log and
 * has its pid in run/<name>.pid; stopping kills those pids, never by name.
 * With `tls` (TLS=on, TestCluster's `tls: true`), run/tls holds a CA and one certificate per member
 * (shared/tls/member-certs.ts, as `./dynamoctl tls init`): member links are mutual TLS and the proxy
 * serves HTTPS with its member certificate; this process then trusts that CA (trust-ca.ts).
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import type { Credentials } from '../shared/config/credentials-file.js'
import { memberFiles, tlsInit } from '../shared/tls/member-certs.js'
import { ensureAdminKey } from './admin-key.js'
import { type ClientTls, waitHealthy, waitJoined } from './health-probe.js'
import { serverEnv } from './malloc-env.js'
import { trustCa } from './trust-ca.js'
import { serverNodeFlags } from './v8-flags.js'

export interface ClusterLayout {
  /** Project root holding dist/. */
  root: string
  host: string
  proxyPort: number
  /** The proxy's S3 endpoint (--s3-port), when it serves one. */
  s3Port?: number | undefined
  /** Port of node-i is nodePorts[i-1]. */
  nodePorts: readonly number[]
  dataDir: string
  runDir: string
  logDir: string
  /** Extra flags for every node / the proxy (tests use fast gossip timings). */
  nodeArgs?: readonly string[]
  proxyArgs?: readonly string[]
  /** Where node-i runs, when not on `host` like the proxy: nodePlacement[i-1] (the fault suite's network namespaces). */
  nodePlacement?: readonly NodePlacement[]
  /** Mutual TLS between members and HTTPS on the proxy's ports, with certificates in <runDir>/tls (made when missing). */
  tls?: boolean | undefined
}

/** A node's own address and the command it runs under, for nodes that do not share the proxy's host. */
export interface NodePlacement {
  /** Address the node binds (default: the layout's host). */
  host?: string
  /** host:port the node announces and others dial, when not host:port (e.g. a forwarding link proxy in front of it). */
  advertise?: string
  /** Command the node is run under, e.g. ['ip', 'netns', 'exec', 'ns-1'] (it must exec node in place so the pid stays the node's). */
  commandPrefix?: readonly string[]
}

export interface ProcessSpec {
  name: string
  script: string
  args: string[]
  healthUrl: string
  /** Run as `prefix... node script args` instead of `node script args`. */
  commandPrefix?: readonly string[]
  /** With TLS: the member id whose certificate (in <runDir>/tls) the process is given; made before it starts when missing. */
  member?: string
}

export function secretFile(layout: ClusterLayout): string {
  return join(layout.runDir, 'cluster.secret')
}

/**
 * A second cluster secret, while the secret is rotated: when this file exists, every member the
 * launcher starts also accepts it (`--previous-secret-file`); see docs/operations.md#rotating-the-cluster-secret.
 */
export function previousSecretFile(layout: ClusterLayout): string {
  return join(layout.runDir, 'cluster.secret.previous')
}

/** `--secret-file`, and `--previous-secret-file` when run/cluster.secret.previous exists (read at each start, so a restart picks up a rotation's step). */
function secretArgs(layout: ClusterLayout): string[] {
  const previous = previousSecretFile(layout)
  return ['--secret-file', secretFile(layout), ...(existsSync(previous) ? ['--previous-secret-file', previous] : [])]
}

/** The cluster secret is generated once into run/ when absent. */
export function ensureSecret(layout: ClusterLayout): void {
  mkdirSync(layout.runDir, { recursive: true })
  if (!existsSync(secretFile(layout))) writeFileSync(secretFile(layout), randomBytes(32).toString('hex'), { mode: 0o600 })
}

/** The address node-i binds. */
export function nodeHost(layout: ClusterLayout, i: number): string {
  return layout.nodePlacement?.[i - 1]?.host ?? layout.host
}

/** The address node-i is reached at by the others (its advertised one). */
export function nodeAddress(layout: ClusterLayout, i: number): string {
  return layout.nodePlacement?.[i - 1]?.advertise ?? `${nodeHost(layout, i)}:${layout.nodePorts[i - 1]}`
}

/** The member certificates' directory of a cluster started with TLS. */
export function tlsDir(layout: Pick<ClusterLayout, 'runDir'>): string {
  return join(layout.runDir, 'tls')
}

/** http or https, as the layout's processes serve. */
function scheme(layout: ClusterLayout): string {
  return layout.tls ? 'https' : 'http'
}

/** `--tls-cert/--tls-key/--tls-ca` of member `id`, when the layout runs with TLS. */
function memberTlsArgs(layout: ClusterLayout, id: string): string[] {
  if (!layout.tls) return []
  const f = memberFiles(tlsDir(layout), id)
  return ['--tls-cert', f.certFile, '--tls-key', f.keyFile, '--tls-ca', f.caFile]
}

/** The id the launcher signs and (with TLS) shows a certificate as: node health checks need one on a TLS member port. */
export const LAUNCHER_MEMBER = 'launcher'

/** What a client of the layout's TLS ports needs (the CA; the launcher's certificate for nodes' member ports); undefined without TLS. */
export { type ClientTls, waitHealthy, waitJoined }

export function clientTls(layout: ClusterLayout): ClientTls | undefined {
  if (!layout.tls) return undefined
  ensureTls(layout, [LAUNCHER_MEMBER])
  const f = memberFiles(tlsDir(layout), LAUNCHER_MEMBER)
  return { ca: readFileSync(f.caFile), cert: readFileSync(f.certFile), key: readFileSync(f.keyFile) }
}

/** Certificates for `ids` in <runDir>/tls (the CA made on first use), for every host the layout's members bind. */
export function ensureTls(layout: ClusterLayout, ids: readonly string[]): void {
  const hosts = new Set(['localhost', '127.0.0.1', layout.host, ...(layout.nodePlacement ?? []).map((p) => p.host).filter((h): h is string => h !== undefined)])
  tlsInit(tlsDir(layout), ids, [...hosts])
  trustCa(readFileSync(join(tlsDir(layout), 'ca.crt'), 'utf8'))
}

export function nodeSpec(layout: ClusterLayout, i: number): ProcessSpec {
  const seeds = layout.nodePorts.map((_, j) => nodeAddress(layout, j + 1)).filter((_, j) => j + 1 !== i)
  const port = layout.nodePorts[i - 1] as number
  const place = layout.nodePlacement?.[i - 1]
  const host = nodeHost(layout, i)
  return {
    name: `node-${i}`,
    script: join(layout.root, 'dist/storage-node/main.js'),
    args: [
      '--id',
      `node-${i}`,
      '--host',
      host,
      '--port',
      String(port),
      '--data',
      join(layout.dataDir, `node-${i}`),
      ...(place?.advertise ? ['--advertise', place.advertise] : []),
      '--seeds',
      seeds.join(','),
      ...secretArgs(layout),
      ...memberTlsArgs(layout, `node-${i}`),
      ...(layout.nodeArgs ?? []),
    ],
    // Health is checked on the bound address, not the advertised one: a fault injected on the way must not fail a start.
    healthUrl: `${scheme(layout)}://${host}:${port}/health`,
    ...(place?.commandPrefix ? { commandPrefix: place.commandPrefix } : {}),
    ...(layout.tls ? { member: `node-${i}` } : {}),
  }
}

/** The proxy `name` (its member id too, with TLS: its certificate also serves its public and S3 ports). */
export function proxySpec(layout: ClusterLayout, name = 'proxy'): ProcessSpec {
  const seeds = layout.nodePorts.map((_, j) => nodeAddress(layout, j + 1))
  const own = memberFiles(tlsDir(layout), name)
  const tls = layout.tls ? ['--id', name, ...memberTlsArgs(layout, name), '--public-tls-cert', own.certFile, '--public-tls-key', own.keyFile] : []
  return {
    name,
    script: join(layout.root, 'dist/proxy/main.js'),
    args: [
      '--host',
      layout.host,
      '--port',
      String(layout.proxyPort),
      ...(layout.s3Port === undefined ? [] : ['--s3-port', String(layout.s3Port)]),
      '--seeds',
      seeds.join(','),
      ...secretArgs(layout),
      ...tls,
      ...(layout.proxyArgs ?? []),
    ],
    healthUrl: `${scheme(layout)}://${layout.host}:${layout.proxyPort}/health`,
    ...(layout.tls ? { member: name } : {}),
  }
}

function pidFile(layout: ClusterLayout, name: string): string {
  return join(layout.runDir, `${name}.pid`)
}

/** Whether `pid` runs: it exists and is not a zombie (a killed server whose parent has not reaped it yet still answers kill(pid, 0)). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ...", comm may hold spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat[stat.lastIndexOf(')') + 2] !== 'Z'
  } catch {
    // No /proc (not Linux), or the process is gone this instant.
    return !existsSync('/proc/self/stat')
  }
}

export function runningPid(layout: ClusterLayout, name: string): number | undefined {
  const file = pidFile(layout, name)
  if (!existsSync(file)) return undefined
  const pid = Number(readFileSync(file, 'utf8').trim())
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined
}

/** Start a process unless it already runs. Returns its pid and whether it was started now. */
export function startProcess(layout: ClusterLayout, spec: ProcessSpec): { pid: number; started: boolean } {
  const existing = runningPid(layout, spec.name)
  if (existing) return { pid: existing, started: false }
  mkdirSync(layout.logDir, { recursive: true })
  mkdirSync(layout.runDir, { recursive: true })
  if (spec.member !== undefined) ensureTls(layout, [spec.member])
  const log = openSync(join(layout.logDir, `${spec.name}.log`), 'a')
  const [command, ...prefixArgs] = [...(spec.commandPrefix ?? []), process.execPath]
  // The servers' V8 tuning, then DYNAMO_NODE_FLAGS: extra flags for every server's node (e.g. `--cpu-prof --cpu-prof-dir=DIR` to profile a bench run).
  const flags = serverNodeFlags(process.env)
  const child = spawn(command as string, [...prefixArgs, ...flags, spec.script, ...spec.args], { detached: true, stdio: ['ignore', log, log], cwd: layout.root, env: serverEnv(process.env) })
  child.unref()
  if (!child.pid) throw new Error(`could not start ${spec.name}`)
  writeFileSync(pidFile(layout, spec.name), String(child.pid))
  return { pid: child.pid, started: true }
}

/**
 * Start every node not running, then the proxy; wait until all that were started are healthy; then
 * make sure `<runDir>/credentials` holds an admin key the proxy accepts (admin-key.ts).
 * `credentials` is undefined only for a proxy without access keys.
 */
export async function startCluster(layout: ClusterLayout, timeoutMs = 30_000): Promise<{ started: string[]; credentials: Credentials | undefined; joining: string[] }> {
  if (layout.s3Port !== undefined && (layout.nodePorts.includes(layout.s3Port) || layout.s3Port === layout.proxyPort)) {
    throw new Error(`S3_PORT ${layout.s3Port} is the port of the proxy or of a storage node: choose another (S3_PORT=9000 with NODE_BASE_PORT=9000 puts nodes on 9001...)`)
  }
  ensureSecret(layout)
  const specs = layout.nodePorts.map((_, j) => nodeSpec(layout, j + 1))
  const started: string[] = []
  for (const s of specs) if (startProcess(layout, s).started) started.push(s.name)
  const tls = clientTls(layout)
  await waitHealthy(
    specs.map((s) => s.healthUrl),
    timeoutMs,
    tls,
  )
  const joining = await waitJoined(
    specs.map((s) => s.healthUrl),
    Math.min(timeoutMs, 10_000),
    tls,
  )
  const proxy = proxySpec(layout)
  if (startProcess(layout, proxy).started) started.push(proxy.name)
  await waitHealthy([proxy.healthUrl], timeoutMs, tls)
  const secret = readFileSync(secretFile(layout), 'utf8').trim()
  const s3Url = layout.s3Port === undefined ? undefined : `${scheme(layout)}://${layout.host}:${layout.s3Port}`
  const credentials = await ensureAdminKey({ runDir: layout.runDir, proxyUrl: `${scheme(layout)}://${layout.host}:${layout.proxyPort}`, secret, s3Url }, timeoutMs)
  return { started, credentials, joining: specs.filter((s) => joining.includes(s.healthUrl)).map((s) => s.name) }
}

/** Names with a pid file in run/. */
export function knownProcesses(layout: ClusterLayout): string[] {
  if (!existsSync(layout.runDir)) return []
  return readdirSync(layout.runDir)
    .filter((f) => f.endsWith('.pid'))
    .map((f) => f.slice(0, -4))
}

/**
 * Signal processes by their pid files and wait for them to exit (SIGKILL for those still running
 * `graceMs` after a SIGTERM). On SIGTERM the proxy goes first, so the requests it is finishing still
 * reach the nodes; then the nodes, all at once (each lets its own requests in flight finish for up
 * to ~2 s, which one after another made stopping a cluster take that long per node).
 */
export async function stopProcesses(layout: ClusterLayout, names: readonly string[], signal: 'SIGTERM' | 'SIGKILL', graceMs = 10_000): Promise<string[]> {
  const phases = signal === 'SIGTERM' ? [names.filter((n) => n === 'proxy'), names.filter((n) => n !== 'proxy')] : [names]
  const stopped: string[] = []
  for (const phase of phases) {
    const signalled: { name: string; pid: number }[] = []
    for (const name of phase) {
      const pid = runningPid(layout, name)
      rmSync(pidFile(layout, name), { force: true })
      if (!pid) continue
      try {
        process.kill(pid, signal)
      } catch {}
      signalled.push({ name, pid })
    }
    const deadline = Date.now() + graceMs
    while (signalled.some((p) => isAlive(p.pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25))
    for (const { pid } of signalled) {
      if (isAlive(pid)) process.kill(pid, 'SIGKILL')
      while (isAlive(pid)) await new Promise((r) => setTimeout(r, 10))
    }
    stopped.push(...signalled.map((p) => p.name))
  }
  return stopped
}

/** `n` ports free on 127.0.0.1 right now (listen on port 0, note the port, close). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((ok) => {
          const s = createServer()
          s.listen(0, '127.0.0.1', () => ok(s))
        }),
    ),
  )
  const ports = servers.map((s) => (s.address() as { port: number }).port)
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))))
  return ports
}

/** A cluster on 127.0.0.1 entirely under `dir` (data, run, logs): the proxy on ports[0], node-i on ports[i]. */
export function layoutUnder(root: string, dir: string, ports: readonly number[], extra: Pick<ClusterLayout, 'nodeArgs' | 'proxyArgs' | 's3Port' | 'tls'> = {}): ClusterLayout {
  return {
    root,
    host: '127.0.0.1',
    proxyPort: ports[0] as number,
    nodePorts: ports.slice(1),
    dataDir: join(dir, 'data'),
    runDir: join(dir, 'run'),
    logDir: join(dir, 'logs'),
    ...extra,
  }
}
