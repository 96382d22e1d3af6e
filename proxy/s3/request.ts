/**
 * What an S3 request names: its bucket and key (path style `/BUCKET/KEY`, or virtual-host style
 * `BUCKET.<--s3-domain>` in Host), and its subresource (`?uploads`, `?delete`, `?acl`, ...), which
 * selects the operation.
 */
import type { Context } from 'koa'
import { InvalidBucketNameError } from '../../shared/errors.js'
import { assertBucketName, assertKey } from '../../shared/names.js'
import { percentDecode } from '../../shared/sigv4/canonical.js'

/**
 * The first segments of the native API's paths (`/buckets/...`, `/admin/...`, `/set`): no S3 request
 * may name one as its bucket, so a request signed for the native API is refused by the S3 endpoint
 * whatever the Host says (endpoint-host.ts tells the endpoints apart by the Host's port, which holds
 * only while the public ports are the proxy's own), and the native API has no path an S3 request to
 * a real bucket could mean. test/unit/proxy/s3/endpoint-separation.test.ts keeps it complete.
 */
export const NATIVE_API_SEGMENTS: ReadonlySet<string> = new Set(['admin', 'buckets', 'cluster', 'fetch', 'health', 'metrics', 'query', 'set', 'ui'])

export interface S3Target {
  bucket: string | undefined
  key: string | undefined
}

/** Subresources S3 selects operations with. Those the router does not serve answer 501 NotImplemented. */
export const SUBRESOURCES = [
  'accelerate',
  'acl',
  'analytics',
  'attributes',
  'cors',
  'delete',
  'encryption',
  'intelligent-tiering',
  'inventory',
  'legal-hold',
  'lifecycle',
  'location',
  'logging',
  'metadataTable',
  'metrics',
  'notification',
  'object-lock',
  'ownershipControls',
  'partNumber',
  'policy',
  'policyStatus',
  'publicAccessBlock',
  'renameObject',
  'replication',
  'requestPayment',
  'restore',
  'retention',
  'select',
  'session',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'versionId',
  'versioning',
  'versions',
  'website',
] as const

/** The subresources the request names (`?uploads`, `?partNumber=1&uploadId=x`), in SUBRESOURCES order. */
export function subresourcesOf(ctx: Context): string[] {
  return SUBRESOURCES.filter((s) => ctx.query[s] !== undefined)
}

/** Host without its port, lower-cased. */
function hostName(ctx: Context): string {
  return (ctx.get('host') || '').replace(/:\d+$/, '').toLowerCase()
}

/** Bucket and key of the request; names are validated (400 InvalidBucketName, KeyTooLongError). */
export function targetOf(ctx: Context, s3Domain: string | undefined): S3Target {
  const q = ctx.url.indexOf('?')
  const rawPath = q < 0 ? ctx.url : ctx.url.slice(0, q)
  const path = percentDecode(rawPath).toString('utf8')
  const host = hostName(ctx)
  const domain = s3Domain?.replace(/:\d+$/, '').toLowerCase()
  let bucket: string | undefined
  let key: string | undefined
  if (domain !== undefined && host.endsWith(`.${domain}`)) {
    bucket = host.slice(0, -domain.length - 1)
    key = path.slice(1)
  } else {
    const rest = path.slice(1)
    const slash = rest.indexOf('/')
    bucket = slash < 0 ? rest : rest.slice(0, slash)
    key = slash < 0 ? '' : rest.slice(slash + 1)
  }
  if (bucket === '') return { bucket: undefined, key: undefined }
  assertBucketName(bucket)
  if (NATIVE_API_SEGMENTS.has(bucket)) throw new InvalidBucketNameError(`the bucket name ${bucket} is not served over S3: the native API's paths begin with it (use the native API for such a bucket)`)
  if (key === '') return { bucket, key: undefined }
  assertKey(key)
  return { bucket, key }
}
