/**
 * The durable versioned store of one node, over LMDB (embedded, transactional, copy-on-write
 * B+tree): per-key version sets, inline bytes of small objects, hints, tombstones to reap, the
 * anti-entropy index and this node's clock identity; large objects' bytes are files
 * (blobs/blob-files.ts). Every read-modify-write of a key runs in a group commit, and a write is
 * acknowledged only once its group's journal record is on disk (engine/group-commit.ts).
 *
 * This file wires the parts and keeps the order of each operation; the rules live in their own
 * modules: write-admission.ts (what a write may store), version-sets.ts and records.ts (a key's set
 * and where its bytes live), hints.ts, tombstones.ts, quarantine.ts, identity.ts, layout.ts, and
 * segment-index-upkeep.ts. Versions live in a *space*: the node's own data, or the hints it holds
 * for another node (sloppy quorum); a hinted version is stored in the same transaction as its hint,
 * is invisible to reads of the own data, and is dropped once handed off.
 */
import { randomUUID } from 'node:crypto'
import type { Readable } from 'node:stream'
import type { Logger } from '../../shared/log.js'
import { versionId } from '../../shared/vclock/versions.js'
import { type ByteSpan, type CommitStats, type CoordinateRequest, CoordinateRequestSchema, type Dot, type ListEntry, type Version } from '../../shared/wire/internal-api.js'
import type { BlobFiles, Durability, ReceivedBody } from './blobs/blob-files.js'
import { StoreFailedError } from './engine/group-commit.js'
import { LmdbEnv } from './engine/lmdb-env.js'
import { HintLedger, hintBatch } from './hints.js'
import { incarnations, loadActor, setIncarnations } from './identity.js'
import { checkLayout } from './layout.js'
import type { HintStats, KeyVersions, ObjectStore, Space, StoreWriteResult } from './object-store.js'
import { referencedBlobs } from './orphans.js'
import { VerifiedReads } from './quarantine.js'
import { OWN, publicVersion, type StoredVersion } from './records.js'
import { SegmentIndex } from './segment-index.js'
import { SegmentIndexUpkeep } from './segment-index-upkeep.js'
import { type SiblingChange, SiblingCounts, siblingChange } from './sibling-count.js'
import { openTables, type StoreTables } from './tables.js'
import { isReapable, TombstoneIndex } from './tombstones.js'
import { VersionSets } from './version-sets.js'
import { planCoordinate, planReplicate, type WriteLimits } from './write-admission.js'

export interface LmdbObjectStoreInit extends WriteLimits {
  nodeId: string
  dataDir: string
  blobs: BlobFiles
  /** Most bytes of hinted versions this node holds for others; past it, it refuses to stand in. */
  maxHintBytes?: number
  /** Most hinted versions (tombstones included) this node holds for others; past it, it refuses to stand in. */
  maxHints?: number
  /** Largest bytes embedded in their key's record (see records.ts); 0: none (how older versions stored everything). */
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

export class LmdbObjectStore implements ObjectStore {
  readonly actor: string
  /** Own keys by anti-entropy segment (see segment-index.ts). */
  readonly segments: SegmentIndex
  /** Siblings this node's coordinated writes of its own data made and resolved since start (GET /metrics). */
  readonly siblings = new SiblingCounts()
  private readonly env: LmdbEnv
  private readonly tables: StoreTables
  private readonly hintLedger: HintLedger
  private readonly tombstones: TombstoneIndex
  private readonly sets: VersionSets
  private readonly index: SegmentIndexUpkeep
  private readonly reads: VerifiedReads
  private readonly now: () => number
  private closed: Promise<void> | undefined

  constructor(private readonly init: LmdbObjectStoreInit) {
    this.now = init.now ?? Date.now
    this.env = new LmdbEnv(init)
    const tables = openTables(this.env)
    this.tables = tables
    this.hintLedger = new HintLedger(tables.hintStats, tables.meta, { maxBytes: init.maxHintBytes, maxVersions: init.maxHints })
    this.tombstones = new TombstoneIndex(tables.tombstones)
    this.segments = new SegmentIndex(tables.segments, tables.segmentLog)
    this.env.group.listener = this.segments
    this.sets = new VersionSets({ tables, hintLedger: this.hintLedger, tombstones: this.tombstones, segments: this.segments }, init.embedMaxBytes)
    this.reads = new VerifiedReads({ sets: this.sets, group: this.env.group, blobs: init.blobs, log: init.log })
    this.env.recover(() => checkLayout(tables.meta, init.dataDir, init.embedMaxBytes))
    this.index = new SegmentIndexUpkeep({ env: this.env, tables, segments: this.segments, log: init.log })
    this.index.open()
    this.actor = loadActor(tables.meta, init.nodeId)
    this.index.start()
  }

  versions(bucket: string, key: string, space: Space = OWN): Version[] {
    return this.sets.held(space, bucket, key).map(publicVersion)
  }

  async coordinate(bucket: string, key: string, request: CoordinateRequest, body: ReceivedBody | null, space: Space = OWN): Promise<StoreWriteResult> {
    const req = CoordinateRequestSchema.parse(request)
    const blob = body?.kind === 'file' ? await this.init.blobs.commit(body, randomUUID()) : undefined
    let change: SiblingChange | undefined
    const outcome = await this.transact(blob, () => {
      const rec = this.sets.record(space, bucket, key)
      const held = rec?.versions ?? []
      // Every check that can throw (the write rules here, the hint limit inside writeSet) runs
      // before the first write: what a callback wrote before it threw would be kept.
      const { actor, init } = this
      const plan = planCoordinate({
        bucket,
        key,
        req,
        held,
        issued: rec?.issued,
        actor,
        incarnations: incarnations(this.tables.meta),
        nodeId: init.nodeId,
        now: this.now(),
        body,
        limits: init,
        log: init.log,
      })
      const result = this.sets.writeSet(space, bucket, key, held, [...plan.kept, this.sets.stored(plan.version, blob, body)], plan.version, body, plan.issued)
      setIncarnations(this.tables.meta, plan.incarnation)
      // Counted once the write is committed; a stand-in's hint space is not the key's real state.
      if (space.kind === 'own' && held.length > 0) change = siblingChange(held, plan.kept, req.tombstone)
      return result
    })
    if (change) this.siblings.note(change)
    return this.finish(outcome, blob)
  }

