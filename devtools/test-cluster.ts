/**
 * Cluster harness for tests and fault runs: real processes started through the same launcher the scripts use,
 * on free ports, in a temp dir, with fast gossip timings; teardown kills by pid, always.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import {
  type ClusterLayout,
  clientTls,
  freePorts,
  layoutUnder,
  knownProcesses,
  nodeSpec,
  proxySpec,
  startCluster,
  startProcess,
  stopProcesses,
  waitHealthy,
  waitJoined,
} from '../cluster-ctl/launcher.js'
import type { Credentials } from '../shared/config/credentials-file.js'
import { forgetProxy, rememberProxy, withBasicAuth } from './proxy-credentials.js'
import { waitForNodeStatus, waitForRingState } from './node-status.js'

export { freePorts }

/** Gossip timings of test clusters, so detection takes about a second: T_gossip, suspect, T_fail (ms). */
export const FAST_GOSSIP = { intervalMs: 200, suspectAfterMs: 600, failAfterMs: 1000 } as const

export const FAST_GOSSIP_ARGS = ['--gossip-interval-ms', String(FAST_GOSSIP.intervalMs), '--suspect-after-ms', String(FAST_GOSSIP.suspectAfterMs), '--fail-after-ms', String(FAST_GOSSIP.failAfterMs)]

export interface TestClusterOptions {
  nodeArgs?: string[]
  proxyArgs?: string[]
  /**
   * Runs once the layout is known, before any process starts (e.g. mount a small filesystem where a
   * node's data directory will be); what it returns runs at teardown, after every process stopped.
   */
  prepare?: (layout: ClusterLayout) => (() => void | Promise<void>) | undefined
  /**
   * Mutual TLS between members and HTTPS on the proxy's ports (the launcher's TLS=on: certificates in
   * <dir>/run/tls); this process then trusts the cluster's CA, so fetch and the helpers work as without.
   */
  tls?: boolean
  /** The project root whose dist/ every process runs (default: this checkout; devtools/build-at.ts builds another commit). */
  root?: string
}

/** fetch's options, and `anonymous: true` to send no credentials (to see what a request without them gets). */
export interface ClusterFetchInit extends RequestInit {
  anonymous?: boolean
}

export class TestCluster {
  private cleanup: (() => void | Promise<void>) | undefined
  /** The admin key the launcher keeps in run/credentials; undefined only for a proxy without access keys. */
  credentials: Credentials | undefined
  /** Base URLs of the proxies startProxy added. */
  private readonly extraProxies: string[] = []
  /** Processes upgraded to another build: their project root (the others run layout.root's). */
  private readonly roots = new Map<string, string>()

  private constructor(
    public layout: ClusterLayout,
    readonly dir: string,
  ) {}

