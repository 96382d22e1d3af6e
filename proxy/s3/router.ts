/**
 * S3 operations picked by method, bucket/key and subresource, as S3 does. Anything else, including
 * every subresource not listed here, answers 501 NotImplemented: never a success that did not happen.
 */
import type { Context } from 'koa'
import { createBucket, deleteBucket, getBucketLocation, headBucket, listBuckets } from './buckets.js'
import type { S3Handler } from './context.js'
import { deleteObjects } from './delete-objects.js'
import { notImplemented } from './errors.js'
import { listObjectsV1, listObjectsV2 } from './listing.js'
import { readObject } from './object-read.js'
import { copyObject, deleteObject, putObject } from './object-write.js'
import { subresourcesOf, targetOf } from './request.js'

/** Multipart upload's subresources: not built yet (docs/s3.md has the design); clients then upload in one PUT. */
const MULTIPART = new Set(['uploads', 'uploadId'])

export async function dispatch(h: S3Handler, ctx: Context): Promise<void> {
  const { bucket, key } = targetOf(ctx, h.cfg.s3Domain)
  const sub = subresourcesOf(ctx)
  const method = ctx.method
  const what = `${method} ${sub.length ? `?${sub.join('&')} ` : ''}on ${key !== undefined ? 'an object' : bucket !== undefined ? 'a bucket' : 'the service'}`
  if (sub.some((s) => MULTIPART.has(s))) throw notImplemented("multipart upload (raise your client's multipart threshold, e.g. `aws configure set default.s3.multipart_threshold 5GB`)")
  if (bucket === undefined) {
    if (method === 'GET' && sub.length === 0) return listBuckets(h, ctx)
    throw notImplemented(what)
  }
  if (key === undefined) {
    if (sub.length === 0) {
      if (method === 'PUT') return createBucket(h, ctx, bucket)
      if (method === 'DELETE') return deleteBucket(h, ctx, bucket)
      if (method === 'HEAD') return headBucket(h, ctx, bucket)
      if (method === 'GET') return ctx.query['list-type'] === '2' ? listObjectsV2(h, ctx, bucket) : listObjectsV1(h, ctx, bucket)
    }
    if (method === 'GET' && sub.length === 1 && sub[0] === 'location') return getBucketLocation(h, ctx, bucket)
    if (method === 'POST' && sub.length === 1 && sub[0] === 'delete') return deleteObjects(h, ctx, bucket)
    throw notImplemented(what)
  }
  // versionId=null names the one version an unversioned bucket has; the handlers refuse any other.
  const objectSub = sub.filter((s) => s !== 'versionId')
  if (objectSub.length === 0) {
    if (method === 'GET') return readObject(h, ctx, bucket, key, true)
    if (method === 'HEAD') return readObject(h, ctx, bucket, key, false)
    if (method === 'PUT') return ctx.get('x-amz-copy-source') !== '' ? copyObject(h, ctx, bucket, key) : putObject(h, ctx, bucket, key)
    if (method === 'DELETE') return deleteObject(h, ctx, bucket, key)
  }
  if (objectSub.length === 1 && objectSub[0] === 'partNumber' && (method === 'GET' || method === 'HEAD')) return readObject(h, ctx, bucket, key, method === 'GET')
  throw notImplemented(what)
}
