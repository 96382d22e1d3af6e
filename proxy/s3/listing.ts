/**
 * ListObjects (V1, for s3cmd) and ListObjectsV2: prefix, delimiter with CommonPrefixes, marker /
 * start-after / continuation token, max-keys, encoding-type=url, over the native Lister's pages.
 * A key with siblings is listed once, as its winner (winner.ts).
 */
import type { Context } from 'koa'
import type { Lister } from '../coordinator/lister.js'
import { objectSize } from '../../shared/wire/object-metadata.js'
import { sendXml } from './buckets.js'
import type { S3Handler } from './context.js'
import { invalidArgument } from './errors.js'
import { etagOf, newestOf } from './winner.js'
import type { XmlNode } from './xml.js'

/** S3's default and largest max-keys. */
const MAX_KEYS = 1000
/** The highest code point: `P + SKIP` sorts after every key that starts with P (UTF-8 byte order), so a listing jumps over a common prefix. */
const SKIP = '\u{10FFFF}'
/** The node listing's `after` is at most this long (ListQuerySchema). */
const AFTER_MAX_CHARS = 1024

export interface ListQuery {
  prefix: string
  delimiter: string
  /** list keys after this one (a common prefix given here is skipped whole) */
  after: string | undefined
  maxKeys: number
}

export interface ListedObject {
  key: string
  size: number
  etag: string
  lastModified: number
}

export interface ListResult {
  objects: ListedObject[]
  prefixes: string[]
  truncated: boolean
  /** the last key or common prefix returned: where the next page starts */
  last: string | undefined
}

/** Where a page of the node listing starts to list after `marker`: past the whole common prefix when the marker is one. */
function startAfter(marker: string | undefined, q: ListQuery): string | undefined {
  if (marker === undefined) return undefined
  if (q.delimiter !== '' && marker.startsWith(q.prefix) && marker.endsWith(q.delimiter) && marker.length + 2 <= AFTER_MAX_CHARS) return marker + SKIP
  return marker
}

/** One S3 page: up to maxKeys keys and common prefixes together, in key order. */
export async function listPage(lister: Lister, bucket: string, q: ListQuery): Promise<ListResult> {
  const out: ListResult = { objects: [], prefixes: [], truncated: false, last: undefined }
  if (q.maxKeys === 0) return out
  let cursor = startAfter(q.after, q)
  let lastPrefix: string | undefined
  for (;;) {
    const page = await lister.page(bucket, { prefix: q.prefix, after: cursor, limit: Math.min(MAX_KEYS, q.maxKeys + 1) })
    for (const { key, live } of page.keys) {
      const cp = commonPrefixOf(key, q)
      if (cp !== undefined && cp === lastPrefix) continue
      if (out.objects.length + out.prefixes.length === q.maxKeys) {
        out.truncated = true
        return out
      }
      if (cp !== undefined) {
        out.prefixes.push(cp)
        lastPrefix = cp
        out.last = cp
      } else {
        const v = newestOf(live)
        out.objects.push({ key, size: objectSize(v), etag: etagOf(v), lastModified: v.lastModified })
        out.last = key
      }
    }
    if (page.next === undefined) return out
    cursor = lastPrefix !== undefined && page.next.startsWith(lastPrefix) ? startAfter(lastPrefix, q) : page.next
  }
}

function commonPrefixOf(key: string, q: ListQuery): string | undefined {
  if (q.delimiter === '') return undefined
  const at = key.indexOf(q.delimiter, q.prefix.length)
  return at < 0 ? undefined : key.slice(0, at + q.delimiter.length)
}

function single(ctx: Context, name: string): string | undefined {
  const v = ctx.query[name]
  if (Array.isArray(v)) throw invalidArgument(`${name} may be given once`)
  return v
}

function maxKeysOf(ctx: Context): number {
  const raw = single(ctx, 'max-keys')
  if (raw === undefined) return MAX_KEYS
  if (!/^\d{1,9}$/.test(raw)) throw invalidArgument('max-keys must be a non-negative integer')
  return Math.min(Number(raw), MAX_KEYS)
}

