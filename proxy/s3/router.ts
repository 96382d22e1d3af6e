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
import { completeUpload, listUploads } from './multipart/multipart-complete.js'
import { abortUpload, createUpload, listParts, uploadPart, uploadPartCopy } from './multipart/multipart-parts.js'
import type { UploadStore } from './multipart/upload-store.js'
import { subresourcesOf, targetOf } from './request.js'

export async function dispatch(h: S3Handler, uploads: UploadStore, ctx: Context): Promise<void> {
  const { bucket, key } = targetOf(ctx, h.cfg.s3Domain)
  const sub = subresourcesOf(ctx)
  const method = ctx.method
  const what = `${method} ${sub.length ? `?${sub.join('&')} ` : ''}on ${key !== undefined ? 'an object' : bucket !== undefined ? 'a bucket' : 'the service'}`
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
    if (method === 'GET' && sub.length === 1 && sub[0] === 'uploads') return listUploads(h, uploads, ctx, bucket)
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
  const multipart = multipartOperation(method, objectSub, ctx.get('x-amz-copy-source') !== '')
  if (multipart) return multipart(h, uploads, ctx, bucket, key)
  if (objectSub.length === 1 && objectSub[0] === 'partNumber' && (method === 'GET' || method === 'HEAD')) return readObject(h, ctx, bucket, key, method === 'GET')
  throw notImplemented(what)
}

type MultipartHandler = (h: S3Handler, uploads: UploadStore, ctx: Context, bucket: string, key: string) => Promise<void>

/** The multipart operation of an object request, by method and subresources (?uploads, ?uploadId, ?partNumber&uploadId). */
function multipartOperation(method: string, sub: readonly string[], copy: boolean): MultipartHandler | undefined {
  const is = (...names: string[]) => sub.length === names.length && names.every((n) => sub.includes(n))
  if (method === 'POST' && is('uploads')) return createUpload
  if (method === 'PUT' && is('partNumber', 'uploadId')) return copy ? uploadPartCopy : uploadPart
  if (method === 'POST' && is('uploadId')) return completeUpload
  if (method === 'DELETE' && is('uploadId')) return abortUpload
  if (method === 'GET' && is('uploadId')) return listParts
  return undefined
}
