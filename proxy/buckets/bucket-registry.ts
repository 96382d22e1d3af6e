/**
 * Buckets are records in a reserved namespace of the same ring, replicated and versioned like any
 * object. A short positive cache spares file requests a quorum read of the bucket record.
 */
import { BUCKETS_NAMESPACE } from '../../shared/constants.js'
import { BucketAlreadyExistsError, BucketNotEmptyError, NoSuchBucketError } from '../../shared/errors.js'
import { readContextOf } from '../../shared/vclock/versions.js'
import type { Lister } from '../coordinator/lister.js'
import type { ReadCoordinator } from '../coordinator/read-coordinator.js'
import type { WriteCoordinator, WriteOutcome } from '../coordinator/write-coordinator.js'

/** How long a proxy trusts that a bucket it saw exists; a bucket deleted through another proxy may take this long to vanish here. */
const EXISTS_CACHE_MS = 5000

/** A bucket as listed: its name and when its record was first written. */
export interface BucketEntry {
  name: string
  created: string
}

export interface BucketRegistryComponents {
  reader: ReadCoordinator
  writer: WriteCoordinator
  lister: Lister
}

export class BucketRegistry {
  private readonly seen = new Map<string, number>()

  constructor(
    private readonly c: BucketRegistryComponents,
    private readonly cfg: { r: number; w: number },
  ) {}

  private async record(bucket: string) {
    const read = await this.c.reader.read(BUCKETS_NAMESPACE, bucket, this.cfg.r, undefined, false)
    return { read, live: read.versions.filter((v) => !v.tombstone) }
  }

  async assertExists(bucket: string): Promise<void> {
    if ((this.seen.get(bucket) ?? 0) > Date.now()) return
    const { live } = await this.record(bucket)
    if (live.length === 0) throw new NoSuchBucketError(`bucket ${bucket} does not exist`)
    this.seen.set(bucket, Date.now() + EXISTS_CACHE_MS)
  }

  async create(bucket: string, w: number): Promise<WriteOutcome> {
    const { read, live } = await this.record(bucket)
    if (live.length > 0) throw new BucketAlreadyExistsError(`bucket ${bucket} already exists`)
    const body = Buffer.from(JSON.stringify({ name: bucket, created: new Date().toISOString() }))
    const out = await this.c.writer.write({ bucket: BUCKETS_NAMESPACE, key: bucket, body, context: readContextOf(read.versions), contentType: 'application/json', w })
    this.seen.set(bucket, Date.now() + EXISTS_CACHE_MS)
    return out
  }

  /** Delete an empty bucket, or with `force` its files first. */
  async delete(bucket: string, force: boolean, w: number): Promise<{ outcome: WriteOutcome; filesDeleted: number }> {
    const { read, live } = await this.record(bucket)
    if (live.length === 0) throw new NoSuchBucketError(`bucket ${bucket} does not exist`)
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
    this.seen.delete(bucket)
    const outcome = await this.c.writer.write({ bucket: BUCKETS_NAMESPACE, key: bucket, body: null, context: readContextOf(read.versions), w })
    return { outcome, filesDeleted }
  }

  /** One page of bucket names in byte order, after `q.after`; `next` is where the following page starts. */
  async page(q: { prefix: string; after: string | undefined; limit: number }): Promise<{ buckets: BucketEntry[]; next: string | undefined }> {
    const page = await this.c.lister.page(BUCKETS_NAMESPACE, q)
    const buckets = page.keys.map((b) => ({ name: b.key, created: new Date(Math.min(...b.live.map((v) => v.lastModified))).toISOString() }))
    return { buckets, next: page.next }
  }
}
