/**
 * S3 multipart upload, second half: CompleteMultipartUpload and ListMultipartUploads. Complete checks
 * the client's list against the stored parts (order, ETags, S3's 5 MiB minimum), then writes the
 * object's version as a manifest of those parts (shared/wire/manifest.ts): the bytes stay where
 * UploadPart stored them, and both APIs read them in order through the read coordinator, Range
 * included, with S3's multipart ETag. The upload's record and part facts are deleted after; the
 * parts' bytes are freed by the collector once no live version lists them.
 */
import { createHash } from 'node:crypto'
import type { Context } from 'koa'
import { EntityTooLargeError } from '../../../shared/errors.js'
import { compareKeys } from '../../coordinator/lister.js'
import { readWhole } from '../../coordinator/body-streams.js'
import { s3Body } from '../auth.js'
import { sendXml } from '../buckets.js'
import type { S3Handler } from '../context.js'
import { malformedXml, notImplemented, S3Error } from '../errors.js'
import { many, parseXmlBody, text } from '../xml.js'
import { S3_UPLOADS_NAMESPACE } from '../../../shared/constants.js'
import type { Manifest } from '../../../shared/wire/manifest.js'
import type { ObjectMetadata } from '../../../shared/wire/object-metadata.js'
import { MAX_PARTS, noSuchUpload } from './multipart-parts.js'
import { isUploadId, type PartInfo, partKey, type UploadStore } from './upload-store.js'

/** S3's smallest part but the last. */
export const MIN_PART_BYTES = 5 * 1024 * 1024
/** A CompleteMultipartUpload body of 10,000 parts is under 1 MiB. */
const COMPLETE_BODY_MAX_BYTES = 2 * 1024 * 1024

const requestIdOf = (ctx: Context) => String(ctx.state.requestId ?? '')

/** The parts the client lists, as (number, unquoted lower-case ETag), checked for order. */
function listedParts(xml: string): { n: number; etag: string }[] {
  const doc = parseXmlBody(xml, 'CompleteMultipartUpload')
  const listed = many(doc.Part).map((p) => {
    const part = p as Record<string, unknown>
    return { n: Number(text(part.PartNumber)), etag: text(part.ETag).replaceAll('"', '').toLowerCase() }
  })
  if (listed.length === 0) throw malformedXml('CompleteMultipartUpload lists no Part')
  if (listed.length > MAX_PARTS) throw malformedXml(`at most ${MAX_PARTS} parts`)
  for (let i = 0; i < listed.length; i++) {
    const p = listed[i] as { n: number }
    if (!Number.isInteger(p.n) || p.n < 1 || p.n > MAX_PARTS) throw malformedXml('a PartNumber is not 1..10000')
    if (i > 0 && p.n <= (listed[i - 1] as { n: number }).n) throw new S3Error('InvalidPartOrder', 400, 'The list of parts was not in ascending order. Parts must be ordered by part number.')
  }
  return listed
}

/** The stored parts the list names; InvalidPart for one missing or of another ETag, EntityTooSmall for a small part but the last. */
export function chooseParts(listed: readonly { n: number; etag: string }[], stored: readonly PartInfo[]): PartInfo[] {
  const byNumber = new Map(stored.map((p) => [p.partNumber, p]))
  return listed.map((l, i) => {
    const p = byNumber.get(l.n)
    if (!p || p.md5 !== l.etag) throw new S3Error('InvalidPart', 400, `part ${l.n} was not uploaded, or its ETag is not ${l.etag}`)
    if (i < listed.length - 1 && p.size < MIN_PART_BYTES) throw new S3Error('EntityTooSmall', 400, `part ${l.n} is ${p.size} bytes: every part but the last must be at least ${MIN_PART_BYTES}`)
    return p
  })
}

/** S3's multipart ETag: the MD5 of the parts' binary MD5s, a dash, the number of parts. */
export function multipartEtag(parts: readonly Pick<PartInfo, 'md5'>[]): string {
  const h = createHash('md5')
  for (const p of parts) h.update(Buffer.from(p.md5, 'hex'))
  return `${h.digest('hex')}-${parts.length}`
}

