/** What one ownership transfer pass has to do (ownership-transfer.ts): the keys held here that some target lacks, as far as known. */
import type { SegmentSource, ReplicaStore } from '../store/object-store.js'
import { SEGMENTS } from '../store/segment-index.js'

/** One key to send, with the version ids held here, their bytes, and the targets not yet seen holding them. */
export interface Work {
  bucket: string
  key: string
  ids: string[]
  bytes: number
  targets: string[]
}

/** The nodes a key held here must reach in a pass (none: not this pass's). */
export type Targets = (bucket: string, key: string) => string[]

/** Every key held with at least one target not already seen (`confirmed`) holding exactly these versions. */
export function collectWork(store: SegmentSource & Pick<ReplicaStore, 'versions'>, targets: Targets, confirmed: ReadonlyMap<string, string>): Work[] {
  const out: Work[] = []
  for (let s = 0; s < SEGMENTS; s++) {
    for (const e of store.segmentEntries(s)) {
      const t = targets(e.bucket, e.key)
      if (t.length === 0) continue
      const ids = e.ids.split(' ').filter(Boolean)
      const unconfirmed = t.filter((target) => confirmed.get(cacheKey(target, e.bucket, e.key)) !== e.ids)
      if (unconfirmed.length === 0) continue
      const bytes = store.versions(e.bucket, e.key).reduce((sum, v) => sum + (v.tombstone ? 0 : v.size), 0)
      out.push({ bucket: e.bucket, key: e.key, ids, bytes, targets: unconfirmed })
    }
  }
  return out
}

/** The owners part of a pass's goal (`rebalance:a,b,c` -> `a,b,c`). */
export function ownersOf(goal: string): string {
  return goal.slice(goal.indexOf(':') + 1)
}

/** The key of the `confirmed` map: what `target` was seen to hold of one key. */
export function cacheKey(target: string, bucket: string, key: string): string {
  return `${target}\u0000${bucket}\u0000${key}`
}

export function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

/**
 * What a target was seen to hold stays true only while it keeps its data: `confirmed` is dropped when
 * the ring changes or any member restarts (possibly with a wiped disk, rejoining under its id).
 */
export function confirmationEpoch(ringVersion: number, members: readonly { id: string; generation: number }[]): string {
  return `${ringVersion}|${members.map((m) => `${m.id}:${m.generation}`).join(',')}`
}

/**
 * Whether `self` is the first of a key's `primaries` that is not down. Every holder sends every key
 * a new owner lacks, but each sends those it is first for first, and checks what the target holds
 * just before each batch, so the others' are mostly there by the time it reaches them: a key is
 * sent about once, not once per holder.
 */
export function isFirstLiveHolder(primaries: readonly string[], self: string, isDown: (id: string) => boolean): boolean {
  return primaries.find((id) => id === self || !isDown(id)) === self
}
