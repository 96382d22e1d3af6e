/** What a storage node's store offers: versioned objects, reconciled with dotted version vectors, and hints. */
import type { Readable } from 'node:stream'
import type { VectorClock } from '../../shared/vclock/vector-clock.js'
import type { CoordinateRequest, Dot, ListEntry, Version } from '../../shared/wire/internal-api.js'
import type { ReceivedBody } from './blobs/blob-files.js'

export interface StoreWriteResult {
  version: Version
  /** False when a version already held supersedes (or is) the one offered. */
  stored: boolean
  /** Clock of every version the node now holds for the key (in that space). */
  clock: VectorClock
}

/** Where a version is kept: the node's own data, or hints held for `target` (sloppy quorum). */
export type Space = { kind: 'own' } | { kind: 'hint'; target: string }

export interface HintStats {
  versions: number
  bytes: number
}

export interface ObjectStore {
  /** This node's clock identity: `<node id>.<epoch>`, new for every new data directory. */
  readonly actor: string
  /** Advance this node's counter over the context and store the new version durably. */
  coordinate(bucket: string, key: string, req: CoordinateRequest, body: ReceivedBody | null, space?: Space): Promise<StoreWriteResult>
  /** Store a version made elsewhere, keeping every version it does not supersede. */
  replicate(bucket: string, key: string, version: Version, body: ReceivedBody | null, space?: Space): Promise<StoreWriteResult>
  /** Every version held for the key (tombstones included). */
  versions(bucket: string, key: string, space?: Space): Version[]
  /** Every version held and, when exactly one live version is held, not a file and of at most `maxBytes`, its bytes (verified). */
  versionsWithData(bucket: string, key: string, space: Space, maxBytes: number): Promise<{ versions: Version[]; data?: Buffer }>
  /** The bytes of one held version. */
  openData(bucket: string, key: string, versionId: string, space?: Space): Promise<Readable>
  list(bucket: string, q: { prefix: string; after?: string | undefined; limit: number }): { entries: ListEntry[]; truncated: boolean }
  /** Remove versions by dot from a space (hints handed off). */
  drop(space: Space, bucket: string, key: string, dots: readonly Dot[]): Promise<number>
  hintTotals(): Record<string, HintStats>
  /** Up to `limit` hinted keys for `target`, in key order, after `after` when given. */
  hintBatch(target: string, limit: number, after?: { bucket: string; key: string }): { bucket: string; key: string; versions: Version[] }[]
  /** Keys holding only tombstones, the newest written before `olderThanMs`. */
  reapCandidates(olderThanMs: number, limit: number): { bucket: string; key: string; versions: Version[] }[]
  /** Forget a key whose held versions are all tombstones among `dots` (or nothing). */
  reap(bucket: string, key: string, dots: readonly Dot[]): Promise<boolean>
  /** Own keys of one anti-entropy segment (0..255), with the ids of the versions held. */
  segmentEntries(segment: number): Iterable<{ bucket: string; key: string; ids: string }>
  close(): Promise<void>
}
