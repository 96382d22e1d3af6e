/**
 * The durable versioned store of one node: LMDB (embedded, transactional, copy-on-write B+tree)
 * holds per-key version sets, inline bytes of small objects and this node's clock identity and
 * counter; large objects' bytes are files (see blob-files.ts). Every read-modify-write of a key is
 * one LMDB transaction, and a write is acknowledged only after LMDB has flushed it to disk;
 * concurrent writes share one commit and one fsync (lmdb-js batches them).
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import { type Database, open, type RootDatabase } from 'lmdb'
import { DEFAULT_MAX_CLOCK_ENTRIES, DEFAULT_MAX_SIBLINGS } from '../../shared/constants.js'
import { NoSuchVersionError, TooManySiblingsError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import { mergedClock, planCoordinatedWrite, pruneContext, reconcile, versionId } from '../../shared/vclock/versions.js'
import { CoordinateRequestSchema, type CoordinateRequest, type Dot, type ListEntry, type Version } from '../../shared/wire/internal-api.js'
import type { BlobFiles, ReceivedBody } from './blob-files.js'
import type { ObjectStore, StoreWriteResult } from './object-store.js'

/** A version as stored: where its bytes are. `blob` names a file; otherwise bytes are inline (or empty). */
interface StoredVersion extends Version {
  blob?: string
}
interface StoredRecord {
  versions: StoredVersion[]
}

export interface LmdbObjectStoreInit {
  nodeId: string
  dataDir: string
  blobs: BlobFiles
  /** Most live concurrent versions a coordinated write may leave (Riak's sibling explosion, refused). */
  maxSiblings?: number
  /** Most actors kept in a new version's context (see pruneContext). */
  maxClockEntries?: number
  log?: Logger
  now?: () => number
}

function publicVersion(v: StoredVersion): Version {
  const { blob: _blob, ...rest } = v
  return rest
}

export class LmdbObjectStore implements ObjectStore {
  readonly actor: string
  private readonly root: RootDatabase
  private readonly objects: Database<StoredRecord, [string, string]>
  private readonly inline: Database<Buffer, string>
  private readonly meta: Database<string | number, string>
  /** Keys whose every held version is a tombstone -> when the newest of them was written (reaping candidates). */
  private readonly tombstones: Database<number, [string, string]>
  private readonly now: () => number

  constructor(private readonly init: LmdbObjectStoreInit) {
    this.now = init.now ?? Date.now
    this.root = open({ path: `${init.dataDir}/meta`, compression: false })
    this.objects = this.root.openDB<StoredRecord, [string, string]>({ name: 'objects' })
    this.inline = this.root.openDB<Buffer, string>({ name: 'inline', encoding: 'binary' })
    this.meta = this.root.openDB<string | number, string>({ name: 'meta' })
    this.tombstones = this.root.openDB<number, [string, string]>({ name: 'tombstones' })
    this.actor = this.loadActor()
  }

  /** A fresh data directory gets a fresh epoch: its counters can never collide with a lost disk's (riak kv679). */
  private loadActor(): string {
    const existing = this.meta.get('actor')
    if (typeof existing === 'string') return existing
    const actor = `${this.init.nodeId}.${randomBytes(4).toString('hex')}`
    this.meta.putSync('actor', actor)
    this.meta.putSync('counter', 0)
    return actor
  }

  private held(bucket: string, key: string): StoredVersion[] {
    return this.objects.get([bucket, key])?.versions ?? []
  }

  versions(bucket: string, key: string): Version[] {
    return this.held(bucket, key).map(publicVersion)
  }

  async coordinate(bucket: string, key: string, request: CoordinateRequest, body: ReceivedBody | null): Promise<StoreWriteResult> {
    const req = CoordinateRequestSchema.parse(request)
    const blob = body?.kind === 'file' ? await this.init.blobs.commit(body, randomUUID()) : undefined
    const outcome = await this.transact(blob, () => {
      const held = this.held(bucket, key)
      const plan = planCoordinatedWrite(held, req.context, this.actor, Number(this.meta.get('counter') ?? 0))
      const live = plan.kept.filter((k) => !k.tombstone).length + (req.tombstone ? 0 : 1)
      const maxSiblings = this.init.maxSiblings ?? DEFAULT_MAX_SIBLINGS
      if (live > maxSiblings) {
        throw new TooManySiblingsError(`${bucket}/${key} would have ${live} concurrent versions (limit ${maxSiblings}): read it and write back with its context to resolve them`)
      }
      const version: Version = {
        dot: plan.dot,
        context: pruneContext(plan.context, this.init.maxClockEntries ?? DEFAULT_MAX_CLOCK_ENTRIES),
        tombstone: req.tombstone,
        size: body?.size ?? 0,
        etag: body?.etag ?? EMPTY_SHA256,
        contentType: req.contentType,
        lastModified: this.now(),
        node: this.init.nodeId,
      }
      this.meta.put('counter', plan.dot.counter)
      return this.writeSet(bucket, key, held, [...plan.kept, { ...version, ...(blob ? { blob } : {}) }], version, body)
    })
    return this.finish(outcome, blob)
  }

