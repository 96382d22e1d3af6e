/**
 * The cluster on many hosts, as an operator runs it (issue 32): every storage node and every proxy
 * on its own test host (a network namespace with its own address, netns.ts), mutual TLS between all
 * members, HAProxy on the host in front of the proxies (deploy/haproxy's shape: health checks on
 * /health, HTTPS to the proxies checked against the cluster CA), and clients only through HAProxy.
 *
 * `runManyHosts` drives it through the phases an operator's week holds, under a steady write and
 * read load, and reports each phase's availability and latency: a proxy killed with SIGKILL (and
 * started again), every node upgraded one at a time with SIGTERM from the build it started on to this
 * checkout's, every proxy likewise, and a rolling restart of every node. Afterwards every
 * acknowledged write must read back, and a member showing a certificate from another CA must be
 * refused (and logged). Used by test/cluster/many-hosts.test.ts (short) and faults/many-hosts.ts.
 * Teardown stops every process by pid (HAProxy included) and removes the namespaces, whatever failed.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { ensureAdminKey } from '../../cluster-ctl/admin-key.js'
import {
  type ClientTls,
  type ClusterLayout,
  clientTls,
  ensureSecret,
  freePorts,
  knownProcesses,
  type NodePlacement,
  nodeSpec,
  type ProcessSpec,
  proxySpec,
  secretFile,
  startProcess,
  stopProcesses,
  tlsDir,
  waitHealthy,
} from '../../cluster-ctl/launcher.js'
import { FAST_GOSSIP_ARGS } from '../../devtools/test-cluster.js'
import { withBasicAuth } from '../../devtools/proxy-credentials.js'
import { waitForNodeStatus } from '../../devtools/node-status.js'
import type { Credentials } from '../../shared/config/credentials-file.js'
import { memberFiles, tlsInit } from '../../shared/tls/member-certs.js'
import { createTestNetwork, destroyTestNetwork, inNamespace, type NetnsHost, registerRunDir, type TestNetwork } from './netns.js'
import { probeNetworkFaults } from './netns-probe.js'
import { type PhaseReport, PhaseLoad } from '../../devtools/phase-load.js'

export { type PhaseReport, phaseTable } from '../../devtools/phase-load.js'

const THIS_ROOT = resolve(import.meta.dirname, '../..')
/** Each host has its own port space: the nodes use make run's ports. */
const NODE_BASE_PORT = 9000

export interface ManyHostsOptions {
  nodes: number
  proxies: number
  /** The build every process starts on (default: this checkout); the upgrade phase moves each to this checkout's. */
  fromRoot?: string
  /** Seconds of load in the steady phases. */
  steadySeconds: number
  /** Also restart every node with SIGTERM after the upgrade (the long run). */
  rollingRestart: boolean
  clients: number
  log?: (line: string) => void
}

export interface ManyHostsReport {
  phases: PhaseReport[]
  acknowledged: number
  /** Acknowledged writes that did not read back afterwards. */
  lost: string[]
  /** How a member with another CA's certificate fared at a node's port, and whether the node logged it. */
  foreignCa: { refused: boolean; logged: boolean; error: string }
}

/** A reason the many-hosts cluster cannot be had here (not root, no namespaces, no HAProxy), or undefined. */
export async function manyHostsUnavailable(): Promise<string | undefined> {
  const support = await probeNetworkFaults()
  if (!support.ok) return `network namespaces unavailable: ${support.reason}`
  const which = spawn('sh', ['-c', 'command -v haproxy'], { stdio: 'ignore' })
  const code = await new Promise<number | null>((r) => which.once('exit', r))
  if (code !== 0) return 'haproxy is not installed (Debian package haproxy; .ci/run installs it as root)'
  return undefined
}

class ManyHosts {
  credentials: Credentials | undefined
  private readonly roots = new Map<string, string>()

