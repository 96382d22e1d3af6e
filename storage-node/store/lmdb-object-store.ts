/**
 * The durable versioned store of one node: LMDB (embedded, transactional, copy-on-write B+tree)
 * holds per-key version sets, inline bytes of small objects, hints and this node's clock identity
 * and its count of key incarnations (see planCoordinatedWrite); large objects' bytes are files (see blob-files.ts). Every read-modify-write of a key
 * runs in a group commit, and a write is acknowledged only once its group's journal record is on
 * disk: concurrent writes share one record and one fdatasync, and LMDB commits and syncs its pages
 * only at checkpoints, ten times a second (see group-commit.ts and journal.ts).
 *
 * Bytes of up to `embedMaxBytes` (8 KiB) live in the key's record itself, next to their version:
 * a write then changes one B-tree fewer (measured in a store benchmark of 4 KiB writes in groups of
 * five: 108 -> 53 KiB written to the disk per write, 0.10 -> 0.08 ms of CPU) and a read of them
 * is one lookup. Larger inline bytes (up to the blob threshold) have their own table, so a record
 * that listings and version checks decode holds at most `embedMaxBytes` of bytes per version; a
 * data directory written before bytes were embedded keeps its bytes there, and they are read from
 * there. The directory's layout number in `meta` says which (see checkLayout).
 *
 * Versions live in a *space*: the node's own data, or the hints it holds for another node
 * (sloppy quorum). A hinted version is stored in the same transaction as its hint, is invisible to
 * reads of the node's own data, and is dropped once handed off.
 */
