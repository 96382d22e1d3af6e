/**
 * An ObjectStore in memory, for tests only (never shipped): the write rules are the LMDB store's own
 * pure modules (write-admission.ts, hints.ts, tombstones.ts, segment-index.ts's ids), the versions,
 * bytes and hints live in maps. It runs the contract suite (test/contract/object-store.contract.ts)
 * beside the LMDB store, so the rules are tested without LMDB, and can stand in for a store in unit
 * tests of the parts that use one.
 */
import { hash, randomBytes } from 'node:crypto'
import { readFile, unlink } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { CorruptReplicaError, NoSuchVersionError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import { versionId } from '../../shared/vclock/versions.js'
import { type ByteSpan, type CoordinateRequest, CoordinateRequestSchema, type Dot, type ListEntry, type Version } from '../../shared/wire/internal-api.js'
import type { ReceivedBody } from '../../storage-node/store/blobs/blob-files.js'
import { checkHintRoom, type HintLimits } from '../../storage-node/store/hints.js'
import type { HintStats, KeyVersions, ObjectStore, Space, StoreWriteResult } from '../../storage-node/store/object-store.js'
import { compareUtf8, idsOf, segmentOf } from '../../storage-node/store/segment-index.js'
import { isReapable, tombstonedSince } from '../../storage-node/store/tombstones.js'
import { planCoordinate, planReplicate, setChange, type WriteLimits } from '../../storage-node/store/write-admission.js'

/** A version as held here: its bytes, and whether they came as a file (the LMDB store keeps those as files). */
interface HeldVersion extends Version {
  bytes?: Buffer
  file?: true
}

interface HeldKey {
  bucket: string
  key: string
  versions: HeldVersion[]
  issued?: Record<string, number>
}

/** What survives a close: reopen a store over the same state to test what a restart keeps. */
export interface MemoryStoreState {
  actor?: string
  incarnations: number
  /** Space (`own`, or `hint:<target>`) -> bucket/key -> the versions held. */
  spaces: Map<string, Map<string, HeldKey>>
}

export interface MemoryObjectStoreInit extends WriteLimits {
  nodeId: string
  state?: MemoryStoreState
  maxHintBytes?: number
  maxHints?: number
  log?: Logger
  now?: () => number
}

const OWN: Space = { kind: 'own' }
const spaceKey = (space: Space) => (space.kind === 'own' ? 'own' : `hint:${space.target}`)
const keyOf = (bucket: string, key: string) => `${bucket}\u0000${key}`
const byKey = (a: HeldKey, b: HeldKey) => compareUtf8(a.bucket, b.bucket) || compareUtf8(a.key, b.key)

function publicVersion(v: HeldVersion): Version {
  const { bytes: _bytes, file: _file, ...rest } = v
  return rest
}

export class MemoryObjectStore implements ObjectStore {
  readonly actor: string
  readonly state: MemoryStoreState
  private readonly now: () => number
  private closed = false

  constructor(private readonly init: MemoryObjectStoreInit) {
    this.state = init.state ?? { incarnations: 0, spaces: new Map() }
    this.state.actor ??= `${init.nodeId}.${randomBytes(4).toString('hex')}`
    this.actor = this.state.actor
    this.now = init.now ?? Date.now
  }

  private keys(space: Space): Map<string, HeldKey> {
    let m = this.state.spaces.get(spaceKey(space))
    if (!m) {
      m = new Map()
      this.state.spaces.set(spaceKey(space), m)
    }
    return m
  }

  private held(space: Space, bucket: string, key: string): HeldVersion[] {
    return this.keys(space).get(keyOf(bucket, key))?.versions ?? []
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('the store is closed')
  }

  /** The body's bytes, taken (a file body's temp file is read and removed, as a commit would move it). */
  private async take(body: ReceivedBody | null): Promise<{ bytes?: Buffer; file?: true }> {
    if (!body) return {}
    if (body.kind === 'inline') return body.size > 0 ? { bytes: body.bytes } : {}
    const bytes = await readFile(body.tmpPath)
    await unlink(body.tmpPath)
    return { bytes, file: true }
  }

  /** Replace the key's set in a space by `next` (the hint rules checked first); what `version` did. */
  private write(space: Space, bucket: string, key: string, held: HeldVersion[], next: HeldVersion[], version: Version, issued?: Record<string, number>): StoreWriteResult {
    const { stored, dropped, clock } = setChange(held, next, version)
    if (stored || dropped.length > 0) {
      if (space.kind === 'hint') this.checkHintRoom(stored ? [version] : [], dropped)
      this.putSet(space, bucket, key, next, issued ?? this.keys(space).get(keyOf(bucket, key))?.issued)
    }
    return { version, stored, clock }
  }

  private checkHintRoom(added: readonly Version[], dropped: readonly Version[]): void {
    const totals = Object.values(this.hintTotals())
    const limits: HintLimits = { maxBytes: this.init.maxHintBytes, maxVersions: this.init.maxHints }
    const sum = (f: (s: HintStats) => number) => totals.reduce((a, s) => a + f(s), 0)
    checkHintRoom(
      sum((s) => s.bytes),
      () => sum((s) => s.versions),
      added,
      dropped,
      limits,
    )
  }

  private putSet(space: Space, bucket: string, key: string, versions: HeldVersion[], issued?: Record<string, number>): void {
    const keys = this.keys(space)
    if (versions.length === 0) keys.delete(keyOf(bucket, key))
    else keys.set(keyOf(bucket, key), { bucket, key, versions, ...(issued ? { issued } : {}) })
  }

  async coordinate(bucket: string, key: string, request: CoordinateRequest, body: ReceivedBody | null, space: Space = OWN): Promise<StoreWriteResult> {
    const req = CoordinateRequestSchema.parse(request)
    const taken = await this.take(body)
    this.checkOpen()
    const rec = this.keys(space).get(keyOf(bucket, key))
    const held = rec?.versions ?? []
    const { actor, init } = this
    const plan = planCoordinate({ bucket, key, req, held, issued: rec?.issued, actor, incarnations: this.state.incarnations, nodeId: init.nodeId, now: this.now(), body, limits: init, log: init.log })
    const result = this.write(space, bucket, key, held, [...plan.kept, { ...plan.version, ...taken }], plan.version, plan.issued)
    this.state.incarnations = plan.incarnation
    return result
  }

  async replicate(bucket: string, key: string, version: Version, body: ReceivedBody | null, space: Space = OWN): Promise<StoreWriteResult> {
    const taken = await this.take(body)
    this.checkOpen()
    const held = this.held(space, bucket, key)
    const next = planReplicate<HeldVersion>(bucket, key, held, { ...version, ...taken }, this.init, this.init.log)
    return this.write(space, bucket, key, held, next, version)
  }

  versions(bucket: string, key: string, space: Space = OWN): Version[] {
    return this.held(space, bucket, key).map(publicVersion)
  }

  private verified(space: Space, bucket: string, key: string, v: HeldVersion): Buffer {
    const bytes = v.bytes ?? Buffer.alloc(0)
    if (hash('sha256', bytes) !== v.etag) {
      this.putSet(
        space,
        bucket,
        key,
        this.held(space, bucket, key).filter((h) => versionId(h.dot) !== versionId(v.dot)),
      )
      throw new CorruptReplicaError(`stored bytes of version ${versionId(v.dot)} do not match their SHA-256`)
    }
    return bytes
  }

  async openData(bucket: string, key: string, id: string, space: Space = OWN, range?: ByteSpan): Promise<Readable> {
    const v = this.held(space, bucket, key).find((h) => versionId(h.dot) === id)
    if (!v || v.tombstone) throw new NoSuchVersionError(`version ${id} is not held here`)
    if (v.size === 0) return Readable.from([])
    const bytes = this.verified(space, bucket, key, v)
    return Readable.from([range ? bytes.subarray(range.start, range.end + 1) : bytes])
  }

  async versionsWithData(bucket: string, key: string, space: Space, maxBytes: number): Promise<{ versions: Version[]; data?: Buffer }> {
    const held = this.held(space, bucket, key)
    const versions = held.map(publicVersion)
    const live = held.filter((v) => !v.tombstone)
    const only = live[0]
    if (live.length !== 1 || !only || only.file || only.size > maxBytes) return { versions }
    try {
      return { versions, data: this.verified(space, bucket, key, only) }
    } catch (err) {
      if (!(err instanceof CorruptReplicaError)) throw err
      return { versions: this.versions(bucket, key, space) }
    }
  }

  list(bucket: string, q: { prefix: string; after?: string | undefined; limit: number }): { entries: ListEntry[]; truncated: boolean } {
    const matching = [...this.keys(OWN).values()].filter((k) => k.bucket === bucket && k.key.startsWith(q.prefix) && (q.after === undefined || compareUtf8(k.key, q.after) > 0)).sort(byKey)
    const entries = matching.slice(0, q.limit).map((k) => ({ key: k.key, versions: k.versions.map(publicVersion) }))
    return { entries, truncated: matching.length > q.limit }
  }

  async drop(space: Space, bucket: string, key: string, dots: readonly Dot[]): Promise<number> {
    this.checkOpen()
    const ids = new Set(dots.map(versionId))
    const held = this.held(space, bucket, key)
    const kept = held.filter((h) => !ids.has(versionId(h.dot)))
    if (kept.length === held.length) return 0
    this.putSet(space, bucket, key, kept, this.keys(space).get(keyOf(bucket, key))?.issued)
    return held.length - kept.length
  }

  hintTotals(): Record<string, HintStats> {
    const out: Record<string, HintStats> = {}
    for (const [name, keys] of this.state.spaces) {
      if (!name.startsWith('hint:') || keys.size === 0) continue
      const versions = [...keys.values()].flatMap((k) => k.versions)
      out[name.slice('hint:'.length)] = { versions: versions.length, bytes: versions.reduce((a, v) => a + v.size, 0) }
    }
    return out
  }

  hintBatch(target: string, limit: number, after?: { bucket: string; key: string }): KeyVersions[] {
    const from = after && { bucket: after.bucket, key: after.key, versions: [] }
    return [...this.keys({ kind: 'hint', target }).values()]
      .filter((k) => !from || byKey(k, from) > 0)
      .sort(byKey)
      .slice(0, limit)
      .map((k) => ({ bucket: k.bucket, key: k.key, versions: k.versions.map(publicVersion) }))
  }

  reapCandidates(olderThanMs: number, limit: number): KeyVersions[] {
    return [...this.keys(OWN).values()]
      .filter((k) => (tombstonedSince(k.versions) ?? Number.POSITIVE_INFINITY) < olderThanMs)
      .sort(byKey)
      .slice(0, limit)
      .map((k) => ({ bucket: k.bucket, key: k.key, versions: k.versions.map(publicVersion) }))
  }

  async reap(bucket: string, key: string, dots: readonly Dot[]): Promise<boolean> {
    this.checkOpen()
    if (!isReapable(this.held(OWN, bucket, key), dots)) return false
    this.putSet(OWN, bucket, key, [])
    return true
  }

  *segmentEntries(segment: number): Iterable<{ bucket: string; key: string; ids: string }> {
    const keys = [...this.keys(OWN).values()].filter((k) => segmentOf(k.bucket, k.key) === segment).sort(byKey)
    for (const k of keys) yield { bucket: k.bucket, key: k.key, ids: idsOf(k.versions) ?? '' }
  }

  async close(): Promise<void> {
    this.closed = true
  }
}
