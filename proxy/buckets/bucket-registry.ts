/**
 * Buckets are records in a reserved namespace kept on every member (shared/ring/placement.ts),
 * versioned like any object. Whether a bucket exists, and who owns it, is read from the proxy's
 * access catalog (proxy/access/catalog.ts), so a file request costs no read of the bucket record and
 * a bucket stays usable whenever any member is up.
 */
import { BUCKETS_NAMESPACE } from '../../shared/constants.js'
import { BucketAlreadyExistsError, BucketNotEmptyError, NoSuchBucketError } from '../../shared/errors.js'
import { readContextOf } from '../../shared/vclock/versions.js'
import type { BucketRecord } from '../../shared/wire/access-records.js'
import type { AccessAdmin } from '../access/access-admin.js'
import type { AccessCatalog } from '../access/catalog.js'
import type { ResolvedKey } from '../access/policy.js'
import type { Lister } from '../coordinator/lister.js'
import type { WriteCoordinator, WriteOutcome } from '../coordinator/write-coordinator.js'

/** A bucket as listed: its name and when its record was first written. */
export interface BucketEntry {
  name: string
  created: string
}

export interface BucketRegistryComponents {
  catalog: AccessCatalog
  admin: AccessAdmin
  writer: WriteCoordinator
  lister: Lister
}

export class BucketRegistry {
  constructor(private readonly c: BucketRegistryComponents) {}

  async assertExists(bucket: string): Promise<void> {
    if (this.c.catalog.policy().bucket(bucket)) return
    // Made a moment ago through another proxy? Look once more before answering 404.
    await this.c.catalog.refresh()
    if (!this.c.catalog.policy().bucket(bucket)) throw new NoSuchBucketError(`bucket ${bucket} does not exist`)
  }

  /** Create a bucket owned by `owner` (a key id; none for a member-signed request). Of two concurrent creations, the lower version id owns it. */
  async create(bucket: string, w: number, owner: string | undefined): Promise<WriteOutcome> {
    await this.c.catalog.refresh()
    if (this.c.catalog.policy().bucket(bucket)) throw new BucketAlreadyExistsError(`bucket ${bucket} already exists`)
    const record: BucketRecord = { name: bucket, created: new Date().toISOString(), ...(owner ? { owner } : {}) }
    const context = readContextOf(this.c.catalog.versionsOf(BUCKETS_NAMESPACE, bucket))
    const out = await this.c.writer.write({ bucket: BUCKETS_NAMESPACE, key: bucket, body: Buffer.from(JSON.stringify(record)), context, contentType: 'application/json', w })
    await this.c.catalog.refresh()
    const now = this.c.catalog.policy().bucket(bucket)
    if (owner && now && now.owner !== owner) throw new BucketAlreadyExistsError(`bucket ${bucket} was created at the same time by access key ${now.owner}, which owns it`)
    return out
  }

  /** Delete an empty bucket, or with `force` its files first; its grants and public flag go with it. */
  async delete(bucket: string, force: boolean, w: number): Promise<{ outcome: WriteOutcome; filesDeleted: number }> {
    await this.assertExists(bucket)
    let filesDeleted = 0
    if (force) {
      for await (const f of this.c.lister.all(bucket)) {
        await this.c.writer.write({ bucket, key: f.key, body: null, context: readContextOf(f.live), w })
        filesDeleted++
      }
    }
    // Tombstoned keys fill listing pages too: look for a live key across pages, not in one short page.
    for await (const _live of this.c.lister.all(bucket, '', 100)) {
      throw new BucketNotEmptyError(`bucket ${bucket} is not empty (use ?force=true to delete its files too)`)
    }
    await this.c.admin.forgetBucket(bucket)
    const context = readContextOf(this.c.catalog.versionsOf(BUCKETS_NAMESPACE, bucket))
    const outcome = await this.c.writer.write({ bucket: BUCKETS_NAMESPACE, key: bucket, body: null, context, w })
    await this.c.catalog.refresh()
    return { outcome, filesDeleted }
  }

  /** Whether `key` may read `bucket` (what GET /buckets lists). */
  readable(key: ResolvedKey, bucket: string): boolean {
    return this.c.catalog.policy().allows(key, bucket, 'read')
  }

  /** One page of the bucket names `visible` lets through, in byte order, after `q.after`; `next` is where the following page starts. */
  page(q: { prefix: string; after: string | undefined; limit: number }, visible: (bucket: string) => boolean): { buckets: BucketEntry[]; next: string | undefined } {
    const policy = this.c.catalog.policy()
    const after = q.after === undefined ? undefined : Buffer.from(q.after)
    const names = policy.bucketNames().filter((b) => b.startsWith(q.prefix) && (after === undefined || Buffer.compare(Buffer.from(b), after) > 0) && visible(b))
    const page = names.slice(0, q.limit)
    const buckets = page.map((name) => ({ name, created: policy.bucket(name)?.created ?? '' }))
    return { buckets, next: names.length > page.length ? page[page.length - 1] : undefined }
  }
}
