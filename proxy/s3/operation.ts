/**
 * The S3 operation a request names (`GetObject`, `PutObject`, `ListObjectsV2`, ...), by the rules the
 * router dispatches with (router.ts), for GET /metrics: a closed set of names, never a bucket or key.
 */
import type { Context } from 'koa'
import { subresourcesOf, targetOf } from './request.js'

/** Every value s3OperationOf answers: the label values of the S3 request metrics. */
export const S3_OPERATIONS = [
  'ListBuckets',
  'CreateBucket',
  'DeleteBucket',
  'HeadBucket',
  'ListObjects',
  'ListObjectsV2',
  'GetBucketLocation',
  'ListMultipartUploads',
  'DeleteObjects',
  'GetObject',
  'HeadObject',
  'PutObject',
  'CopyObject',
  'DeleteObject',
  'CreateMultipartUpload',
  'UploadPart',
  'UploadPartCopy',
  'CompleteMultipartUpload',
  'AbortMultipartUpload',
  'ListParts',
  /** A method or subresource the router answers 501 NotImplemented. */
  'NotImplemented',
  /** A bucket or key name the router refuses (400). */
  'InvalidName',
] as const
export type S3Operation = (typeof S3_OPERATIONS)[number]

/** The operation of a request, for counting; never throws. */
export function s3OperationOf(ctx: Context, s3Domain: string | undefined): S3Operation {
  let target: ReturnType<typeof targetOf>
  try {
    target = targetOf(ctx, s3Domain)
  } catch {
    return 'InvalidName'
  }
  const sub = subresourcesOf(ctx)
  const method = ctx.method
  if (target.bucket === undefined) return method === 'GET' && sub.length === 0 ? 'ListBuckets' : 'NotImplemented'
  if (target.key === undefined) return bucketOperation(method, sub, ctx.query['list-type'] === '2')
  return objectOperation(
    method,
    sub.filter((s) => s !== 'versionId'),
    ctx.get('x-amz-copy-source') !== '',
  )
}

function bucketOperation(method: string, sub: readonly string[], v2: boolean): S3Operation {
  if (sub.length === 0) {
    if (method === 'PUT') return 'CreateBucket'
    if (method === 'DELETE') return 'DeleteBucket'
    if (method === 'HEAD') return 'HeadBucket'
    if (method === 'GET') return v2 ? 'ListObjectsV2' : 'ListObjects'
  }
  const only = sub.length === 1 ? sub[0] : undefined
  if (method === 'GET' && only === 'location') return 'GetBucketLocation'
  if (method === 'GET' && only === 'uploads') return 'ListMultipartUploads'
  if (method === 'POST' && only === 'delete') return 'DeleteObjects'
  return 'NotImplemented'
}

function objectOperation(method: string, sub: readonly string[], copy: boolean): S3Operation {
  const is = (...names: string[]) => sub.length === names.length && names.every((n) => sub.includes(n))
  if (sub.length === 0 || is('partNumber')) {
    if (method === 'GET') return 'GetObject'
    if (method === 'HEAD') return 'HeadObject'
    if (sub.length === 0 && method === 'PUT') return copy ? 'CopyObject' : 'PutObject'
    if (sub.length === 0 && method === 'DELETE') return 'DeleteObject'
    return 'NotImplemented'
  }
  if (method === 'POST' && is('uploads')) return 'CreateMultipartUpload'
  if (method === 'PUT' && is('partNumber', 'uploadId')) return copy ? 'UploadPartCopy' : 'UploadPart'
  if (method === 'POST' && is('uploadId')) return 'CompleteMultipartUpload'
  if (method === 'DELETE' && is('uploadId')) return 'AbortMultipartUpload'
  if (method === 'GET' && is('uploadId')) return 'ListParts'
  return 'NotImplemented'
}
