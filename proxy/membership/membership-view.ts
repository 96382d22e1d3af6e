/**
 * The proxy's view of the cluster, learned from the storage nodes' own gossip views (any node
 * will do, seeds first), plus its own observations: a node whose request just failed is treated as
 * down here for `localDownMs`, and one that just answered 507 InsufficientStorage (or gossips that
 * it is below its disk reserve) is sent no new data for as long. The ring is derived deterministically from the member ids, so every
 * proxy and node builds the same ring.
 */
import type { Logger } from '../../shared/log.js'
import { objectPosition } from '../../shared/ring/hash.js'
import { HashRing } from '../../shared/ring/hash-ring.js'
import { shuffled } from '../../shared/shuffled.js'
import type { MemberView } from '../../shared/wire/membership.js'
import type { NodeClient, NodeRef } from '../../shared/http/node-client.js'

export interface MembershipViewInit {
  seeds: readonly string[]
  vnodes: number
  pollIntervalMs: number
  localDownMs: number
}

export class MembershipView {
  private readonly members = new Map<string, MemberView>()
  private readonly localDownUntil = new Map<string, number>()
  private readonly localFullUntil = new Map<string, number>()
  private ring = new HashRing([])
  private timer: NodeJS.Timeout | undefined
  private lastPollOk = 0

  constructor(
    private readonly client: NodeClient,
    private readonly init: MembershipViewInit,
    private readonly log: Logger,
  ) {}

  /**
   * Before serving, learn the view of every seed (or wait `waitMs`): a node that has just started may
   * know only part of the cluster, and a ring built from a partial view places writes on nodes that
   * are not the keys' primaries. Then keep polling in the background.
   */
  async start(waitMs = 10_000): Promise<void> {
    const deadline = Date.now() + waitMs
    for (;;) {
      await Promise.all(this.init.seeds.map((seed) => this.pollOne(seed)))
      if (this.missingSeeds().length === 0 || Date.now() >= deadline) break
      await new Promise((r) => setTimeout(r, 200))
    }
    const missing = this.missingSeeds()
    if (missing.length > 0) this.log.warn({ missing }, 'serving before every seed is known: writes may land off their primaries until anti-entropy moves them')
    this.timer = setInterval(() => void this.poll(), this.init.pollIntervalMs)
  }

  /** Seeds no known member has as its address. */
  private missingSeeds(): string[] {
    const addresses = new Set([...this.members.values()].map((m) => m.address))
    return this.init.seeds.filter((s) => !addresses.has(s))
  }

  private async pollOne(address: string): Promise<boolean> {
    try {
      this.merge((await this.client.membership(address)).members)
      this.lastPollOk = Date.now()
      return true
    } catch (err) {
      this.log.debug({ address, err: String(err) }, 'membership poll failed')
      return false
    }
  }

  stop(): void {
    clearInterval(this.timer)
  }

  /** Ask one live known node (or a seed) for its view and merge it. */
  private async poll(): Promise<boolean> {
    const known = [...this.members.values()].filter((m) => this.isUsable(m.id)).map((m) => m.address)
    const candidates = [...shuffled(known), ...shuffled(this.init.seeds)]
    for (const address of candidates.slice(0, 3)) if (await this.pollOne(address)) return true
    return false
  }

  /** Keep, per member, the entry with the higher (generation, heartbeat). */
  merge(views: readonly MemberView[]): void {
    let changed = false
    for (const v of views) {
      const known = this.members.get(v.id)
      if (!known) changed = true
      if (!known || v.generation > known.generation || (v.generation === known.generation && v.heartbeat >= known.heartbeat)) this.members.set(v.id, v)
    }
    if (changed) {
      this.ring = new HashRing(this.members.keys(), this.init.vnodes)
      this.log.info({ members: [...this.members.keys()] }, 'ring rebuilt')
    }
  }

  /** Every node in preference order for the object: primaries first, then fallbacks. */
  preferenceList(bucket: string, key: string): NodeRef[] {
    return this.ring.preferenceList(objectPosition(bucket, key)).map((id) => this.ref(id))
  }

  ref(id: string): NodeRef {
    return { id, address: this.members.get(id)?.address ?? id }
  }

  /** Worth sending a request to: not down per gossip nor per our own recent failure. */
  isUsable(id: string): boolean {
    const m = this.members.get(id)
    if (!m || m.status === 'down') return false
    return (this.localDownUntil.get(id) ?? 0) <= Date.now()
  }

  markFailed(id: string): void {
    this.localDownUntil.set(id, Date.now() + this.init.localDownMs)
  }

  /** The node refused new data for want of space (it still serves reads and deletes). */
  markFull(id: string): void {
    this.localFullUntil.set(id, Date.now() + this.init.localDownMs)
  }

  /** Below its disk reserve, per its gossip or its own recent answer: send it no new data. */
  isFull(id: string): boolean {
    return this.members.get(id)?.full === true || (this.localFullUntil.get(id) ?? 0) > Date.now()
  }

  /** Worth sending new data to: usable and not full. */
  takesData(id: string): boolean {
    return this.isUsable(id) && !this.isFull(id)
  }

  usableNodes(): NodeRef[] {
    return [...this.members.keys()].filter((id) => this.isUsable(id)).map((id) => this.ref(id))
  }

  /** Members with the status this proxy acts on. */
  view(): MemberView[] {
    return [...this.members.values()].map((m) => ({ ...m, status: m.status === 'up' && !this.isUsable(m.id) ? ('down' as const) : m.status })).sort((a, b) => (a.id < b.id ? -1 : 1))
  }

  ringSummary(): { vnodes_per_node: number; nodes: number; ownership: Record<string, number> } {
    const ownership = Object.fromEntries(Object.entries(this.ring.ownership()).map(([k, v]) => [k, Math.round(v * 10_000) / 10_000]))
    return { vnodes_per_node: this.init.vnodes, nodes: this.ring.nodes.length, ownership }
  }

  /** The ring's arcs and the node owning each (HashRing.ranges), for the cluster page. */
  ringRanges(): { start: number; end: number; node: string }[] {
    return this.ring.ranges()
  }

  get lastPollAgeMs(): number {
    return Date.now() - this.lastPollOk
  }
}