  async replicate(bucket: string, key: string, version: Version, body: ReceivedBody | null, space: Space = OWN): Promise<StoreWriteResult> {
    const blob = body?.kind === 'file' ? await this.init.blobs.commit(body, randomUUID()) : undefined
    const outcome = await this.transact(blob, () => {
      const held = this.sets.held(space, bucket, key)
      const next = planReplicate<StoredVersion>(bucket, key, held, this.sets.stored(version, blob, body), this.init, this.init.log)
      return this.sets.writeSet(space, bucket, key, held, next, version, body)
    })
    return this.finish(outcome, blob)
  }

  /** Run a write transaction; a blob file committed for it is removed again if the transaction fails. */
  private async transact<T>(blob: string | undefined, fn: () => T): Promise<T> {
    try {
      return await this.env.group.run(fn)
    } catch (err) {
      // After a failed journal write the record may still be replayed at the next start: keep the file it names.
      if (blob && !(err instanceof StoreFailedError)) await this.init.blobs.remove(blob)
      throw err
    }
  }

  private async finish(outcome: StoreWriteResult & { droppedFiles: string[] }, blob: string | undefined): Promise<StoreWriteResult> {
    if (blob && !outcome.stored) await this.init.blobs.remove(blob)
    for (const f of outcome.droppedFiles) await this.init.blobs.remove(f)
    return { version: outcome.version, stored: outcome.stored, clock: outcome.clock }
  }

  /** Remove versions (by dot) from a space, e.g. hints handed off. Returns how many went. */
  async drop(space: Space, bucket: string, key: string, dots: readonly Dot[]): Promise<number> {
    const ids = new Set(dots.map(versionId))
    const dropped = await this.env.group.run(() => this.sets.remove(space, bucket, key, ids))
    for (const d of dropped) if (d.blob) await this.init.blobs.remove(d.blob)
    return dropped.length
  }

  /** The group commit's counters (groups, journal, checkpoints). */
  get commitStats(): CommitStats {
    return { ...this.env.group.stats }
  }

  /** Pending hints per target node. */
  hintTotals(): Record<string, HintStats> {
    return this.hintLedger.totals()
  }

  /** Hints stored per target node since start. */
  hintsStored(): ReadonlyMap<string, HintStats> {
    return this.hintLedger.stored
  }

  /** `fn` hears how long each journal append (write and fdatasync) took, in ms. */
  onJournalAppend(fn: (ms: number) => void): void {
    this.env.group.onAppend = fn
  }

  hintBatch(target: string, limit: number, after?: { bucket: string; key: string }): KeyVersions[] {
    return hintBatch(this.tables.hints, target, limit, after)
  }

  reapCandidates(olderThanMs: number, limit: number): KeyVersions[] {
    return this.tombstones.candidates(olderThanMs, limit).map(({ bucket, key }) => ({ bucket, key, versions: this.versions(bucket, key) }))
  }

  /** Forget a key whose held versions are all tombstones among `dots` (or nothing). Returns whether it is gone. */
  reap(bucket: string, key: string, dots: readonly Dot[]): Promise<boolean> {
    return this.env.group.run(() => {
      if (!isReapable(this.sets.held(OWN, bucket, key), dots)) return false
      this.sets.putSet(OWN, bucket, key, [])
      return true
    })
  }

  /** The bytes of a held version, verified; a copy found corrupt is quarantined, never served (see quarantine.ts). */
  openData(bucket: string, key: string, id: string, space: Space = OWN, range?: ByteSpan): Promise<Readable> {
    return this.reads.openData(space, bucket, key, id, range)
  }

  /** Every version held, with the bytes of the only live one when small and not a file (see quarantine.ts). */
  versionsWithData(bucket: string, key: string, space: Space, maxBytes: number): Promise<{ versions: Version[]; data?: Buffer }> {
    return this.reads.versionsWithData(space, bucket, key, maxBytes)
  }

  list(bucket: string, q: { prefix: string; after?: string | undefined; limit: number }): { entries: ListEntry[]; truncated: boolean } {
    return this.sets.list(bucket, q)
  }

  /** Names of every blob file a stored version (data or hint) refers to (see orphans.ts). */
  referencedBlobs(slice = 1000): Promise<Set<string>> {
    return referencedBlobs(this.tables, slice)
  }

  segmentEntries(segment: number): Iterable<{ bucket: string; key: string; ids: string }> {
    return this.segments.entries(segment)
  }

  /** Whether LMDB syncs every commit to disk before it returns: false only under `--durability none`. */
  get syncsCommits(): boolean {
    return this.env.syncsCommits
  }

  /** Close once (later calls get the same promise): no new writes, the index complete and marked clean, then the environment. */
  close(): Promise<void> {
    this.closed ??= this.closeOnce()
    return this.closed
  }

  private async closeOnce(): Promise<void> {
    this.index.stop()
    await this.env.group.close()
    await this.index.settled()
    // After a failure the journal may hold more than LMDB and the index know: the next start
    // replays it, and catches the index up from its log (it stays marked 'logged').
    if (!this.env.group.failed) this.index.writeAll()
    await this.env.close()
  }
}
