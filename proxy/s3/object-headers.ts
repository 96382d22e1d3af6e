/**
 * The headers of an S3 write: which ask for something this store does not do (refused with 501, not
 * ignored), which ask for the default (accepted), and the metadata kept with the version (shared/wire/object-metadata.ts).
 */
import type { Context } from 'koa'
import type { ObjectMetadata } from '../../shared/wire/object-metadata.js'
import { metadataFromHeaders } from '../objects/metadata-headers.js'
import { notImplemented } from './errors.js'

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

/** The metadata a write's headers carry (proxy/objects/metadata-headers.ts, as the native API reads it); `{}` when none, so a verified checksum can join it. */
export function metadataOf(ctx: Context): ObjectMetadata {
  return metadataFromHeaders(ctx.headers) ?? {}
}
