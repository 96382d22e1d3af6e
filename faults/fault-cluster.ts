/**
 * What the checker and the nemeses need of a running cluster. The loopback TestCluster
 * (devtools/test-cluster.ts) has all of it but `net`; the NetnsCluster (faults/netns/) puts every
 * storage node in its own network namespace and adds `net`, the network fault controls.
 */
import type { ClusterLayout } from '../cluster-ctl/launcher.js'
import type { Credentials } from '../shared/config/credentials-file.js'
import type { NetworkFaults } from './netns/network-faults.js'

export interface FaultCluster {
  readonly layout: ClusterLayout
  /** The proxy's base URL. */
  readonly url: string
  /** The admin key the launcher made (run/credentials); faults/http-client.ts sends it to the proxy. Undefined for a proxy without access keys. */
  readonly credentials: Credentials | undefined
  /** A node's base URL as the checker reaches it: its bound address, never through an injected fault. */
  nodeUrl(id: string): string
  stop(name: string, signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>
  restart(name: string): Promise<void>
  waitForStatus(id: string, status: 'up' | 'down', timeoutMs?: number): Promise<void>
  teardown(): Promise<void>
  /** Partitions, packet loss and slow links: only where nodes have their own network namespaces. */
  readonly net?: NetworkFaults
  /** Start one more node, node-<n+1>, which joins through the others (the loopback cluster only). */
  addNode?(): Promise<string>
  /** Take the node added last out of the harness once it has left the ring and stopped. */
  forgetNode?(id: string): void
}

/** `host:port` of a node as the checker reaches it. */
export function nodeAddressOf(cluster: FaultCluster, id: string): string {
  return new URL(cluster.nodeUrl(id)).host
}

/** The storage nodes' ids, node-1 .. node-N. */
export function nodeIdsOf(cluster: FaultCluster): string[] {
  return cluster.layout.nodePorts.map((_, i) => `node-${i + 1}`)
}
