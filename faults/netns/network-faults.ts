/**
 * The network faults a nemesis can inject into a NetnsCluster, and the one `heal()` that undoes
 * them all: partitions and packet loss as iptables rules inside the nodes' namespaces, delays and
 * resets in the link proxies (when the cluster has them). The proxy and the checker live in the
 * root namespace and reach the nodes from the bridge address.
 */
import { NamespaceFirewall } from './iptables.js'
import type { TestNetwork } from './netns.js'
import { CLEAN_LINK, type LinkFaults, type TcpFaultProxy } from '../link/tcp-fault-proxy.js'

/** Which side of a partition the proxy (root namespace) still reaches. */
export type ProxyReach = 'both' | 'a' | 'b'

export class NetworkFaults {
  private readonly firewalls = new Map<string, NamespaceFirewall>()
  private readonly addresses = new Map<string, string>()
  /** Namespaces holding rules right now, so heal() knows what to flush (it flushes all, to be sure). */
  private readonly ruled = new Set<string>()

  constructor(
    private readonly network: TestNetwork,
    iptables: string,
    /** Link proxy in front of each node, by node id (empty when traffic goes straight to the nodes). */
    readonly links: ReadonlyMap<string, TcpFaultProxy> = new Map(),
  ) {
    for (const h of network.hosts) {
      this.firewalls.set(h.name, new NamespaceFirewall(h, iptables))
      this.addresses.set(h.name, h.address)
    }
  }

  private firewall(id: string): NamespaceFirewall {
    const fw = this.firewalls.get(id)
    if (!fw) throw new Error(`no namespace for ${id}`)
    return fw
  }

  private addressesOf(ids: readonly string[]): string[] {
    return ids.map((id) => this.addresses.get(id) ?? '').filter(Boolean)
  }

  /**
   * Cut `a` from `b`: every node drops what arrives from the other side (both ways, so the cut is
   * symmetric). With `proxyReaches` 'a' or 'b', the nodes of the other side also drop the root
   * namespace's packets, so the proxy sees only one side. Direct links only: with link proxies in
   * between, node-to-node packets would all come from the bridge address.
   */
  async partition(a: readonly string[], b: readonly string[], proxyReaches: ProxyReach = 'both'): Promise<void> {
    if (this.links.size > 0) throw new Error('a partition by source address needs direct links (this cluster has link proxies)')
    for (const [side, other, cutFromProxy] of [
      [a, b, proxyReaches === 'b'],
      [b, a, proxyReaches === 'a'],
    ] as const) {
      const sources = [...this.addressesOf(other), ...(cutFromProxy ? [this.network.bridgeAddress] : [])]
      for (const id of side) {
        this.ruled.add(id)
        await this.firewall(id).dropFrom(sources)
      }
    }
  }

  /** Drop each packet arriving at these nodes with `probability` (from anyone: peers, proxy, checker). */
  async loss(ids: readonly string[], probability: number): Promise<void> {
    for (const id of ids) {
      this.ruled.add(id)
      await this.firewall(id).dropRandomly(probability)
    }
  }

  /** Set faults on the links in front of these nodes (traffic to and from them, from anyone). */
  slow(ids: readonly string[], faults: Partial<LinkFaults>): void {
    for (const id of ids) {
      const link = this.links.get(id)
      if (!link) throw new Error(`${id} has no link proxy`)
      link.set(faults)
    }
  }

  /** Reset this fraction of the open connections through each node's link now; returns how many. */
  resetConnections(ids: readonly string[], fraction: number): number {
    return ids.reduce((n, id) => n + (this.links.get(id)?.resetSome(fraction) ?? 0), 0)
  }

  /** iptables rules in force, per node with any. */
  async rulesInForce(): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {}
    for (const [id, fw] of this.firewalls) {
      const rules = await fw.rules()
      if (rules.length > 0) out[id] = rules
    }
    return out
  }

  /** Flush every node's rules and clear every link. Tries every namespace; throws at the end if any flush failed. */
  async heal(): Promise<void> {
    for (const link of this.links.values()) link.set(CLEAN_LINK)
    const failures: string[] = []
    for (const [id, fw] of this.firewalls) {
      try {
        await fw.flush()
        this.ruled.delete(id)
      } catch (err) {
        failures.push(`${id}: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
    if (failures.length > 0) throw new Error(`could not flush iptables rules: ${failures.join('; ')}`)
  }

  /** Whether any rule or link fault may be in force. */
  get faulty(): boolean {
    return this.ruled.size > 0 || [...this.links.values()].some((l) => l.current.delayMs > 0 || l.current.jitterMs > 0 || l.current.resetFraction > 0)
  }
}
