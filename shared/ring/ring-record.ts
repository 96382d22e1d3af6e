/**
 * The ring record as a state-based CRDT: a map from node id to its entry, merged per id by a total
 * order on entries (version, then state rank, then address, time and author), so the merge is
 * commutative, associative and idempotent and every member and proxy that has seen the same
 * entries holds the same record, whatever the order they arrived in.
 */
import type { RingEntry, RingState } from '../wire/ring.js'

/**
 * Ties at one version: `joining` outranks `member` because an older member is shown a joining node
 * as a member of the same version (shared/wire/ring.ts forProtocol), and that copy must not end the join.
 */
const RANK: Record<RingState, number> = { member: 0, joining: 1, leaving: 2, removed: 3 }

/** Total order on two entries of the same id: > 0 when `a` wins. */
export function compareEntries(a: RingEntry, b: RingEntry): number {
  if (a.version !== b.version) return a.version - b.version
  if (a.state !== b.state) return RANK[a.state] - RANK[b.state]
  for (const f of ['address', 'at', 'by'] as const) if (a[f] !== b[f]) return a[f] < b[f] ? -1 : 1
  return 0
}

/** The merge of two entry lists: per id, the winning entry; sorted by id. */
export function mergeEntries(a: readonly RingEntry[], b: readonly RingEntry[]): RingEntry[] {
  const out = new Map<string, RingEntry>()
  for (const e of [...a, ...b]) {
    const known = out.get(e.id)
    if (!known || compareEntries(e, known) > 0) out.set(e.id, e)
  }
  return [...out.values()].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0))
}

export class RingRecord {
  private readonly byId = new Map<string, RingEntry>()

  constructor(entries: readonly RingEntry[] = []) {
    this.merge(entries)
  }

  /** Merge entries in; true when the record changed. */
  merge(entries: readonly RingEntry[]): boolean {
    let changed = false
    for (const e of entries) {
      const known = this.byId.get(e.id)
      if (!known || compareEntries(e, known) > 0) {
        this.byId.set(e.id, e)
        changed = true
      }
    }
    return changed
  }

  /** The entry of `id` after a change made by `by`: one version above the one known here. */
  change(id: string, state: RingState, address: string, by: string, now = new Date()): RingEntry {
    const entry: RingEntry = { id, address, state, version: (this.byId.get(id)?.version ?? 0) + 1, by, at: now.toISOString() }
    this.byId.set(id, entry)
    return entry
  }

  get(id: string): RingEntry | undefined {
    return this.byId.get(id)
  }

  entries(): RingEntry[] {
    return [...this.byId.values()].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0))
  }

  /** Sum of the entries' versions: grows at every change anywhere, so two records with equal entries show the same number. */
  get version(): number {
    let v = 0
    for (const e of this.byId.values()) v += e.version
    return v
  }

  /** Nodes that place keys now (reads and writes): members, and leaving nodes until they are removed; not joining ones. */
  placement(): string[] {
    return this.ids((s) => s === 'member' || s === 'leaving')
  }

  /** Nodes that will own the ranges once every join and leave completes: where data must end up. */
  owners(): string[] {
    return this.ids((s) => s === 'member' || s === 'joining')
  }

  /** Nodes joining (owners that do not place keys yet). */
  joining(): string[] {
    return this.ids((s) => s === 'joining')
  }

  /** Whether `id` owns or will own ranges (so gossip must never forget it). */
  holdsRanges(id: string): boolean {
    const s = this.byId.get(id)?.state
    return s === 'member' || s === 'leaving' || s === 'joining'
  }

  private ids(keep: (s: RingState) => boolean): string[] {
    return this.entries()
      .filter((e) => keep(e.state))
      .map((e) => e.id)
  }
}