  constructor(
    readonly layout: ClusterLayout,
    readonly dir: string,
    readonly network: TestNetwork,
    readonly proxyNames: readonly string[],
    readonly lbPort: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.lbPort}`
  }

  host(name: string): NetnsHost {
    const h = this.network.hosts.find((x) => x.name === name)
    if (!h) throw new Error(`no test host ${name}`)
    return h
  }

  get tls(): ClientTls {
    return clientTls(this.layout) as ClientTls
  }

  spec(name: string): ProcessSpec {
    const layout = { ...this.layout, root: this.roots.get(name) ?? this.layout.root }
    if (name.startsWith('node-')) return nodeSpec(layout, Number(name.slice(5)))
    const h = this.host(name)
    // A proxy on its own host, on the load balancer's port number (the signed Host names that port).
    return { ...proxySpec({ ...layout, host: h.address }, name), commandPrefix: inNamespace(h) }
  }

  async start(name: string): Promise<void> {
    const spec = this.spec(name)
    startProcess({ ...this.layout, root: this.roots.get(name) ?? this.layout.root }, spec)
    await waitHealthy([spec.healthUrl], 60_000, this.tls)
  }

  async stop(name: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    await stopProcesses(this.layout, [name], signal)
  }

  /** SIGTERM, then start again from `root` (same id, address, data). */
  async upgrade(name: string, root: string): Promise<void> {
    await this.stop(name, 'SIGTERM')
    this.roots.set(name, root)
    await this.start(name)
  }

  fetch(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.url}${path}`, withBasicAuth({ ...init, signal: AbortSignal.timeout(10_000) }, this.credentials))
  }

  /** Until the proxies (through the load balancer) see `id` with `status`. */
  async waitForStatus(id: string, status: 'up' | 'down', timeoutMs = 20_000): Promise<void> {
    await waitForNodeStatus(() => this.fetch('/cluster'), id, status, timeoutMs)
  }

  async teardown(): Promise<void> {
    const problems: string[] = []
    try {
      await stopProcesses(this.layout, knownProcesses(this.layout), 'SIGKILL')
    } catch (err) {
      problems.push(`stopping processes: ${String(err)}`)
    }
    problems.push(...(await destroyTestNetwork(this.network)))
    rmSync(this.dir, { recursive: true, force: true })
    if (problems.length > 0) throw new Error(`teardown left something behind: ${problems.join('; ')}`)
  }
}

/** deploy/haproxy's shape on `port`: HTTP in front, HTTPS to each proxy verified against the cluster CA, /health checked every 300 ms. */
function haproxyConfig(port: number, ca: string, proxies: readonly { name: string; address: string }[]): string {
  return [
    'global',
    '  maxconn 2000',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  retries 2',
    '  option redispatch',
    'frontend native',
    `  bind 127.0.0.1:${port}`,
    '  default_backend proxies',
    'backend proxies',
    '  balance roundrobin',
    '  option httpchk GET /health',
    '  http-check expect status 200',
    `  default-server inter 300ms fall 2 rise 2 ssl verify required ca-file ${ca}`,
    ...proxies.map((p) => `  server ${p.name} ${p.address}:${port} check`),
    '',
  ].join('\n')
}

async function startManyHosts(opts: ManyHostsOptions): Promise<ManyHosts> {
  const nodeNames = Array.from({ length: opts.nodes }, (_, i) => `node-${i + 1}`)
  const proxyNames = Array.from({ length: opts.proxies }, (_, i) => `proxy-${i + 1}`)
  const network = await createTestNetwork([...nodeNames, ...proxyNames])
  const dir = mkdtempSync(join(tmpdir(), 'dynamo-many-hosts-'))
  let cluster: ManyHosts | undefined
  try {
    const [lbPort] = await freePorts(1)
    const placement: NodePlacement[] = network.hosts.slice(0, opts.nodes).map((h) => ({ host: h.address, commandPrefix: inNamespace(h) }))
    const first = network.hosts[opts.nodes] as NetnsHost
    const layout: ClusterLayout = {
      root: opts.fromRoot ?? THIS_ROOT,
      host: first.address,
      proxyPort: lbPort as number,
      nodePorts: nodeNames.map((_, i) => NODE_BASE_PORT + i + 1),
      nodePlacement: placement,
      dataDir: join(dir, 'data'),
      runDir: join(dir, 'run'),
      logDir: join(dir, 'logs'),
      nodeArgs: [...FAST_GOSSIP_ARGS],
      proxyArgs: ['--membership-poll-ms', '200'],
      tls: true,
    }
    registerRunDir(network, layout.runDir)
    cluster = new ManyHosts(layout, dir, network, proxyNames, lbPort as number)
    ensureSecret(layout)
    // Every member's certificate names every test host (nodes and proxies), so any host can serve any member.
    tlsInit(tlsDir(layout), [...nodeNames, ...proxyNames], ['localhost', '127.0.0.1', ...network.hosts.map((h) => h.address)])
    for (const n of nodeNames) startProcess(layout, cluster.spec(n))
    await waitHealthy(
      nodeNames.map((n) => (cluster as ManyHosts).spec(n).healthUrl),
      60_000,
      cluster.tls,
    )
    for (const p of proxyNames) await cluster.start(p)
    const secret = readFileSync(secretFile(layout), 'utf8').trim()
    cluster.credentials = await ensureAdminKey({ runDir: layout.runDir, proxyUrl: `https://${first.address}:${lbPort}`, secret }, 60_000)
    const cfg = join(dir, 'haproxy.cfg')
    writeFileSync(
      cfg,
      haproxyConfig(
        lbPort as number,
        memberFiles(tlsDir(layout), 'node-1').caFile,
        proxyNames.map((name) => ({ name, address: (cluster as ManyHosts).host(name).address })),
      ),
    )
    const out = openSync(join(layout.logDir, 'haproxy.log'), 'a')
    const lb = spawn('haproxy', ['-db', '-f', cfg], { detached: true, stdio: ['ignore', out, out] })
    writeFileSync(join(layout.runDir, 'haproxy.pid'), String(lb.pid))
    lb.unref()
    await waitHealthy([`${cluster.url}/health`], 30_000)
    for (const n of nodeNames) await cluster.waitForStatus(n, 'up')
    return cluster
  } catch (err) {
    if (cluster) await cluster.teardown().catch(() => undefined)
    else {
      await destroyTestNetwork(network)
      rmSync(dir, { recursive: true, force: true })
    }
    throw err
  }
}

