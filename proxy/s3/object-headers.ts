/**
 * The headers of an S3 write: which ask for something this store does not do (refused with 501, not
 * ignored), which ask for the default (accepted), and the metadata to keep (shared/wire/object-metadata.ts).
 */
import type { Context } from 'koa'
import { MAX_USER_METADATA_BYTES, type ObjectMetadata, userMetadataBytes } from '../../shared/wire/object-metadata.js'
import { notImplemented, S3Error } from './errors.js'

/** Canned ACLs that mean what every object here is: readable by its bucket's grants only. */
const DEFAULT_ACLS = new Set(['private', 'bucket-owner-full-control'])

/** Headers whose feature is not implemented: a request carrying one is refused rather than half-served. */
const UNSUPPORTED_PREFIXES = ['x-amz-server-side-encryption', 'x-amz-object-lock-', 'x-amz-grant-', 'x-amz-tagging', 'x-amz-website-redirect-location', 'x-amz-request-payer']

export function refuseUnsupportedHeaders(ctx: Context): void {
  const acl = ctx.get('x-amz-acl')
  if (acl !== '' && !DEFAULT_ACLS.has(acl)) throw notImplemented(`the canned ACL ${acl} (objects follow their bucket's grants; ./dynamoctl bucket public makes a bucket readable by anyone)`)
  const storageClass = ctx.get('x-amz-storage-class')
  if (storageClass !== '' && storageClass !== 'STANDARD') throw notImplemented(`storage class ${storageClass}`)
  for (const name of Object.keys(ctx.headers)) {
    if (UNSUPPORTED_PREFIXES.some((p) => name.startsWith(p))) throw notImplemented(`the ${name} header`)
  }
}

/** The object's Content-Type as sent (S3's default when none). */
export function contentTypeOf(ctx: Context): string {
  const t = ctx.get('content-type')
  return t === '' ? 'binary/octet-stream' : t.slice(0, 256)
}

/** The metadata a write sends (x-amz-meta-*, Content-Encoding less aws-chunked, Content-Disposition, ...); 400 MetadataTooLarge past 2 KiB. */
export function metadataOf(ctx: Context): ObjectMetadata {
  const user: Record<string, string> = {}
  for (const [name, value] of Object.entries(ctx.headers)) {
    if (name.startsWith('x-amz-meta-') && value !== undefined) user[name.slice('x-amz-meta-'.length)] = Array.isArray(value) ? value.join(',') : value
  }
  if (userMetadataBytes(user) > MAX_USER_METADATA_BYTES) throw new S3Error('MetadataTooLarge', 400, `user metadata (x-amz-meta-*) is limited to ${MAX_USER_METADATA_BYTES} bytes`)
  const encoding = ctx
    .get('content-encoding')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'aws-chunked')
    .join(', ')
  const meta: ObjectMetadata = {}
  if (Object.keys(user).length > 0) meta.user = user
  if (encoding !== '') meta.contentEncoding = encoding
  const set = (field: 'contentDisposition' | 'contentLanguage' | 'cacheControl' | 'expires', header: string) => {
    const v = ctx.get(header)
    if (v !== '') meta[field] = v
  }
  set('contentDisposition', 'content-disposition')
  set('contentLanguage', 'content-language')
  set('cacheControl', 'cache-control')
  set('expires', 'expires')
  return meta
}
