/**
 * Who may do what, resolved from the records of `.buckets` and `.access` (shared/wire/access-records.ts)
 * as the catalog holds them: each record key with its surviving versions, siblings included. Pure.
 * Concurrent changes resolve the same way on every proxy:
 * - a deletion beats a concurrent change (a revoked key or grant, or a public flag turned off, stays so);
 * - concurrent grants give only what every one of them gives;
 * - of two concurrent creations of one bucket, the version with the lower id owns it;
 * - a grant or public flag counts only for the incarnation of the bucket it was made on.
 */
import { ACCESS_NAMESPACE, BUCKETS_NAMESPACE } from '../../shared/constants.js'
import { versionId } from '../../shared/vclock/versions.js'
import type { Grant, KeyInfo, Permission } from '../../shared/wire/access-api.js'
import { BucketRecordSchema, GrantRecordSchema, KeyRecordSchema, KV_GRANTS, PublicRecordSchema, type SealedSecret } from '../../shared/wire/access-records.js'
import type { Version } from '../../shared/wire/internal-api.js'

/** One record key as the catalog holds it: the surviving versions and the bytes of the live ones. */
export interface CatalogEntry {
  versions: readonly Version[]
  bodies: ReadonlyMap<string, Buffer>
}

export interface ResolvedKey extends KeyInfo {
  sealed: SealedSecret
}

export interface ResolvedBucket {
  name: string
  created: string
  owner: string | null
  /** Version id of the owning record: grants and the public flag name it. */
  incarnation: string
}

/** The incarnation the key-value API's grants name. */
export const KV_INCARNATION = 'kv'

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b))

/** Live versions with their parsed bodies, lowest version id first; undefined when a tombstone survives beside them (a deletion wins). */
function liveRecords<T>(e: CatalogEntry | undefined, parse: (b: unknown) => T | undefined, deletionWins: boolean): T[] | undefined {
  if (!e) return undefined
  if (deletionWins && e.versions.some((v) => v.tombstone)) return undefined
  const out: { id: string; rec: T }[] = []
  for (const v of e.versions) {
    if (v.tombstone) continue
    const id = versionId(v.dot)
    const body = e.bodies.get(id)
    if (!body) continue
    let rec: T | undefined
    try {
      rec = parse(JSON.parse(body.toString('utf8')))
    } catch {
      rec = undefined
    }
    if (rec !== undefined) out.push({ id, rec })
  }
  out.sort((a, b) => byteOrder(a.id, b.id))
  return out.length ? out.map((o) => o.rec) : undefined
}

const parser =
  <T>(schema: { safeParse(x: unknown): { success: true; data: T } | { success: false } }) =>
  (x: unknown) => {
    const r = schema.safeParse(x)
    return r.success ? r.data : undefined
  }

export class Policy {
  private readonly keys = new Map<string, ResolvedKey>()
  private readonly buckets = new Map<string, ResolvedBucket>()
  private readonly grants = new Map<string, Map<string, Grant>>()
  private readonly publics = new Set<string>()

  /** `entries`: namespace -> record key -> entry. */
  constructor(entries: ReadonlyMap<string, ReadonlyMap<string, CatalogEntry>>) {
    for (const [name, e] of entries.get(BUCKETS_NAMESPACE) ?? []) {
      // Buckets follow the object rule: a live record beside a concurrent deletion keeps the bucket.
      const live = e.versions.filter((v) => !v.tombstone && e.bodies.has(versionId(v.dot))).sort((a, b) => byteOrder(versionId(a.dot), versionId(b.dot)))
      const first = live[0]
      if (!first) continue
      const rec = parser(BucketRecordSchema)(JSON.parse((e.bodies.get(versionId(first.dot)) as Buffer).toString('utf8')))
      this.buckets.set(name, { name, created: rec?.created ?? new Date(first.lastModified).toISOString(), owner: rec?.owner ?? null, incarnation: versionId(first.dot) })
    }
    const access = entries.get(ACCESS_NAMESPACE) ?? new Map<string, CatalogEntry>()
    for (const [recordKey, e] of access) {
      const [kind] = recordKey.split('/', 1)
      if (kind === 'key') this.addKey(e)
      else if (kind === 'grant') this.addGrant(e)
      else if (kind === 'public') this.addPublic(e)
    }
  }

  private addKey(e: CatalogEntry): void {
    const recs = liveRecords(e, parser(KeyRecordSchema), true)
    const first = recs?.[0]
    if (!recs || !first) return
    // Concurrent changes of one key: only the rights all of them give; the secret of the lowest version.
    this.keys.set(first.id, { id: first.id, name: first.name, created: first.created, admin: recs.every((r) => r.admin), createBuckets: recs.every((r) => r.createBuckets), sealed: first.secret })
  }

  private addGrant(e: CatalogEntry): void {
    const recs = liveRecords(e, parser(GrantRecordSchema), true)
    const first = recs?.[0]
    if (!recs || !first || !recs.every((r) => r.bucket === first.bucket && r.key === first.key && r.incarnation === first.incarnation)) return
    if (first.incarnation !== this.incarnationOf(first.bucket)) return
    // Owner implies read and write: each sibling's rights are taken whole before they are intersected.
    const g: Grant = { key: first.key, read: recs.every((r) => r.read || r.owner), write: recs.every((r) => r.write || r.owner), owner: recs.every((r) => r.owner) }
    if (!g.read && !g.write && !g.owner) return
    const m = this.grants.get(first.bucket) ?? new Map<string, Grant>()
    this.grants.set(first.bucket, m)
    m.set(first.key, g)
  }

  private addPublic(e: CatalogEntry): void {
    const recs = liveRecords(e, parser(PublicRecordSchema), true)
    const first = recs?.[0]
    if (recs?.every((r) => r.bucket === first?.bucket && r.incarnation === this.incarnationOf(r.bucket)) && first) this.publics.add(first.bucket)
  }

  private incarnationOf(bucket: string): string | undefined {
    return bucket === KV_GRANTS ? KV_INCARNATION : this.buckets.get(bucket)?.incarnation
  }

  key(id: string): ResolvedKey | undefined {
    return this.keys.get(id)
  }

  allKeys(): ResolvedKey[] {
    return [...this.keys.values()].sort((a, b) => byteOrder(a.id, b.id))
  }

  bucket(name: string): ResolvedBucket | undefined {
    return this.buckets.get(name)
  }

  /** Bucket names in byte order. */
  bucketNames(): string[] {
    return [...this.buckets.keys()].sort(byteOrder)
  }

  isPublic(bucket: string): boolean {
    return this.publics.has(bucket)
  }

  /** The grants of a bucket (or of KV_GRANTS), by key id. */
  grantsOf(bucket: string): Grant[] {
    return [...(this.grants.get(bucket)?.values() ?? [])].sort((a, b) => byteOrder(a.key, b.key))
  }

  grant(bucket: string, keyId: string): Grant | undefined {
    return this.grants.get(bucket)?.get(keyId)
  }

  /** Whether `key` may `perm` on `bucket` (a bucket name or KV_GRANTS): admins may everything; owners (by creation or by grant) everything on theirs. */
  allows(key: ResolvedKey, bucket: string, perm: Permission): boolean {
    if (key.admin) return true
    if (bucket !== KV_GRANTS && this.buckets.get(bucket)?.owner === key.id) return true
    const g = this.grant(bucket, key.id)
    if (!g) return false
    return g.owner || (perm === 'read' && g.read) || (perm === 'write' && g.write)
  }
}