/** A TLS handshake with node-1's member port showing a certificate from another CA. */
async function foreignCaAttempt(cluster: ManyHosts): Promise<{ refused: boolean; logged: boolean; error: string }> {
  const other = mkdtempSync(join(tmpdir(), 'dynamo-other-ca-'))
  try {
    tlsInit(other, ['node-9'])
    const f = memberFiles(other, 'node-9')
    const node = cluster
      .spec('node-1')
      .healthUrl.replace(/^https:\/\//, '')
      .split('/')[0] as string
    const [host, port] = node.split(':')
    const error = await new Promise<string>((done) => {
      const socket = tlsConnect({
        host,
        port: Number(port),
        cert: readFileSync(f.certFile),
        key: readFileSync(f.keyFile),
        ca: readFileSync(memberFiles(tlsDir(cluster.layout), 'node-1').caFile),
        checkServerIdentity: () => undefined,
      })
      socket.once('secureConnect', () => {
        socket.write('GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
      })
      let got = ''
      socket.on('data', (d: Buffer) => {
        got += d.toString('latin1')
      })
      socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message))
      socket.once('close', () => done(got.startsWith('HTTP/1.1 200') ? 'served' : `closed${got ? `: ${got.slice(0, 40)}` : ''}`))
      socket.setTimeout(5000, () => socket.destroy(new Error('timeout')))
    })
    await new Promise((r) => setTimeout(r, 300))
    const logged = readFileSync(join(cluster.layout.logDir, 'node-1.log'), 'utf8').includes('"TLS handshake refused"')
    return { refused: error !== 'served', logged, error }
  } finally {
    rmSync(other, { recursive: true, force: true })
  }
}

/** Start the cluster, run the phases under load, check, tear down (always). */
export async function runManyHosts(opts: ManyHostsOptions): Promise<ManyHostsReport> {
  const log = opts.log ?? (() => undefined)
  const cluster = await startManyHosts(opts)
  try {
    const made = await cluster.fetch('/buckets/hosts', { method: 'POST' })
    if (made.status !== 201) throw new Error(`bucket: ${made.status} ${await made.text()}`)
    const steady = () => new Promise((r) => setTimeout(r, opts.steadySeconds * 1000))
    const load = new PhaseLoad(cluster, opts.clients, 'steady', 'hosts')
    await steady()

    log('kill -9 proxy-1')
    load.next('proxy-1 killed (SIGKILL) and started again')
    await cluster.stop('proxy-1', 'SIGKILL')
    await steady()
    await cluster.upgrade('proxy-1', THIS_ROOT)

    // Each node in turn started (SIGTERM first) on this build, the next once the proxies see it up.
    const eachNodeInTurn = async (verb: string) => {
      for (let i = 1; i <= opts.nodes; i++) {
        log(`${verb} node-${i}`)
        await cluster.upgrade(`node-${i}`, THIS_ROOT)
        await cluster.waitForStatus(`node-${i}`, 'up')
      }
    }
    load.next('nodes upgraded one at a time (SIGTERM)')
    await eachNodeInTurn('upgrade')
    load.next('proxies upgraded one at a time (SIGTERM)')
    for (const p of cluster.proxyNames.slice(1)) {
      log(`upgrade ${p}`)
      await cluster.upgrade(p, THIS_ROOT)
      await new Promise((r) => setTimeout(r, 1000))
    }
    if (opts.rollingRestart) {
      load.next('rolling restart of every node (SIGTERM)')
      await eachNodeInTurn('restart')
    }
    load.next('steady after')
    await steady()
    await load.stop()

    const lost: string[] = []
    for (const [key, body] of load.acked) {
      const res = await cluster.fetch(`/buckets/hosts/files/${key}`)
      const text = await res.text()
      if (res.status !== 200 || text !== body) lost.push(`${key}: ${res.status}`)
    }
    const foreignCa = await foreignCaAttempt(cluster)
    return { phases: load.phases, acknowledged: load.acked.size, lost, foreignCa }
  } finally {
    await cluster.teardown()
  }
}