  static async start(n = 4, opts: TestClusterOptions = {}): Promise<TestCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'dynamo-test-'))
    const ports = await freePorts(n + 2)
    const layout = layoutUnder(opts.root ?? resolve(import.meta.dirname, '..'), dir, ports.slice(0, n + 1), {
      s3Port: ports[n + 1] as number,
      nodeArgs: [...FAST_GOSSIP_ARGS, ...(opts.nodeArgs ?? [])],
      proxyArgs: ['--membership-poll-ms', '200', ...(opts.proxyArgs ?? [])],
      tls: opts.tls === true,
    })
    const cluster = new TestCluster(layout, dir)
    try {
      cluster.cleanup = opts.prepare?.(layout)
      cluster.credentials = (await startCluster(layout, 30_000)).credentials
      rememberProxy(cluster.url, cluster.credentials)
    } catch (err) {
      await cluster.teardown()
      throw err
    }
    return cluster
  }

  /** http, or https for a cluster started with `tls: true`. */
  get scheme(): 'http' | 'https' {
    return this.layout.tls ? 'https' : 'http'
  }

  get url(): string {
    return `${this.scheme}://127.0.0.1:${this.layout.proxyPort}`
  }

  /** The proxy's S3 endpoint (every test cluster has one, on a free port). */
  get s3Url(): string {
    return `${this.scheme}://127.0.0.1:${this.layout.s3Port}`
  }

  /**
   * fetch from the proxy (a path, or a whole URL) with the admin key in HTTP Basic, unless `init`
   * carries an Authorization header of its own or says `anonymous: true`.
   */
  fetch(pathOrUrl: string, init: ClusterFetchInit = {}): Promise<Response> {
    const { anonymous, ...rest } = init
    const url = /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : `${this.url}${pathOrUrl}`
    return fetch(url, anonymous ? rest : withBasicAuth(rest, this.credentials))
  }

  /** kill -9 (or SIGTERM) by pid. */
  async stop(name: string, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    await stopProcesses(this.layout, [name], signal)
  }

  async restart(name: string): Promise<void> {
    const layout = { ...this.layout, root: this.roots.get(name) ?? this.layout.root }
    const spec = name === 'proxy' ? proxySpec(layout) : nodeSpec(layout, Number(name.replace('node-', '')))
    startProcess(layout, spec)
    await waitHealthy([spec.healthUrl], 30_000, clientTls(layout))
  }

  /**
   * One step of a rolling upgrade: stop `name` (the proxy or a node) with SIGTERM, as an operator's
   * service manager does, and start it again from the build under `root`, with the same id, port and
   * data. Later restarts of it run that build too.
   */
  async upgrade(name: string, root: string): Promise<void> {
    await this.stop(name, 'SIGTERM')
    this.roots.set(name, root)
    await this.restart(name)
  }

  /**
   * Start another proxy, `name`, on the same nodes and a free port, with `proxyArgs` in place of the
   * cluster's (and no S3 endpoint: the cluster's port is taken), from the build under `root`; the
   * helpers send it the admin key like the first. Returns its base URL; it is stopped (by pid) with the cluster.
   */
  async startProxy(name: string, proxyArgs: readonly string[] = ['--membership-poll-ms', '200'], root = this.layout.root): Promise<string> {
    const [port] = await freePorts(1)
    const layout = { ...this.layout, root, proxyPort: port as number, s3Port: undefined, proxyArgs }
    const spec = proxySpec(layout, name)
    startProcess(layout, spec)
    const url = `${this.scheme}://127.0.0.1:${port}`
    this.extraProxies.push(url)
    await waitHealthy([spec.healthUrl], 30_000, clientTls(this.layout))
    rememberProxy(url, this.credentials)
    return url
  }

  /**
   * Start one more node (node-<n+1>) that joins through the others as seeds; by default, wait until
   * it is a member (its holders have sent it its ranges), else return while it may still be joining.
   */
  async addNode(opts: { waitJoined?: boolean } = {}): Promise<string> {
    const [port] = await freePorts(1)
    this.layout = { ...this.layout, nodePorts: [...this.layout.nodePorts, port as number] }
    const i = this.layout.nodePorts.length
    const spec = nodeSpec(this.layout, i)
    startProcess(this.layout, spec)
    await waitHealthy([spec.healthUrl], 30_000, clientTls(this.layout))
    if (opts.waitJoined !== false && (await waitJoined([spec.healthUrl], 60_000, clientTls(this.layout))).length > 0) throw new Error(`${spec.name} still joining after 60 s`)
    return spec.name
  }

  /** Take `id`, the node added last, out of the layout once it has left the ring and stopped: the harness no longer counts it as a node. */
  forgetNode(id: string): void {
    if (Number(id.replace('node-', '')) !== this.layout.nodePorts.length) throw new Error(`only the node added last can be forgotten, not ${id}`)
    this.layout = { ...this.layout, nodePorts: this.layout.nodePorts.slice(0, -1) }
  }

  /** A node's base URL (https with TLS: a member port, which asks for a member certificate). */
  nodeUrl(id: string): string {
    return `${this.scheme}://127.0.0.1:${this.layout.nodePorts[Number(id.replace('node-', '')) - 1]}`
  }

  /** Wait until the proxy sees `id` with the given status. */
  async waitForStatus(id: string, status: 'up' | 'down', timeoutMs = 15_000): Promise<void> {
    await waitForNodeStatus(() => this.fetch('/cluster'), id, status, timeoutMs)
  }

  /** Wait until the proxy's ring shows `id` in `state` (`member`: it takes its share of reads and writes). */
  async waitForRingState(id: string, state: 'joining' | 'member' | 'leaving' | 'removed', timeoutMs = 30_000): Promise<void> {
    await waitForRingState(() => this.fetch('/cluster'), id, state, timeoutMs)
  }

  async teardown(): Promise<void> {
    await stopProcesses(this.layout, knownProcesses(this.layout), 'SIGKILL')
    for (const url of [this.url, ...this.extraProxies]) forgetProxy(url)
    await this.cleanup?.()
    rmSync(this.dir, { recursive: true, force: true })
  }
}
