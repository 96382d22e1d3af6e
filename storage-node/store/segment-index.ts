/**
 * The anti-entropy index of a node's own data: keys grouped into 256 segments by the top byte of
 * their ring position, each with the ids of the versions held. Kept in the same LMDB transaction as
 * the versions (one small write per change), so comparing a segment with a peer reads one key range
 * instead of the whole store.
 */
import type { Database, RootDatabase } from 'lmdb'
import { objectPosition } from '../../shared/ring/hash.js'
import { versionId } from '../../shared/vclock/versions.js'
import type { Version } from '../../shared/wire/internal-api.js'

export const SEGMENTS = 256

export function segmentOf(bucket: string, key: string): number {
  return objectPosition(bucket, key) >>> 24
}

export interface SegmentEntry {
  bucket: string
  key: string
  /** Ids of the versions held, sorted, joined by spaces. */
  ids: string
}

export class SegmentIndex {
  private readonly db: Database<string, [number, string, string]>

  constructor(root: RootDatabase) {
    this.db = root.openDB<string, [number, string, string]>({ name: 'segments' })
  }

  /** Inside a write transaction: the key now holds `versions` (none: it is gone). */
  record(bucket: string, key: string, versions: readonly Pick<Version, 'dot'>[]): void {
    const at: [number, string, string] = [segmentOf(bucket, key), bucket, key]
    if (versions.length === 0) this.db.remove(at)
    else
      this.db.put(
        at,
        versions
          .map((v) => versionId(v.dot))
          .sort()
          .join(' '),
      )
  }

  *entries(segment: number): Generator<SegmentEntry> {
    for (const { key, value } of this.db.getRange({ start: [segment, '', ''], end: [segment + 1, '', ''] })) {
      yield { bucket: key[1], key: key[2], ids: value }
    }
  }

  isEmpty(): boolean {
    for (const _ of this.db.getKeys({ limit: 1 })) return false
    return true
  }
}
