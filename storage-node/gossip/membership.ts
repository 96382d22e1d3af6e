/**
 * The member table of one node: heartbeats, generations and what the failure detector makes of
 * them. Merge rule: for each member keep the higher (generation, heartbeat); a restarted member's
 * new generation beats any heartbeat of its old one. A member silent for T_cleanup is forgotten
 * unless `retain` says it still owns ranges in the ring record (then it stays, down, however long:
 * only an operator's remove takes it out). A forgotten member is remembered as forgotten until
 * T_cleanup passes again, so a stale digest cannot resurrect it.
 *
 * Each member's entry carries the protocol version it announces (shared/wire/protocol.ts). Older
 * members relay entries without it: a version once known for a generation is kept (a process's
 * version does not change while it runs; a restart is a new generation, possibly another build).
 */
import type { GossipMember, MemberView } from '../../shared/wire/membership.js'
import { PROTOCOL_VERSION } from '../../shared/wire/protocol.js'
import { detectStatus } from './failure-detector.js'
import type { GossipConfig } from './gossip-config.js'

interface MemberState extends GossipMember {
  /** Local time when this member's (generation, heartbeat) last grew. */
  lastGrowthMs: number
}

function newer(a: GossipMember, b: GossipMember): boolean {
  return a.generation > b.generation || (a.generation === b.generation && (a.heartbeat > b.heartbeat || (a.left && !b.left)))
}

export class Membership {
  private readonly members = new Map<string, MemberState>()
  private readonly forgotten = new Map<string, { generation: number; heartbeat: number; left: boolean; atMs: number }>()

  constructor(
    readonly selfId: string,
    selfAddress: string,
    generation: number,
    private readonly cfg: GossipConfig,
    private readonly now: () => number = Date.now,
    /** Members never forgotten however long they are silent (those the ring record gives ranges). */
    private readonly retain: (id: string) => boolean = () => false,
  ) {
    this.members.set(selfId, { id: selfId, address: selfAddress, generation, heartbeat: 0, left: false, protocol: PROTOCOL_VERSION, lastGrowthMs: now() })
  }

  private get self(): MemberState {
    return this.members.get(this.selfId) as MemberState
  }

  /** One gossip round's own heartbeat. */
  tick(): void {
    this.self.heartbeat++
    this.self.lastGrowthMs = this.now()
    this.cleanup()
  }

  /** Whether this node's free space is below its reserve: gossiped with its heartbeats, so others stop sending it data. */
  setFull(full: boolean): void {
    if (full) this.self.full = true
    else delete this.self.full
  }

  /** Announce this node's --vnodes in its gossip entry. */
  setVnodes(vnodes: number): void {
    this.self.vnodes = vnodes
  }

  /** Announce (in this node's gossip entry) the owners its last complete ownership transfer was for, as a digest. */
  setRebalanced(digest: string | undefined): void {
    if (digest === undefined) delete this.self.rebalanced
    else this.self.rebalanced = digest
  }

  /** What `id` last announced of its ownership transfer (undefined: nothing, or an older build). */
  rebalancedOf(id: string): string | undefined {
    return this.members.get(id)?.rebalanced
  }

  /** Members that announce another --vnodes than this node's (they place keys differently). */
  vnodesDisagreeing(): string[] {
    const mine = this.self.vnodes
    if (mine === undefined) return []
    return [...this.members.values()].filter((m) => m.vnodes !== undefined && m.vnodes !== mine).map((m) => `${m.id} (--vnodes ${m.vnodes})`)
  }

  /** Whether `id` says it is below its disk reserve (as of its latest heartbeat known here). */
  isFull(id: string): boolean {
    return this.members.get(id)?.full === true
  }

  /** Announce a graceful leave in the next digests. */
  leave(): void {
    this.self.left = true
    this.self.heartbeat++
  }

  merge(incoming: readonly GossipMember[]): void {
    const now = this.now()
    for (const m of incoming) {
      if (m.id === this.selfId) continue
      const gone = this.forgotten.get(m.id)
      if (gone && !newer(m, { id: m.id, address: '', generation: gone.generation, heartbeat: gone.heartbeat, left: gone.left })) continue
      const known = this.members.get(m.id)
      if (!known || newer(m, known)) {
        this.forgotten.delete(m.id)
        // What a member says of itself does not change within a generation: kept when an older node relays the entry without it.
        const same = known?.generation === m.generation
        const protocol = m.protocol ?? (same ? known?.protocol : undefined)
        const vnodes = m.vnodes ?? (same ? known?.vnodes : undefined)
        // Changes within a generation, but an older relay drops it: the last one known is better than none.
        const rebalanced = m.rebalanced ?? (same ? known?.rebalanced : undefined)
        const { protocol: _p, vnodes: _v, rebalanced: _r, ...rest } = m
        this.members.set(m.id, {
          ...rest,
          ...(protocol === undefined ? {} : { protocol }),
          ...(vnodes === undefined ? {} : { vnodes }),
          ...(rebalanced === undefined ? {} : { rebalanced }),
          lastGrowthMs: now,
        })
      }
    }
  }

  private cleanup(): void {
    const now = this.now()
    for (const [id, m] of this.members) {
      if (id !== this.selfId && now - m.lastGrowthMs >= this.cfg.cleanupAfterMs && !this.retain(id)) {
        this.members.delete(id)
        this.forgotten.set(id, { generation: m.generation, heartbeat: m.heartbeat, left: m.left, atMs: now })
      }
    }
    for (const [id, f] of this.forgotten) if (now - f.atMs >= this.cfg.cleanupAfterMs) this.forgotten.delete(id)
  }

  /** The digest sent to peers: every known member (bounded by the schema's limit). */
  digest(): GossipMember[] {
    return [...this.members.values()].map(({ lastGrowthMs: _t, ...m }) => m)
  }

  status(id: string): MemberView['status'] | undefined {
    const m = this.members.get(id)
    if (!m) return undefined
    return id === this.selfId && !m.left ? 'up' : detectStatus(m.lastGrowthMs, m.left, this.now(), this.cfg)
  }

  views(): MemberView[] {
    return [...this.members.values()]
      .map((m) => ({
        id: m.id,
        address: m.address,
        status: this.status(m.id) ?? 'down',
        generation: m.generation,
        heartbeat: m.heartbeat,
        last_seen: new Date(m.lastGrowthMs).toISOString(),
        ...(m.full ? { full: true } : {}),
        ...(m.protocol === undefined ? {} : { protocol: m.protocol }),
      }))
      .sort((a, b) => (a.id < b.id ? -1 : 1))
  }

  /** The protocol version `id` announces (undefined: none, i.e. 1, or not known here). */
  protocolOf(id: string): number | undefined {
    return this.members.get(id)?.protocol
  }

  /** Addresses of other members, with their status. */
  peers(): { id: string; address: string; status: MemberView['status'] }[] {
    return this.views().filter((v) => v.id !== this.selfId)
  }
}
