/**
 * Siblings as a node's coordinated writes make and resolve them (GET /metrics). Counted where the
 * write's new version is made, once per client write, from the versions this node held: a replica
 * that did not hold every sibling sees fewer, so these are a floor, not an exact census.
 */
import type { Version } from '../../shared/wire/internal-api.js'

/** What one coordinated write did to a key's live versions. */
export interface SiblingChange {
  /** The new live version sits beside a live version it did not supersede (its context had not seen it). */
  created: boolean
  /** Its context superseded two or more live versions at once: a client read siblings and wrote back over them (a delete too). */
  resolved: boolean
}

/** Pure: `held` before the write, `kept` the held versions the write left, `tombstone` whether it is a delete. */
export function siblingChange(held: readonly Version[], kept: readonly Version[], tombstone: boolean): SiblingChange {
  const liveHeld = held.reduce((n, v) => n + (v.tombstone ? 0 : 1), 0)
  const liveKept = kept.reduce((n, v) => n + (v.tombstone ? 0 : 1), 0)
  return { created: !tombstone && liveKept > 0, resolved: liveHeld - liveKept >= 2 }
}

/** Running totals since the node started. */
export class SiblingCounts {
  created = 0
  resolved = 0

  note(change: SiblingChange): void {
    if (change.created) this.created++
    if (change.resolved) this.resolved++
  }
}
