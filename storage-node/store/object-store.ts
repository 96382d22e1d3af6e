/**
 * What a storage node's store offers, cut into the parts its users need: versioned objects
 * reconciled with dotted version vectors (read and write), hints held for other nodes, tombstones
 * to reap and the anti-entropy index. Each loop depends on its part only; `ObjectStore` is all of
 * them, as the node's routes and the LMDB store (lmdb-object-store.ts) see it. The write rules
 * every implementation must keep are tested once for all (test/contract/object-store.contract.ts).
 */
import type { Readable } from 'node:stream'
import type { VectorClock } from '../../shared/vclock/vector-clock.js'
import type { ByteSpan, CoordinateRequest, Dot, ListEntry, Version } from '../../shared/wire/internal-api.js'
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

/** A key and every version held for it. */
export interface KeyVersions {
  bucket: string
  key: string
  versions: Version[]
}

/** Reads of what the node holds. */
export interface VersionReader {
  /** Every version held for the key (tombstones included). */
  versions(bucket: string, key: string, space?: Space): Version[]
  /** Every version held and, when exactly one live version is held, not a file and of at most `maxBytes`, its bytes (verified). */
  versionsWithData(bucket: string, key: string, space: Space, maxBytes: number): Promise<{ versions: Version[]; data?: Buffer }>
  /** The bytes of one held version; with `range` (within its size), only those. */
  openData(bucket: string, key: string, versionId: string, space?: Space, range?: ByteSpan): Promise<Readable>
  list(bucket: string, q: { prefix: string; after?: string | undefined; limit: number }): { entries: ListEntry[]; truncated: boolean }
}

/** The write rules: a coordinated write (a new version made here) and a replicated one (made elsewhere). */
export interface VersionWriter {
  /** This node's clock identity: `<node id>.<epoch>`, new for every new data directory. */
  readonly actor: string
  /** Advance this node's counter over the context and store the new version durably. */
  coordinate(bucket: string, key: string, req: CoordinateRequest, body: ReceivedBody | null, space?: Space): Promise<StoreWriteResult>
  /** Store a version made elsewhere, keeping every version it does not supersede. */
  replicate(bucket: string, key: string, version: Version, body: ReceivedBody | null, space?: Space): Promise<StoreWriteResult>
}

/** How many hints the node holds, per target. */
export interface HintCounts {
  hintTotals(): Record<string, HintStats>
}

/** Hints held for other nodes (sloppy quorum), as the hint replayer hands them off. */
export interface HintStore extends HintCounts {
  /** Up to `limit` hinted keys for `target`, in key order, after `after` when given. */
  hintBatch(target: string, limit: number, after?: { bucket: string; key: string }): KeyVersions[]
  /** The bytes of one held version (of a hint, with its hint space); with `range`, only those. */
  openData(bucket: string, key: string, versionId: string, space?: Space, range?: ByteSpan): Promise<Readable>
  /** Remove versions by dot from a space (hints handed off). */
  drop(space: Space, bucket: string, key: string, dots: readonly Dot[]): Promise<number>
}

/** Keys that hold only tombstones, as the reaper forgets them. */
export interface TombstoneStore {
  /** Keys holding only tombstones, the newest written before `olderThanMs`. */
  reapCandidates(olderThanMs: number, limit: number): KeyVersions[]
  /** Forget a key whose held versions are all tombstones among `dots` (or nothing). */
  reap(bucket: string, key: string, dots: readonly Dot[]): Promise<boolean>
}

/** The anti-entropy index of the node's own data. */
export interface SegmentSource {
  /** Own keys of one anti-entropy segment (0..255), with the ids of the versions held. */
  segmentEntries(segment: number): Iterable<{ bucket: string; key: string; ids: string }>
}

/** What a repair of the own data goes through: the versions held, their bytes, and replicate. */
export type ReplicaStore = Pick<VersionReader, 'versions' | 'openData'> & Pick<VersionWriter, 'replicate'>

export interface ObjectStore extends VersionReader, VersionWriter, HintStore, TombstoneStore, SegmentSource {
  close(): Promise<void>
}