export async function completeUpload(h: S3Handler, store: UploadStore, ctx: Context, bucket: string, key: string): Promise<void> {
  await h.allow(ctx, { bucket: 'write' }, bucket)
  await h.c.buckets.assertExists(bucket)
  const requestId = requestIdOf(ctx)
  const id = typeof ctx.query.uploadId === 'string' ? ctx.query.uploadId : ''
  const record = await store.record(bucket, id, requestId)
  if (!record || record.key !== key) return answerCompletedAgain(store, ctx, bucket, key, id)
  const body = s3Body(ctx)
  if (body.size === undefined) throw new S3Error('MissingContentLength', 411, 'CompleteMultipartUpload needs a Content-Length')
  if (body.size > COMPLETE_BODY_MAX_BYTES) throw malformedXml('the body is larger than 2 MiB')
  const listed = listedParts((await readWhole(body.stream, body.size)).toString('utf8'))
  const parts = chooseParts(listed, (await store.parts(id)).parts)
  const total = parts.reduce((n, p) => n + p.size, 0)
  if (total > h.cfg.maxObjectBytes) throw new EntityTooLargeError(`Your proposed upload exceeds the maximum allowed size of ${h.cfg.maxObjectBytes} bytes`)
  const etag = multipartEtag(parts)
  const manifest: Manifest = { namespace: S3_UPLOADS_NAMESPACE, parts: parts.map((p) => ({ key: partKey(id, p.partNumber), size: p.size, md5: p.md5 })) }
  // First the reference (from now on abort and the collector leave the parts to the manifest), then the version.
  await store.putManifestRef(id, { bucket, key, completed: Date.now() }, requestId)
  const meta: ObjectMetadata = { ...record.meta, manifest: { upload: id, size: total, parts: parts.length } }
  // The version keeps S3's multipart ETag as its MD5 (VersionSchema.md5 takes that form), so reads answer what Complete did.
  await h.c.writer.write({ bucket, key, body: Buffer.from(JSON.stringify(manifest)), contentType: record.contentType, md5: etag, meta, w: h.cfg.w, requestId })
  store.remove(bucket, id, requestId).catch((err) => h.c.log.warn({ err: String(err), bucket, uploadId: id }, 'record of a completed upload not deleted yet: the collector will'))
  sendCompleted(ctx, bucket, key, etag)
}

function sendCompleted(ctx: Context, bucket: string, key: string, etag: string): void {
  sendXml(ctx, 'CompleteMultipartUploadResult', { Location: `/${bucket}/${key}`, Bucket: bucket, Key: key, ETag: `"${etag}"` })
}

/**
 * A Complete retried after it succeeded (its answer was lost) finds no upload record: if the key's
 * live version is that upload's manifest, it answers the same success; otherwise NoSuchUpload.
 */
async function answerCompletedAgain(store: UploadStore, ctx: Context, bucket: string, key: string, id: string): Promise<void> {
  const ref = isUploadId(id) ? await store.manifestRef(id, requestIdOf(ctx)) : undefined
  const live = ref && ref.bucket === bucket && ref.key === key ? await store.liveManifest(ref, id, requestIdOf(ctx)) : undefined
  if (!live?.md5) throw noSuchUpload(id)
  sendCompleted(ctx, bucket, key, live.md5)
}

export async function listUploads(h: S3Handler, store: UploadStore, ctx: Context, bucket: string): Promise<void> {
  await h.allow(ctx, { bucket: 'read' }, bucket)
  await h.c.buckets.assertExists(bucket)
  if (ctx.query.delimiter !== undefined) throw notImplemented('ListMultipartUploads with a delimiter')
  const q = (name: string) => (typeof ctx.query[name] === 'string' ? (ctx.query[name] as string) : undefined)
  const prefix = q('prefix') ?? ''
  const keyMarker = q('key-marker') ?? ''
  const idMarker = q('upload-id-marker')
  const maxRaw = q('max-uploads')
  const max = maxRaw !== undefined && /^\d{1,9}$/.test(maxRaw) ? Math.min(Number(maxRaw), 1000) : 1000
  const all: { id: string; key: string; initiated: number; initiator: string | undefined }[] = []
  for await (const r of store.records(bucket)) if (r.record?.key.startsWith(prefix)) all.push({ id: r.id, key: r.record.key, initiated: r.record.initiated, initiator: r.record.initiator })
  all.sort((a, b) => compareKeys(a.key, b.key) || a.initiated - b.initiated || (a.id < b.id ? -1 : 1))
  const after = all.filter((u) => keyMarker === '' || compareKeys(u.key, keyMarker) > 0 || (u.key === keyMarker && idMarker !== undefined && u.id > idMarker))
  const page = after.slice(0, max)
  const truncated = after.length > page.length
  const last = page[page.length - 1]
  sendXml(ctx, 'ListMultipartUploadsResult', {
    Bucket: bucket,
    KeyMarker: keyMarker,
    UploadIdMarker: idMarker ?? '',
    ...(truncated && last ? { NextKeyMarker: last.key, NextUploadIdMarker: last.id } : {}),
    Prefix: prefix,
    MaxUploads: max,
    IsTruncated: truncated,
    Upload: page.map((u) => {
      const who = { ID: u.initiator ?? 'member', DisplayName: u.initiator ?? 'member' }
      return { Key: u.key, UploadId: u.id, Initiator: who, Owner: who, StorageClass: 'STANDARD', Initiated: new Date(u.initiated).toISOString() }
    }),
  })
}
