/**
 * An object's metadata as HTTP headers, the same on both APIs: a write's `x-amz-meta-*` (user
 * metadata, 2 KiB together as S3 counts it), Content-Encoding (less `aws-chunked`, a transfer
 * framing), Content-Disposition, Content-Language, Cache-Control and Expires are kept with the
 * version (shared/wire/object-metadata.ts) and answered on GET and HEAD.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { InvalidArgumentError, MetadataTooLargeError } from '../../shared/errors.js'
import { MAX_USER_METADATA_BYTES, type ObjectMetadata, ObjectMetadataSchema, userMetadataBytes } from '../../shared/wire/object-metadata.js'

const USER_PREFIX = 'x-amz-meta-'

const FIELDS = [
  ['contentDisposition', 'content-disposition'],
  ['contentLanguage', 'content-language'],
  ['cacheControl', 'cache-control'],
  ['expires', 'expires'],
] as const

const one = (v: string | string[] | undefined): string => (Array.isArray(v) ? v.join(',') : (v ?? ''))

/** The metadata a write's headers carry; undefined when none. 400 past S3's limits. */
export function metadataFromHeaders(headers: IncomingHttpHeaders): ObjectMetadata | undefined {
  const user: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) if (name.startsWith(USER_PREFIX) && value !== undefined) user[name.slice(USER_PREFIX.length)] = one(value)
  if (userMetadataBytes(user) > MAX_USER_METADATA_BYTES) throw new MetadataTooLargeError(`user metadata (x-amz-meta-*) is limited to ${MAX_USER_METADATA_BYTES} bytes`)
  const meta: ObjectMetadata = {}
  if (Object.keys(user).length > 0) meta.user = user
  const encoding = one(headers['content-encoding'])
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'aws-chunked')
    .join(', ')
  if (encoding !== '') meta.contentEncoding = encoding
  for (const [field, header] of FIELDS) {
    const v = one(headers[header])
    if (v !== '') meta[field] = v
  }
  if (Object.keys(meta).length === 0) return undefined
  const parsed = ObjectMetadataSchema.safeParse(meta)
  if (!parsed.success) throw new InvalidArgumentError(`metadata header too long: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`)
  return parsed.data
}

/** The headers that answer `meta` on GET and HEAD. */
export function metadataHeaders(meta: ObjectMetadata | undefined): Record<string, string> {
  if (!meta) return {}
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(meta.user ?? {})) out[`${USER_PREFIX}${k}`] = v
  if (meta.contentEncoding) out['content-encoding'] = meta.contentEncoding
  for (const [field, header] of FIELDS) {
    const v = meta[field]
    if (v) out[header] = v
  }
  return out
}
