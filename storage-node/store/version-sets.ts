/**
 * The set of versions a key holds in a space, as the LMDB store keeps it: read, replaced inside a
 * write transaction (with everything that follows from it: the hint accounting, the inline bytes,
 * the tombstone and anti-entropy indexes), and its bytes read back verified.
 */
import { CorruptReplicaError } from '../../shared/errors.js'
import { versionId } from '../../shared/vclock/versions.js'
import type { ListEntry, Version } from '../../shared/wire/internal-api.js'
import type { ReceivedBody } from './blobs/blob-files.js'
import type { HintLedger } from './hints.js'
import type { Space, StoreWriteResult } from './object-store.js'
import { embeds, inlineKey, inTable, publicVersion, sha256, type StoredRecord, type StoredVersion } from './records.js'
import type { SegmentIndex } from './segment-index.js'
import type { StoreTables } from './tables.js'
import type { TombstoneIndex } from './tombstones.js'
import { setChange } from './write-admission.js'

export interface VersionSetsComponents {
  tables: StoreTables
  hintLedger: HintLedger
  tombstones: TombstoneIndex
  segments: SegmentIndex
}

export class VersionSets {
  constructor(
    private readonly c: VersionSetsComponents,
    private readonly embedMaxBytes: number | undefined,
  ) {}

  record(space: Space, bucket: string, key: string): StoredRecord | undefined {
    return space.kind === 'own' ? this.c.tables.objects.get([bucket, key]) : this.c.tables.hints.get([space.target, bucket, key])
  }

  held(space: Space, bucket: string, key: string): StoredVersion[] {
    return this.record(space, bucket, key)?.versions ?? []
  }

  /** A new version as it will be stored: with its file's name, or with its bytes when they are embedded. */
  stored(version: Version, blob: string | undefined, body: ReceivedBody | null): StoredVersion {
    if (blob) return { ...version, blob }
    return body?.kind === 'inline' && embeds(body.size, this.embedMaxBytes) ? { ...version, bytes: body.bytes } : version
  }

  /** Inside a transaction: store `next` as the key's set in `space`; drop what left it. */
  writeSet(space: Space, bucket: string, key: string, held: StoredVersion[], next: StoredVersion[], version: Version, body: ReceivedBody | null, issued?: Record<string, number>) {
    const { stored, dropped, clock } = setChange(held, next, version)
    if (stored || dropped.length > 0) {
      if (space.kind === 'hint') this.c.hintLedger.account(space.target, stored ? [version] : [], dropped)
      this.putSet(space, bucket, key, next, issued ?? this.record(space, bucket, key)?.issued)
      const id = versionId(version.dot)
      if (stored && body?.kind === 'inline' && body.size > 0 && !embeds(body.size, this.embedMaxBytes)) this.c.tables.inline.put(inlineKey(space, bucket, key, id), body.bytes)
      this.removeBytes(space, bucket, key, dropped)
    }
    return { version, stored, clock, droppedFiles: dropped.flatMap((d) => (d.blob ? [d.blob] : [])) } satisfies StoreWriteResult & { droppedFiles: string[] }
  }

  /** Inside a transaction: remove the versions of `ids` from the key's set in `space`; returns those removed (their files are the caller's to remove). */
  remove(space: Space, bucket: string, key: string, ids: ReadonlySet<string>): StoredVersion[] {
    const held = this.held(space, bucket, key)
    const dropped = held.filter((h) => ids.has(versionId(h.dot)))
    if (dropped.length === 0) return dropped
    if (space.kind === 'hint') this.c.hintLedger.account(space.target, [], dropped)
    this.putSet(
      space,
      bucket,
      key,
      held.filter((h) => !ids.has(versionId(h.dot))),
      this.record(space, bucket, key)?.issued,
    )
    this.removeBytes(space, bucket, key, dropped)
    return dropped
  }

  /** Inside a transaction: the key's set becomes `next` (none: the key is forgotten), with the indexes of own data. */
  putSet(space: Space, bucket: string, key: string, next: StoredVersion[], issued?: Record<string, number>): void {
    const rec: StoredRecord = issued ? { versions: next, issued } : { versions: next }
    if (space.kind === 'hint') {
      if (next.length === 0) this.c.tables.hints.remove([space.target, bucket, key])
      else this.c.tables.hints.put([space.target, bucket, key], rec)
      return
    }
    if (next.length === 0) this.c.tables.objects.remove([bucket, key])
    else this.c.tables.objects.put([bucket, key], rec)
    this.c.segments.record(bucket, key, next)
    this.c.tombstones.note(bucket, key, next)
  }

  private removeBytes(space: Space, bucket: string, key: string, dropped: readonly StoredVersion[]): void {
    for (const d of dropped) if (inTable(d)) this.c.tables.inline.remove(inlineKey(space, bucket, key, versionId(d.dot)))
  }

  /** The bytes of a held non-empty version that is not a file (embedded or in the inline table), verified against its SHA-256. */
  storedBytes(space: Space, bucket: string, key: string, v: StoredVersion): Buffer {
    const bytes = v.bytes ?? this.c.tables.inline.get(inlineKey(space, bucket, key, versionId(v.dot)))
    if (!bytes || sha256(bytes) !== v.etag) throw new CorruptReplicaError(`stored bytes of version ${versionId(v.dot)} are missing or do not match their SHA-256`)
    return bytes
  }

  list(bucket: string, q: { prefix: string; after?: string | undefined; limit: number }): { entries: ListEntry[]; truncated: boolean } {
    const entries: ListEntry[] = []
    const start = q.after !== undefined && q.after > q.prefix ? q.after : q.prefix
    for (const { key, value } of this.c.tables.objects.getRange({ start: [bucket, start] })) {
      const [b, k] = key
      if (b !== bucket || !k.startsWith(q.prefix)) break
      if (k === q.after) continue
      if (entries.length === q.limit) return { entries, truncated: true }
      entries.push({ key: k, versions: value.versions.map(publicVersion) })
    }
    return { entries, truncated: false }
  }
}