  async replicate(bucket: string, key: string, version: Version, body: ReceivedBody | null): Promise<StoreWriteResult> {
    const blob = body?.kind === 'file' ? await this.init.blobs.commit(body, randomUUID()) : undefined
    const outcome = await this.transact(blob, () => {
      const held = this.held(bucket, key)
      const incoming: StoredVersion = { ...version, ...(blob ? { blob } : {}) }
      const next = reconcile<StoredVersion>(held, [incoming])
      const live = next.filter((n) => !n.tombstone).length
      if (live > (this.init.maxSiblings ?? DEFAULT_MAX_SIBLINGS)) this.init.log?.warn({ bucket, key, siblings: live }, 'sibling limit exceeded by a replicated version (kept: it was acknowledged elsewhere)')
      return this.writeSet(bucket, key, held, next, version, body)
    })
    return this.finish(outcome, blob)
  }

  /** Run a write transaction; a blob file committed for it is removed again if the transaction fails. */
  private async transact<T>(blob: string | undefined, fn: () => T): Promise<T> {
    try {
      return await this.root.transaction(fn)
    } catch (err) {
      if (blob) await this.init.blobs.remove(blob)
      throw err
    }
  }

  /** Inside a transaction: store `next` as the key's set; drop what left it. */
  private writeSet(bucket: string, key: string, held: StoredVersion[], next: StoredVersion[], version: Version, body: ReceivedBody | null) {
    const id = versionId(version.dot)
    const alreadyHeld = held.some((h) => versionId(h.dot) === id)
    const stored = !alreadyHeld && next.some((n) => versionId(n.dot) === id)
    const nextIds = new Set(next.map((n) => versionId(n.dot)))
    const dropped = held.filter((h) => !nextIds.has(versionId(h.dot)))
    if (stored || dropped.length > 0) {
      this.objects.put([bucket, key], { versions: next })
      if (next.length > 0 && next.every((n) => n.tombstone)) this.tombstones.put([bucket, key], Math.max(...next.map((n) => n.lastModified)))
      else this.tombstones.remove([bucket, key])
      if (stored && body?.kind === 'inline' && body.size > 0) this.inline.put(id, body.bytes)
      for (const d of dropped) if (!d.blob) this.inline.remove(versionId(d.dot))
    }
    return { version, stored, clock: mergedClock(stored ? next : held.length ? held : next), droppedFiles: dropped.flatMap((d) => (d.blob ? [d.blob] : [])) }
  }

  private async finish(
    outcome: StoreWriteResult & { droppedFiles: string[] },
    blob: string | undefined,
  ): Promise<StoreWriteResult> {
    await this.root.flushed
    if (blob && !outcome.stored) await this.init.blobs.remove(blob)
    for (const f of outcome.droppedFiles) await this.init.blobs.remove(f)
    return { version: outcome.version, stored: outcome.stored, clock: outcome.clock }
  }

  /** Keys holding only tombstones, the newest written before `olderThanMs`. */
  reapCandidates(olderThanMs: number, limit: number): { bucket: string; key: string; versions: Version[] }[] {
    const out: { bucket: string; key: string; versions: Version[] }[] = []
    for (const { key, value } of this.tombstones.getRange({})) {
      if (out.length >= limit) break
      if (value < olderThanMs) out.push({ bucket: key[0], key: key[1], versions: this.versions(key[0], key[1]) })
    }
    return out
  }

  /** Forget a key whose held versions are all tombstones among `dots` (or nothing). Returns whether it is gone. */
  async reap(bucket: string, key: string, dots: readonly Dot[]): Promise<boolean> {
    const ids = new Set(dots.map(versionId))
    const gone = await this.root.transaction(() => {
      const held = this.held(bucket, key)
      if (!held.every((h) => h.tombstone && ids.has(versionId(h.dot)))) return false
      this.objects.remove([bucket, key])
      this.tombstones.remove([bucket, key])
      return true
    })
    await this.root.flushed
    return gone
  }

  openData(bucket: string, key: string, id: string): Readable {
    const v = this.held(bucket, key).find((h) => versionId(h.dot) === id)
    if (!v || v.tombstone) throw new NoSuchVersionError(`version ${id} is not held here`)
    if (v.blob) return this.init.blobs.openRead(v.blob)
    if (v.size === 0) return Readable.from([])
    const bytes = this.inline.get(id)
    if (!bytes) throw new NoSuchVersionError(`bytes of version ${id} are missing`)
    return Readable.from([bytes])
  }

  list(bucket: string, q: { prefix: string; after?: string | undefined; limit: number }): { entries: ListEntry[]; truncated: boolean } {
    const entries: ListEntry[] = []
    const start = q.after !== undefined && q.after > q.prefix ? q.after : q.prefix
    for (const { key, value } of this.objects.getRange({ start: [bucket, start] })) {
      const [b, k] = key
      if (b !== bucket || !k.startsWith(q.prefix)) break
      if (k === q.after) continue
      if (entries.length === q.limit) return { entries, truncated: true }
      entries.push({ key: k, versions: value.versions.map(publicVersion) })
    }
    return { entries, truncated: false }
  }

  async close(): Promise<void> {
    await this.root.flushed
    await this.root.close()
  }
}

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

