/** Public bucket routes: create, delete (optionally forced), list (paged). */
import type { GuardedRouter } from '../access/guarded-router.js'
import { principalOf } from '../access/principal.js'
import type { BucketRegistry } from '../buckets/bucket-registry.js'
import type { WriteOutcome } from '../coordinator/write-coordinator.js'
import { type ApiConfig, bucketParam, listParams, pageAnswer, writeQuorum } from './request-params.js'

export function mountBucketRoutes(router: GuardedRouter, buckets: BucketRegistry, cfg: ApiConfig): void {
  router.post('/buckets/:bucket', { createBuckets: true }, async (ctx) => {
    const bucket = bucketParam(ctx)
    const p = principalOf(ctx)
    const outcome = await buckets.create(bucket, writeQuorum(ctx, cfg), p.kind === 'key' ? p.key.id : undefined)
    ctx.status = 201
    ctx.body = { success: true, ...bucketAnswer(bucket, outcome) }
  })

  router.delete('/buckets/:bucket', { bucket: 'owner' }, async (ctx) => {
    const bucket = bucketParam(ctx)
    const { outcome, filesDeleted } = await buckets.delete(bucket, ctx.query.force === 'true', writeQuorum(ctx, cfg))
    ctx.body = { success: true, ...bucketAnswer(bucket, outcome), files_deleted: filesDeleted }
  })

  // Paged like a file listing; without parameters the first page of DEFAULT_LIST_LIMIT, and next_cursor says whether there is more.
  router.get('/buckets', { anyKey: true }, async (ctx) => {
    const p = principalOf(ctx)
    const page = buckets.page(listParams(ctx), (bucket) => p.kind === 'key' && buckets.readable(p.key, bucket))
    ctx.body = { success: true, buckets: page.buckets, ...pageAnswer(page.next) }
  })
}

/** A bucket record's write answer, named by the bucket (its record's reserved namespace stays internal). */
function bucketAnswer(bucket: string, outcome: WriteOutcome) {
  const { key: _key, ...rest } = outcome
  return { ...rest, bucket }
}
