/**
 * Tombstones and their reaping. A delete is a version like any other, so a late replica cannot bring
 * a deleted object back; a key is forgotten only once every version it holds is a tombstone that
 * every replica has (the reaper asks them). This module keeps the index of keys whose every held
 * version is a tombstone, dated by the newest, and the rule of a reap.
 */
import { versionId } from '../../shared/vclock/versions.js'
import type { Dot, Version } from '../../shared/wire/internal-api.js'
import type { JournaledTable } from './engine/journaled-table.js'

/** Whether a key holding `held` may be forgotten for the tombstones `dots`: each held version is a tombstone among them (one that arrived since blocks it). */
export function isReapable(held: readonly Version[], dots: readonly Dot[]): boolean {
  const ids = new Set(dots.map(versionId))
  return held.every((h) => h.tombstone && ids.has(versionId(h.dot)))
}

/** Whether a key's set of versions makes it a reaping candidate, and since when (its newest tombstone). */
export function tombstonedSince(versions: readonly Version[]): number | undefined {
  if (versions.length === 0 || !versions.every((v) => v.tombstone)) return undefined
  return Math.max(...versions.map((v) => v.lastModified))
}

export class TombstoneIndex {
  constructor(private readonly table: JournaledTable<number, [string, string]>) {}

  /** Inside a write transaction: the key's new set of own versions. */
  note(bucket: string, key: string, versions: readonly Version[]): void {
    const since = tombstonedSince(versions)
    if (since !== undefined) this.table.put([bucket, key], since)
    else this.table.remove([bucket, key])
  }

  /** Up to `limit` keys holding only tombstones, the newest written before `olderThanMs`, in key order. */
  candidates(olderThanMs: number, limit: number): { bucket: string; key: string }[] {
    const out: { bucket: string; key: string }[] = []
    for (const { key, value } of this.table.getRange({})) {
      if (out.length >= limit) break
      if (value < olderThanMs) out.push({ bucket: key[0], key: key[1] })
    }
    return out
  }
}