import { hash, randomBytes, randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import { open, type RootDatabase } from 'lmdb'
import { DEFAULT_EMBED_MAX_BYTES, DEFAULT_MAX_CLOCK_ENTRIES, DEFAULT_MAX_SIBLINGS } from '../../shared/constants.js'
import { CorruptReplicaError, NoSuchVersionError, TooManySiblingsError, WriteExpiredError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import { displayClock, isRetired, planCoordinatedWrite, reconcile, versionId } from '../../shared/vclock/versions.js'
import { type CommitStats, CoordinateRequestSchema, type CoordinateRequest, type Dot, type ListEntry, type Version } from '../../shared/wire/internal-api.js'
import { type BlobFiles, type Durability, EMPTY_ETAG, type ReceivedBody } from './blobs/blob-files.js'
import type { HintStats, ObjectStore, Space, StoreWriteResult } from './object-store.js'
import { GroupCommit, StoreFailedError } from './engine/group-commit.js'
import type { JournaledTable } from './engine/journaled-table.js'
import { HintLedger } from './hint-ledger.js'
import { type IndexKey, type LoggedKey, SegmentIndex } from './segment-index.js'

/** A version as stored: where its bytes are. `blob` names a file; `bytes` are embedded; otherwise they are in the inline table (or empty). */
interface StoredVersion extends Version {
  blob?: string
  bytes?: Buffer
}
interface StoredRecord {
  versions: StoredVersion[]
  /** Highest counter this node issued per own incarnation for the key (see planCoordinatedWrite). */
  issued?: Record<string, number>
}

export interface LmdbObjectStoreInit {
  nodeId: string
  dataDir: string
  blobs: BlobFiles
  /** Most live concurrent versions a coordinated write may leave (Riak's sibling explosion, refused). */
  maxSiblings?: number
  /** Most actors kept in a new version's context (see pruneContext in shared/vclock/versions.ts). */
  maxClockEntries?: number
  /** Most bytes of hinted versions this node holds for others; past it, it refuses to stand in. */
  maxHintBytes?: number
  /** Most hinted versions (tombstones included) this node holds for others; past it, it refuses to stand in. */
  maxHints?: number
  /** Largest bytes embedded in their key's record (see above); 0: none (how older versions stored everything). */
  embedMaxBytes?: number
  /** 'fsync' (default): acknowledge after the write's journal record is on disk. 'none': after it is written to the OS (a crash may lose it). */
  durability?: Durability
  /** The journal or a checkpoint failed: the store refuses every write from now on, and its reads may lag what was acknowledged (the node should exit; its next start recovers). */
  onFailure?: (err: Error) => void
  /** Time between checkpoints (default CHECKPOINT_MS of group-commit.ts); tests lengthen it to keep writes in the journal only. */
  checkpointMs?: number
  log?: Logger
  now?: () => number
}

/** Visit every value of a table, `slice` at a time, giving the event loop a turn between slices. */
async function scanSliced<V, K extends (string | number)[]>(db: JournaledTable<V, K>, slice: number, visit: (value: V) => void): Promise<void> {
  let after: K | undefined
  for (;;) {
    let seen = 0
    for (const { key, value } of db.getRange({ start: after, limit: slice + 1 })) {
      // The slice starts at the last key of the one before: skip it.
      if (after && seen === 0 && key.length === after.length && key.every((k, i) => k === after?.[i])) continue
      seen++
      after = key
      visit(value)
      if (seen === slice) break
    }
    if (seen < slice) return
    await new Promise((resolve) => setImmediate(resolve))
  }
}

function publicVersion(v: StoredVersion): Version {
  const { blob: _blob, bytes: _bytes, ...rest } = v
  return rest
}

/**
 * Layouts of a data directory: 1, bytes only in the inline table; 2, small bytes may be embedded in
 * records (code that knows only layout 1 would find them missing and quarantine them).
 */
export const STORE_LAYOUT = 2

export class UnsupportedLayoutError extends Error {}

const sha256 = (bytes: Buffer): string => hash('sha256', bytes)

const OWN: Space = { kind: 'own' }

/**
 * Meta key of the segment index's state: 'logged' while a store has it open (its log names every key
 * whose row may be behind), 'clean' once closed with every change written. Versions before the log
 * wrote 'open', and rebuild an index they find in any state but 'clean'.
 */
const INDEX_STATE = 'segmentIndex'
/** The segment index's pending changes are written once this many have gathered, or this long after the last flush. */
const INDEX_FLUSH_CHANGES = 20_000
const INDEX_FLUSH_MS = 5_000
const INDEX_CHECK_MS = 1_000
/** Changes written per group commit by a flush (a few ms of the event loop). */
const INDEX_SLICE = 512

export class LmdbObjectStore implements ObjectStore {
  readonly actor: string
  private readonly root: RootDatabase
  private readonly objects: JournaledTable<StoredRecord, [string, string]>
  private readonly hints: JournaledTable<StoredRecord, [string, string, string]>
  private readonly inline: JournaledTable<Buffer, string>
  private readonly meta: JournaledTable<string | number, string>
  private readonly hintLedger: HintLedger
  /** Keys whose every held version is a tombstone -> when the newest of them was written (reaping candidates). */
  private readonly tombstones: JournaledTable<number, [string, string]>
  /** Own keys by anti-entropy segment (see segment-index.ts). */
  readonly segments: SegmentIndex
  private readonly now: () => number
  private readonly group: GroupCommit
  private readonly indexTimer: NodeJS.Timeout
  private indexFlush: Promise<void> | undefined
  private indexFlushedAt = performance.now()
  private closed: Promise<void> | undefined

  constructor(private readonly init: LmdbObjectStoreInit) {
    this.now = init.now ?? Date.now
    // noSync for `--durability none`: with lmdb-js's default overlappingSync a commit flagged not
    // to flush still syncs before it returns (the flag only moves the sync out of the write lock).
    const durable = init.durability !== 'none'
    // maxDbs: the named tables below (nine, with the journal's state) and room for more; lmdb-js's
    // default of 12 would make a thirteenth table fail at open (MDB_DBS_FULL). Not stored on disk.
    this.root = open({ path: `${init.dataDir}/meta`, compression: false, maxDbs: 32, ...(durable ? {} : { noSync: true }) })
    const failed = (err: Error) => {
      init.log?.error({ err: err.message }, 'the store failed: writes are refused until the node restarts and recovers from its journal')
      init.onFailure?.(err)
    }
    try {
      this.group = new GroupCommit(this.root, {
        journalPath: `${init.dataDir}/meta/journal`,
        sync: durable,
        onFailure: failed,
        onSpaceShort: (err) => {
          if (err) init.log?.error({ err: err.message }, 'checkpoint failed: the disk is full; the store keeps serving from its journal, retries, and refuses writes once the journal is at its bound')
          else init.log?.info('checkpoint succeeded again: space came back')
        },
        ...(init.checkpointMs === undefined ? {} : { checkpointMs: init.checkpointMs }),
      })
    } catch (err) {
      void this.root.close()
      throw err
    }
    const g = this.group
    this.objects = g.table('objects', this.root.openDB<StoredRecord, [string, string]>({ name: 'objects' }))
    this.hints = g.table('hints', this.root.openDB<StoredRecord, [string, string, string]>({ name: 'hints' }))
    this.inline = g.table('inline', this.root.openDB<Buffer, string>({ name: 'inline', encoding: 'binary' }))
    this.meta = g.table('meta', this.root.openDB<string | number, string>({ name: 'meta' }))
    this.tombstones = g.table('tombstones', this.root.openDB<number, [string, string]>({ name: 'tombstones' }))
    this.hintLedger = new HintLedger(g.table('hint-stats', this.root.openDB<HintStats, string>({ name: 'hint-stats' })), this.meta, init.maxHintBytes, init.maxHints)
    this.segments = new SegmentIndex(
      g.table('segments', this.root.openDB<string, IndexKey>({ name: 'segments' })),
      g.table('segment-log', this.root.openDB<LoggedKey[], number>({ name: 'segment-log' })),
    )
    g.listener = this.segments
    try {
      const replayed = g.recover()
      if (replayed > 0) init.log?.info({ writes: replayed }, 'journal replayed: writes acknowledged after the last checkpoint are back in the store')
      this.checkLayout()
    } catch (err) {
      void g.close().finally(() => this.root.close())
      throw err
    }
    this.openIndex()
    this.actor = this.loadActor()
    this.indexTimer = setInterval(() => this.flushIndex(), INDEX_CHECK_MS)
    this.indexTimer.unref()
  }

  /**
   * Refuse a data directory of a newer layout than this code reads (a rollback after an upgrade),
   * rather than quarantine what it cannot read; mark the directory as layout 2 before the first
   * embedded write.
   */
  private checkLayout(): void {
    const found = this.meta.get('layout')
    const layout = typeof found === 'number' ? found : 1
    if (layout > STORE_LAYOUT) {
      throw new UnsupportedLayoutError(`${this.init.dataDir} was written in store layout ${layout}; this version reads layouts up to ${STORE_LAYOUT}: run the newer version`)
    }
    if (layout < STORE_LAYOUT && (this.init.embedMaxBytes ?? DEFAULT_EMBED_MAX_BYTES) > 0) this.meta.put('layout', STORE_LAYOUT)
  }

  /**
   * The segment index's changes reach its table after their writes (see segment-index.ts): a store
   * that was not closed cleanly catches its index up from the log, before the first write. An index
   * whose log cannot be trusted (left 'open' by a version before the log) is rebuilt from every
   * record, as is an empty index beside records (a data directory written before the index
   * existed). Then the index is marked 'logged' until close marks it clean.
   */
  private openIndex(): void {
    const state = this.meta.get(INDEX_STATE)
    // 'logged': this version kept the index, and its log names whatever the table lacks (a store
    // that crashed before its first flush has an empty table beside records). Otherwise an empty
    // table beside records is data written before the index existed.
    const missing = state !== 'logged' && this.segments.isEmpty() && this.objects.getKeysCount({ limit: 1 }) > 0
    const t0 = performance.now()
    if ((state === 'clean' || state === 'logged') && !missing) {
      const keys = this.root.transactionSync(() => this.segments.catchUp((bucket, key) => this.objects.get([bucket, key])?.versions ?? []))
      if (keys > 0) this.init.log?.info({ keys, ms: Math.round(performance.now() - t0) }, 'segment index caught up from its log (the store was not closed cleanly)')
    } else {
      const keys = this.root.transactionSync(() =>
        this.segments.rebuild(this.objects.getRange({}).map(({ key, value }) => ({ bucket: key[0], key: key[1], versions: value.versions }))),
      )
      if (keys > 0) this.init.log?.info({ keys, ms: Math.round(performance.now() - t0) }, missing ? 'segment index built from the records' : 'segment index rebuilt from the records (left by a version without its log)')
    }
    this.meta.put(INDEX_STATE, 'logged')
  }

  /**
   * Once enough changes have gathered, or enough time has passed: write the changes pending now
   * (not those that arrive meanwhile: they wait for the next flush), a slice per group commit. One
   * flush runs at a time.
   */
  private flushIndex(): void {
    const pendingNow = this.segments.unflushed
    const due = pendingNow >= INDEX_FLUSH_CHANGES || (pendingNow > 0 && performance.now() - this.indexFlushedAt >= INDEX_FLUSH_MS)
    if (!due || this.indexFlush) return
    // .finally runs after the assignment, whatever the flush does.
    this.indexFlush = this.writePendingIndex(this.segments.pendingKeys()).finally(() => {
      this.indexFlushedAt = performance.now()
      this.indexFlush = undefined
    })
  }

  private async writePendingIndex(keys: readonly IndexKey[]): Promise<void> {
    try {
      for (let i = 0; i < keys.length; i += INDEX_SLICE) {
        const slice = keys.slice(i, i + INDEX_SLICE)
        await this.group.run(() => this.segments.flushKeys(slice))
      }
    } catch (err) {
      // Left pending, for the next flush or the final one at close.
      if (!this.closed) this.init.log?.warn({ err: String(err) }, 'segment index flush failed')
    }
  }

  /** A fresh data directory gets a fresh epoch: its counters can never collide with a lost disk's (riak kv679). */
  private loadActor(): string {
    const existing = this.meta.get('actor')
    if (typeof existing === 'string') return existing
    const actor = `${this.init.nodeId}.${randomBytes(4).toString('hex')}`
    this.meta.put('actor', actor)
    this.meta.put('incarnations', 0)
    return actor
  }

  private record(space: Space, bucket: string, key: string): StoredRecord | undefined {
    return space.kind === 'own' ? this.objects.get([bucket, key]) : this.hints.get([space.target, bucket, key])
  }

  private held(space: Space, bucket: string, key: string): StoredVersion[] {
    return this.record(space, bucket, key)?.versions ?? []
  }

  /**
   * Inline bytes are keyed by space, bucket, key and version: the same version held as data and as a
   * hint never shares them, and two keys can never collide even if a dot were ever issued twice.
   */
  private inlineKey(space: Space, bucket: string, key: string, id: string): string {
    const where = `${bucket}\u0000${key}\u0000${id}`
    return space.kind === 'own' ? where : `hint\u0000${space.target}\u0000${where}`
  }

  versions(bucket: string, key: string, space: Space = OWN): Version[] {
    return this.held(space, bucket, key).map(publicVersion)
  }

  async coordinate(bucket: string, key: string, request: CoordinateRequest, body: ReceivedBody | null, space: Space = OWN): Promise<StoreWriteResult> {
    const req = CoordinateRequestSchema.parse(request)
    const blob = body?.kind === 'file' ? await this.init.blobs.commit(body, randomUUID()) : undefined
    const outcome = await this.transact(blob, () => {
      // Checked when the write is about to be stored, not when it arrived: a node paused in between
      // must not store a write the proxy has already retried elsewhere.
      if (req.expiresAt !== undefined && this.now() > req.expiresAt) {
        this.init.log?.warn({ bucket, key, lateMs: this.now() - req.expiresAt }, 'coordinated write refused: it expired before it could be stored')
        throw new WriteExpiredError(`${bucket}/${key}: the write expired ${this.now() - req.expiresAt} ms before it could be stored`)
      }
      const rec = this.record(space, bucket, key)
      const held = rec?.versions ?? []
      // An attempt of a request that a version here retired: a retry of it was read and
      // overwritten already. Storing it would bring the request back (or, as a write without
      // context, replace the overwrite): refused like an expired write, which it is.
      if (isRetired(held, req.writeId)) {
        this.init.log?.warn({ bucket, key, writeId: req.writeId }, 'coordinated write refused: its request was retried, read and overwritten already')
        throw new WriteExpiredError(`${bucket}/${key}: request ${req.writeId} was retried on another coordinator, read and overwritten; this attempt is obsolete`)
      }
      const plan = planCoordinatedWrite(
        held,
        req.context,
        this.actor,
        Number(this.meta.get('incarnations') ?? 0),
        this.init.maxClockEntries ?? DEFAULT_MAX_CLOCK_ENTRIES,
        rec?.issued,
        { writeId: req.writeId, retired: req.retired },
      )
      const live = plan.kept.filter((k) => !k.tombstone).length + (req.tombstone ? 0 : 1)
      const maxSiblings = this.init.maxSiblings ?? DEFAULT_MAX_SIBLINGS
      if (live > maxSiblings) {
        throw new TooManySiblingsError(`${bucket}/${key} would have ${live} concurrent versions (limit ${maxSiblings}): read it and write back with its context to resolve them`)
      }
      const version: Version = {
        dot: plan.dot,
        context: plan.context,
        tombstone: req.tombstone,
        size: body?.size ?? 0,
        etag: body?.etag ?? EMPTY_ETAG,
        contentType: req.contentType,
        lastModified: this.now(),
        node: this.init.nodeId,
        ...(req.writeId ? { writeId: req.writeId } : {}),
        ...(req.retried ? { retried: true as const } : {}),
        ...(plan.retired.length > 0 ? { retired: plan.retired } : {}),
      }
      // lmdb-js keeps the writes a transaction callback made before it threw: every check that can
      // throw (sibling limit above, hint limit inside writeSet) runs before the first write.
      const issued = { ...rec?.issued, [plan.dot.actor]: plan.dot.counter }
      const result = this.writeSet(space, bucket, key, held, [...plan.kept, this.stored(version, blob, body)], version, body, issued)
      this.meta.put('incarnations', plan.incarnation)
      return result
    })
    return this.finish(outcome, blob)
  }

  async replicate(bucket: string, key: string, version: Version, body: ReceivedBody | null, space: Space = OWN): Promise<StoreWriteResult> {
    const blob = body?.kind === 'file' ? await this.init.blobs.commit(body, randomUUID()) : undefined
    const outcome = await this.transact(blob, () => {
      const held = this.held(space, bucket, key)
      const incoming = this.stored(version, blob, body)
      const next = reconcile<StoredVersion>(held, [incoming])
      const live = next.filter((n) => !n.tombstone).length
      if (live > (this.init.maxSiblings ?? DEFAULT_MAX_SIBLINGS)) this.init.log?.warn({ bucket, key, siblings: live }, 'sibling limit exceeded by a replicated version (kept: it was acknowledged elsewhere)')
      return this.writeSet(space, bucket, key, held, next, version, body)
    })
    return this.finish(outcome, blob)
  }

  /** A new version as it will be stored: with its file's name, or with its bytes when they are embedded. */
  private stored(version: Version, blob: string | undefined, body: ReceivedBody | null): StoredVersion {
    if (blob) return { ...version, blob }
    return body?.kind === 'inline' && this.embeds(body.size) ? { ...version, bytes: body.bytes } : version
  }

  /** Whether inline bytes of this size are embedded in their record (rather than in the inline table). */
  private embeds(size: number): boolean {
    return size > 0 && size <= (this.init.embedMaxBytes ?? DEFAULT_EMBED_MAX_BYTES)
  }

  /** Whether a held version's bytes are in the inline table (not a file, not embedded, not empty). */
  private inTable(v: StoredVersion): boolean {
    return !v.blob && !v.bytes && v.size > 0
  }

  /** Run a write transaction; a blob file committed for it is removed again if the transaction fails. */
  private async transact<T>(blob: string | undefined, fn: () => T): Promise<T> {
    try {
      return await this.group.run(fn)
    } catch (err) {
      // After a failed journal write the record may still be replayed at the next start: keep the file it names.
      if (blob && !(err instanceof StoreFailedError)) await this.init.blobs.remove(blob)
      throw err
    }
  }

  /** Inside a transaction: store `next` as the key's set in `space`; drop what left it. */
  private writeSet(
    space: Space,
    bucket: string,
    key: string,
    held: StoredVersion[],
    next: StoredVersion[],
    version: Version,
    body: ReceivedBody | null,
    issued?: Record<string, number>,
  ) {
    const id = versionId(version.dot)
    const alreadyHeld = held.some((h) => versionId(h.dot) === id)
    const stored = !alreadyHeld && next.some((n) => versionId(n.dot) === id)
    const nextIds = new Set(next.map((n) => versionId(n.dot)))
    const dropped = held.filter((h) => !nextIds.has(versionId(h.dot)))
    if (stored || dropped.length > 0) {
      if (space.kind === 'hint') this.hintLedger.account(space.target, stored ? [version] : [], dropped)
      this.putSet(space, bucket, key, next, issued ?? this.record(space, bucket, key)?.issued)
      if (stored && body?.kind === 'inline' && body.size > 0 && !this.embeds(body.size)) this.inline.put(this.inlineKey(space, bucket, key, id), body.bytes)
      for (const d of dropped) if (this.inTable(d)) this.inline.remove(this.inlineKey(space, bucket, key, versionId(d.dot)))
    }
    return { version, stored, clock: displayClock(stored ? next : held.length ? held : next), droppedFiles: dropped.flatMap((d) => (d.blob ? [d.blob] : [])) }
  }

  private putSet(space: Space, bucket: string, key: string, next: StoredVersion[], issued?: Record<string, number>): void {
    const rec: StoredRecord = issued ? { versions: next, issued } : { versions: next }
    if (space.kind === 'hint') {
      if (next.length === 0) this.hints.remove([space.target, bucket, key])
      else this.hints.put([space.target, bucket, key], rec)
      return
    }
    if (next.length === 0) this.objects.remove([bucket, key])
    else this.objects.put([bucket, key], rec)
    this.segments.record(bucket, key, next)
    if (next.length > 0 && next.every((n) => n.tombstone)) this.tombstones.put([bucket, key], Math.max(...next.map((n) => n.lastModified)))
    else this.tombstones.remove([bucket, key])
  }

  private async finish(outcome: StoreWriteResult & { droppedFiles: string[] }, blob: string | undefined): Promise<StoreWriteResult> {
    if (blob && !outcome.stored) await this.init.blobs.remove(blob)
    for (const f of outcome.droppedFiles) await this.init.blobs.remove(f)
    return { version: outcome.version, stored: outcome.stored, clock: outcome.clock }
  }

  /** Remove versions (by dot) from a space, e.g. hints handed off. Returns how many went. */
  async drop(space: Space, bucket: string, key: string, dots: readonly Dot[]): Promise<number> {
    const ids = new Set(dots.map(versionId))
    const outcome = await this.group.run(() => {
      const held = this.held(space, bucket, key)
      const dropped = held.filter((h) => ids.has(versionId(h.dot)))
      if (dropped.length === 0) return dropped
      if (space.kind === 'hint') this.hintLedger.account(space.target, [], dropped)
      this.putSet(space, bucket, key, held.filter((h) => !ids.has(versionId(h.dot))), this.record(space, bucket, key)?.issued)
      for (const d of dropped) if (this.inTable(d)) this.inline.remove(this.inlineKey(space, bucket, key, versionId(d.dot)))
      return dropped
    })
    for (const d of outcome) if (d.blob) await this.init.blobs.remove(d.blob)
    return outcome.length
  }

  /** The group commit's counters (groups, journal, checkpoints). */
  get commitStats(): CommitStats {
    return { ...this.group.stats }
  }

  /** Pending hints per target node. */
  hintTotals(): Record<string, HintStats> {
    return this.hintLedger.totals()
  }


  /** Up to `limit` hinted keys for `target`, after `after` (bucket, key). */
  hintBatch(target: string, limit: number, after?: { bucket: string; key: string }): { bucket: string; key: string; versions: Version[] }[] {
    const out: { bucket: string; key: string; versions: Version[] }[] = []
    for (const { key, value } of this.hints.getRange({ start: after ? [target, after.bucket, after.key] : [target, '', ''] })) {
      if (key[0] !== target || out.length >= limit) break
      if (after && key[1] === after.bucket && key[2] === after.key) continue
      out.push({ bucket: key[1], key: key[2], versions: value.versions.map(publicVersion) })
    }
    return out
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
    const gone = await this.group.run(() => {
      const held = this.held(OWN, bucket, key)
      if (!held.every((h) => h.tombstone && ids.has(versionId(h.dot)))) return false
      this.putSet(OWN, bucket, key, [])
      return true
    })
    return gone
  }

  /**
   * The bytes of a held version, verified against its SHA-256. A copy found corrupt is quarantined:
   * the version leaves this node's set (so a read or handoff elsewhere repairs it) and the error
   * says so; it is never served.
   */
  async openData(bucket: string, key: string, id: string, space: Space = OWN): Promise<Readable> {
    const v = this.held(space, bucket, key).find((h) => versionId(h.dot) === id)
    if (!v || v.tombstone) throw new NoSuchVersionError(`version ${id} is not held here`)
    try {
      if (v.blob) return await this.init.blobs.openVerified(v.blob, v.etag, () => void this.quarantine(space, bucket, key, v))
      return Readable.from(v.size === 0 ? [] : [this.storedBytes(space, bucket, key, v)])
    } catch (err) {
      if (err instanceof CorruptReplicaError) await this.quarantine(space, bucket, key, v)
      throw err
    }
  }

  /**
   * Every version held, and the bytes of the only live one when there is exactly one, it is not a
   * file and has at most `maxBytes` (a quorum read then needs no second request): one record
   * lookup, no stream. A copy found corrupt is quarantined, as by openData, and the versions are
   * those left.
   */
  async versionsWithData(bucket: string, key: string, space: Space, maxBytes: number): Promise<{ versions: Version[]; data?: Buffer }> {
    const held = this.held(space, bucket, key)
    const versions = held.map(publicVersion)
    const live = held.filter((v) => !v.tombstone)
    const only = live[0]
    if (live.length !== 1 || !only || only.blob || only.size > maxBytes) return { versions }
    if (only.size === 0) return { versions, data: Buffer.alloc(0) }
    try {
      return { versions, data: this.storedBytes(space, bucket, key, only) }
    } catch (err) {
      if (!(err instanceof CorruptReplicaError)) throw err
      await this.quarantine(space, bucket, key, only)
      return { versions: this.versions(bucket, key, space) }
    }
  }

  /** The bytes of a held non-empty version that is not a file (embedded or in the inline table), verified against its SHA-256. */
  private storedBytes(space: Space, bucket: string, key: string, v: StoredVersion): Buffer {
    const bytes = v.bytes ?? this.inline.get(this.inlineKey(space, bucket, key, versionId(v.dot)))
    if (!bytes || sha256(bytes) !== v.etag) throw new CorruptReplicaError(`stored bytes of version ${versionId(v.dot)} are missing or do not match their SHA-256`)
    return bytes
  }

  private async quarantine(space: Space, bucket: string, key: string, v: StoredVersion): Promise<void> {
    this.init.log?.error({ bucket, key, version: versionId(v.dot), blob: v.blob }, 'corrupt replica quarantined')
    if (v.blob) await this.init.blobs.quarantine(v.blob)
    await this.group.run(() => {
      const held = this.held(space, bucket, key)
      const rest = held.filter((h) => versionId(h.dot) !== versionId(v.dot))
      if (rest.length === held.length) return
      if (space.kind === 'hint') this.hintLedger.account(space.target, [], [v])
      this.putSet(space, bucket, key, rest, this.record(space, bucket, key)?.issued)
      if (this.inTable(v)) this.inline.remove(this.inlineKey(space, bucket, key, versionId(v.dot)))
    })
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

  /**
   * Names of every blob file a stored version (data or hint) refers to. A full scan of the records
   * (with their embedded bytes), so it reads `slice` records at a time and gives the event loop a
   * turn in between: a node can serve while it runs.
   */
  async referencedBlobs(slice = 1000): Promise<Set<string>> {
    const names = new Set<string>()
    const visit = (rec: StoredRecord) => {
      for (const v of rec.versions) if (v.blob) names.add(v.blob)
    }
    await scanSliced(this.objects, slice, visit)
    await scanSliced(this.hints, slice, visit)
    return names
  }

  segmentEntries(segment: number): Iterable<{ bucket: string; key: string; ids: string }> {
    return this.segments.entries(segment)
  }

  /** Whether LMDB syncs every commit to disk before it returns: false only under `--durability none`. */
  get syncsCommits(): boolean {
    return (this.root as { noSync?: boolean }).noSync !== true
  }

  /** Close once (later calls get the same promise): no new writes, the index complete and marked clean, then the environment. */
  close(): Promise<void> {
    this.closed ??= this.closeOnce()
    return this.closed
  }

  private async closeOnce(): Promise<void> {
    clearInterval(this.indexTimer)
    await this.group.close()
    await this.indexFlush
    if (this.group.failed) {
      // The journal may hold more than LMDB and the index know: the next start replays it, and
      // catches the index up from its log (it stays marked 'logged').
      await this.root.close()
      return
    }
    // Every committed change of the index, and the mark that it is complete, in one synced transaction.
    try {
      this.root.transactionSync(() => {
        this.segments.flushSlice(Number.POSITIVE_INFINITY)
        this.meta.put(INDEX_STATE, 'clean')
      })
      this.segments.committed()
    } catch (err) {
      // The mark stays 'logged': the next open catches the index up from its log.
      this.segments.aborted()
      this.init.log?.error({ err: String(err) }, 'segment index not written at close; the next start catches it up from its log')
    }
    await this.root.flushed
    await this.root.close()
  }
}

