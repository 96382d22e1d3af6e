/**
 * A cluster whose storage nodes each run in their own network namespace with their own address
 * (<net>.<k>.11, .12, ...: see netns.ts), started through the same launcher as every other cluster; the proxy
 * and the checker stay in the root namespace and reach the nodes over the bridge. With
 * `linkProxies`, each node advertises a TcpFaultProxy on the bridge address instead of itself, so
 * all traffic to it (from peers and the proxy) crosses a link whose delay and resets a nemesis
 * controls. Teardown stops every process by pid, the link proxies, and removes the namespaces,
 * veths, bridge and (with them) every iptables rule, whatever failed before.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { type ClusterLayout, freePorts, knownProcesses, type NodePlacement, nodeSpec, proxySpec, startCluster, startProcess, stopProcesses, waitHealthy } from '../../cluster-ctl/launcher.js'
import { createTestNetwork, destroyTestNetwork, inNamespace, registerRunDir, type TestNetwork } from './netns.js'
import { probeNetworkFaults } from './netns-probe.js'
import { forgetProxy, rememberProxy, withBasicAuth } from '../../devtools/proxy-credentials.js'
import { waitForNodeStatus } from '../../devtools/node-status.js'
import { FAST_GOSSIP_ARGS } from '../../devtools/test-cluster.js'
import type { Credentials } from '../../shared/config/credentials-file.js'
import type { FaultCluster } from '../fault-cluster.js'
import { TcpFaultProxy } from '../link/tcp-fault-proxy.js'
import { NetworkFaults } from './network-faults.js'

/** Every node has its own namespace, hence its own port space: the same port numbers as `make run`. */
const NODE_BASE_PORT = 9000

export class NetworkFaultsUnavailableError extends Error {
  override readonly name = 'NetworkFaultsUnavailableError'
}

export interface NetnsClusterOptions {
  nodes: number
  nodeArgs?: readonly string[]
  proxyArgs?: readonly string[]
  /** Put a TcpFaultProxy in front of every node (slow-link scenarios). */
  linkProxies?: boolean
  rng?: () => number
}

export class NetnsCluster implements FaultCluster {
  /** The admin key the launcher keeps in run/credentials (undefined for a proxy without access keys). */
  credentials: Credentials | undefined

  private constructor(
    readonly layout: ClusterLayout,
    readonly dir: string,
    readonly network: TestNetwork,
    readonly net: NetworkFaults,
    private readonly links: readonly TcpFaultProxy[],
  ) {}

  static async start(opts: NetnsClusterOptions): Promise<NetnsCluster> {
    const support = await probeNetworkFaults()
    if (!support.ok) throw new NetworkFaultsUnavailableError(support.reason)
    const names = Array.from({ length: opts.nodes }, (_, i) => `node-${i + 1}`)
    const network = await createTestNetwork(names)
    const dir = mkdtempSync(join(tmpdir(), 'dynamo-netns-'))
    const links: TcpFaultProxy[] = []
    const nodePorts = names.map((_, i) => NODE_BASE_PORT + i + 1)
    let cluster: NetnsCluster | undefined
    try {
      const placement: NodePlacement[] = []
      const linkOf = new Map<string, TcpFaultProxy>()
      for (const [i, host] of network.hosts.entries()) {
        const place: NodePlacement = { host: host.address, commandPrefix: inNamespace(host) }
        if (opts.linkProxies) {
          const link = new TcpFaultProxy({ listenHost: network.bridgeAddress, targetHost: host.address, targetPort: nodePorts[i] as number, ...(opts.rng ? { rng: opts.rng } : {}) })
          links.push(link)
          linkOf.set(host.name, link)
          place.advertise = await link.start()
        }
        placement.push(place)
      }
      const [proxyPort] = await freePorts(1)
      const layout: ClusterLayout = {
        root: resolve(import.meta.dirname, '../..'),
        host: '127.0.0.1',
        proxyPort: proxyPort as number,
        nodePorts,
        nodePlacement: placement,
        dataDir: join(dir, 'data'),
        runDir: join(dir, 'run'),
        logDir: join(dir, 'logs'),
        nodeArgs: [...FAST_GOSSIP_ARGS, ...(opts.nodeArgs ?? [])],
        proxyArgs: ['--membership-poll-ms', '200', ...(opts.proxyArgs ?? [])],
      }
      registerRunDir(network, layout.runDir)
      cluster = new NetnsCluster(layout, dir, network, new NetworkFaults(network, support.iptables, linkOf), links)
      cluster.credentials = (await startCluster(layout, 60_000)).credentials
      rememberProxy(cluster.url, cluster.credentials)
      return cluster
    } catch (err) {
      if (cluster) await cluster.teardown()
      else {
        for (const l of links) await l.stop()
        await destroyTestNetwork(network)
        rmSync(dir, { recursive: true, force: true })
      }
      throw err
    }
  }

  get url(): string {
    return `http://${this.layout.host}:${this.layout.proxyPort}`
  }

  private index(id: string): number {
    const i = Number(id.replace('node-', ''))
    if (!Number.isInteger(i) || i < 1 || i > this.layout.nodePorts.length) throw new Error(`no node ${id}`)
    return i
  }

  nodeUrl(id: string): string {
    const i = this.index(id)
    return `http://${this.network.hosts[i - 1]?.address}:${this.layout.nodePorts[i - 1]}`
  }

  async stop(name: string, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    await stopProcesses(this.layout, [name], signal)
  }

  async restart(name: string): Promise<void> {
    const spec = name === 'proxy' ? proxySpec(this.layout) : nodeSpec(this.layout, this.index(name))
    startProcess(this.layout, spec)
    await waitHealthy([spec.healthUrl], 30_000)
  }

  /** Wait until the proxy sees `id` with the given status. */
  async waitForStatus(id: string, status: 'up' | 'down', timeoutMs = 15_000): Promise<void> {
    await waitForNodeStatus(() => fetch(`${this.url}/cluster`, withBasicAuth({ signal: AbortSignal.timeout(2000) }, this.credentials)), id, status, timeoutMs)
  }

  /** Processes by pid, then link proxies, then the network (and its rules); each step runs whatever the previous did. */
  async teardown(): Promise<void> {
    const problems: string[] = []
    try {
      await stopProcesses(this.layout, knownProcesses(this.layout), 'SIGKILL')
    } catch (err) {
      problems.push(`stopping processes: ${String(err)}`)
    }
    forgetProxy(this.url)
    for (const l of this.links) await l.stop().catch((err: unknown) => problems.push(`link proxy: ${String(err)}`))
    problems.push(...(await destroyTestNetwork(this.network)))
    rmSync(this.dir, { recursive: true, force: true })
    if (problems.length > 0) throw new Error(`teardown left something behind: ${problems.join('; ')}`)
  }
}