/** encoding-type=url: names percent-encoded (UTF-8, '/' kept), as awscli asks on every listing. */
function encoderOf(ctx: Context): (s: string) => string {
  const type = single(ctx, 'encoding-type')
  if (type === undefined) return (s) => s
  if (type !== 'url') throw invalidArgument('encoding-type must be url')
  return (s) => encodeURIComponent(s).replaceAll('%2F', '/')
}

function contents(objects: ListedObject[], enc: (s: string) => string, owner?: XmlNode): XmlNode[] {
  return objects.map((o) => ({
    Key: enc(o.key),
    LastModified: new Date(o.lastModified).toISOString(),
    ETag: `"${o.etag}"`,
    Size: o.size,
    ...(owner ? { Owner: owner } : {}),
    StorageClass: 'STANDARD',
  }))
}

function baseQuery(ctx: Context): Omit<ListQuery, 'after'> {
  return { prefix: single(ctx, 'prefix') ?? '', delimiter: single(ctx, 'delimiter') ?? '', maxKeys: maxKeysOf(ctx) }
}

export async function listObjectsV2(h: S3Handler, ctx: Context, bucket: string): Promise<void> {
  await h.allow(ctx, { bucket: 'read' }, bucket)
  await h.c.buckets.assertExists(bucket)
  const enc = encoderOf(ctx)
  const token = single(ctx, 'continuation-token')
  const start = single(ctx, 'start-after')
  const after = token !== undefined ? decodeToken(token) : start
  const q = { ...baseQuery(ctx), after }
  const r = await listPage(h.c.lister, bucket, q)
  const owner = single(ctx, 'fetch-owner') === 'true' ? { ID: bucket, DisplayName: bucket } : undefined
  sendXml(ctx, 'ListBucketResult', {
    Name: bucket,
    Prefix: enc(q.prefix),
    ...(q.delimiter !== '' ? { Delimiter: enc(q.delimiter) } : {}),
    MaxKeys: q.maxKeys,
    ...(ctx.query['encoding-type'] ? { EncodingType: 'url' } : {}),
    KeyCount: r.objects.length + r.prefixes.length,
    IsTruncated: r.truncated,
    ...(token !== undefined ? { ContinuationToken: token } : {}),
    ...(r.truncated && r.last !== undefined ? { NextContinuationToken: Buffer.from(r.last).toString('base64url') } : {}),
    ...(start !== undefined ? { StartAfter: enc(start) } : {}),
    Contents: contents(r.objects, enc, owner),
    CommonPrefixes: r.prefixes.map((p) => ({ Prefix: enc(p) })),
  })
}

export async function listObjectsV1(h: S3Handler, ctx: Context, bucket: string): Promise<void> {
  await h.allow(ctx, { bucket: 'read' }, bucket)
  await h.c.buckets.assertExists(bucket)
  const enc = encoderOf(ctx)
  const marker = single(ctx, 'marker')
  const q = { ...baseQuery(ctx), after: marker === '' ? undefined : marker }
  const r = await listPage(h.c.lister, bucket, q)
  sendXml(ctx, 'ListBucketResult', {
    Name: bucket,
    Prefix: enc(q.prefix),
    Marker: enc(marker ?? ''),
    ...(r.truncated && r.last !== undefined ? { NextMarker: enc(r.last) } : {}),
    MaxKeys: q.maxKeys,
    ...(q.delimiter !== '' ? { Delimiter: enc(q.delimiter) } : {}),
    ...(ctx.query['encoding-type'] ? { EncodingType: 'url' } : {}),
    IsTruncated: r.truncated,
    Contents: contents(r.objects, enc, { ID: bucket, DisplayName: bucket }),
    CommonPrefixes: r.prefixes.map((p) => ({ Prefix: enc(p) })),
  })
}

function decodeToken(token: string): string {
  const text = Buffer.from(token, 'base64url').toString('utf8')
  if (token === '' || Buffer.from(text).toString('base64url') !== token) throw invalidArgument('The continuation token provided is incorrect')
  return text
}
