/**
 * The proxy's view of the cluster, learned from the storage nodes' own gossip views (any node
 * will do, seeds first), plus its own observations: a node whose request just failed is treated as
 * down here for `localDownMs`, and one that just answered 507 InsufficientStorage (or gossips that
 * it is below its disk reserve) is sent no new data for as long. The ring is built from the ring
 * record the nodes gossip (shared/ring/ring-record.ts), merged from every answer: every proxy and
 * node that has seen the same entries places keys alike, and a node down for any time keeps its
 * ranges (gossip's liveness only decides whom to ask).
 */
import type { Logger } from '../../shared/log.js'
import { objectPosition } from '../../shared/ring/hash.js'
import { HashRing } from '../../shared/ring/hash-ring.js'
import { RingRecord } from '../../shared/ring/ring-record.js'
import { shuffled } from '../../shared/shuffled.js'
import type { MemberView } from '../../shared/wire/membership.js'
import { negotiatedProtocol } from '../../shared/wire/protocol.js'
import type { RingEntry, RingState } from '../../shared/wire/ring.js'
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
  private readonly record = new RingRecord()
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
      const answer = await this.client.membership(address)
      this.merge(answer.members)
      if (answer.ring) this.mergeRing(answer.ring)
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

  /**
   * Keep, per member, the entry with the higher (generation, heartbeat); a protocol version once
   * known for a generation is kept when an older node's view (which has none) is newer.
   */
  merge(views: readonly MemberView[]): void {
    for (const v of views) {
      const known = this.members.get(v.id)
      if (!known || v.generation > known.generation || (v.generation === known.generation && v.heartbeat >= known.heartbeat)) {
        const protocol = v.protocol ?? (known?.generation === v.generation ? known.protocol : undefined)
        this.members.set(v.id, { ...v, ...(protocol === undefined ? {} : { protocol }) })
      }
    }
  }

  /** The protocol every node of the ring speaks (shared/wire/protocol.ts): what this proxy may use toward the nodes. */
  negotiatedProtocol(): number {
    return negotiatedProtocol(this.record.placement().map((id) => this.members.get(id)?.protocol))
  }

  /** Merge a node's ring record; the ring is rebuilt when the nodes placing keys change. */
  mergeRing(entries: readonly RingEntry[]): void {
    if (!this.record.merge(entries)) return
    const placement = this.record.placement()
    if (placement.join(',') === this.ring.nodes.join(',')) return
    this.ring = new HashRing(placement, this.init.vnodes)
    this.log.info({ placement, version: this.record.version }, 'ring rebuilt')
  }

  /** The ring record as this proxy has merged it. */
  ringEntries(): RingEntry[] {
    return this.record.entries()
  }

  ringState(id: string): RingState | undefined {
    return this.record.get(id)?.state
  }

  /** Every node in preference order for the object: primaries first, then fallbacks. */
  preferenceList(bucket: string, key: string): NodeRef[] {
    return this.ring.preferenceList(objectPosition(bucket, key)).map((id) => this.ref(id))
  }

  ref(id: string): NodeRef {
    return { id, address: this.members.get(id)?.address ?? this.record.get(id)?.address ?? id }
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

  /** Live nodes that place keys (fan-out of listings and catalog reads): not a removed node still draining, nor one gossip knows but the ring does not. */
  usableNodes(): NodeRef[] {
    return this.ring.nodes.filter((id) => this.isUsable(id)).map((id) => this.ref(id))
  }

  /** Every live node gossip knows, in the ring or not (for /cluster's reports: a leaving node's transfer). */
  liveNodes(): NodeRef[] {
    return [...this.members.keys()].filter((id) => this.isUsable(id)).map((id) => this.ref(id))
  }

  /**
   * Members with the status this proxy acts on and their state in the ring; a node of the ring no
   * node's gossip knows (silent since before their start) is shown down, never seen.
   */
  view(): (MemberView & { ring_state?: RingState; down_for_s?: number })[] {
    const now = Date.now()
    const out: (MemberView & { ring_state?: RingState; down_for_s?: number })[] = [...this.members.values()].map((m) => {
      const state = this.record.get(m.id)?.state
      const status = m.status === 'up' && !this.isUsable(m.id) ? ('down' as const) : m.status
      // Silent since its last heartbeat as the answering node saw it (its clock; close enough for seconds).
      const downFor = status === 'down' && m.status === 'down' ? Math.max(0, Math.round((now - Date.parse(m.last_seen)) / 1000)) : undefined
      return { ...m, status, ...(state ? { ring_state: state } : {}), ...(downFor !== undefined ? { down_for_s: downFor } : {}) }
    })
    for (const e of this.record.entries()) {
      if (!this.members.has(e.id) && e.state !== 'removed') out.push({ id: e.id, address: e.address, status: 'down', generation: 0, heartbeat: 0, last_seen: '', ring_state: e.state })
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : 1))
  }

  ringSummary(): { version: number; vnodes_per_node: number; nodes: number; ownership: Record<string, number>; entries: RingEntry[] } {
    const ownership = Object.fromEntries(Object.entries(this.ring.ownership()).map(([k, v]) => [k, Math.round(v * 10_000) / 10_000]))
    return { version: this.record.version, vnodes_per_node: this.init.vnodes, nodes: this.ring.nodes.length, ownership, entries: this.record.entries() }
  }

  /** The ring's arcs and the node owning each (HashRing.ranges), for the cluster page. */
  ringRanges(): { start: number; end: number; node: string }[] {
    return this.ring.ranges()
  }

  get lastPollAgeMs(): number {
    return Date.now() - this.lastPollOk
  }
}
