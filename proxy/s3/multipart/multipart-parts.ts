/** S3 multipart upload, first half: CreateMultipartUpload, UploadPart, UploadPartCopy, AbortMultipartUpload, ListParts. */
import type { Context } from 'koa'
import { INLINE_MAX_BYTES } from '../../../shared/constants.js'
import { EntityTooLargeError, InvalidRangeError, PreconditionFailedError } from '../../../shared/errors.js'
import { versionId } from '../../../shared/vclock/versions.js'
import { objectSize } from '../../../shared/wire/object-metadata.js'
import { principalOf } from '../../access/principal.js'
import { readWhole } from '../../coordinator/body-streams.js'
import { parseRange, spanLength } from '../../objects/byte-range.js'
import { evaluatePreconditions, preconditionsOf } from '../../objects/preconditions.js'
import { s3Body } from '../auth.js'
import { sendXml } from '../buckets.js'
import type { S3Handler } from '../context.js'
import { invalidArgument, S3Error } from '../errors.js'
import { contentTypeOf, metadataOf, refuseUnsupportedHeaders } from '../object-headers.js'
import { copySourceOf, withMd5 } from '../object-write.js'
import { etagOf, winnerOf } from '../winner.js'
import { newUploadId, type UploadRecord, type UploadStore } from './upload-store.js'

/** S3's limits: part numbers 1..10,000, a part at most 5 GiB. */
export const MAX_PARTS = 10_000
export const MAX_PART_BYTES = 5 * 1024 ** 3

const requestIdOf = (ctx: Context) => String(ctx.state.requestId ?? '')

export const noSuchUpload = (id: string) => new S3Error('NoSuchUpload', 404, `the upload ${id} does not exist: it may have been completed, aborted or collected`)

/** The upload a request names (?uploadId=), which must be for this bucket and key. */
export async function uploadOf(store: UploadStore, ctx: Context, bucket: string, key: string): Promise<{ id: string; record: UploadRecord }> {
  const id = typeof ctx.query.uploadId === 'string' ? ctx.query.uploadId : ''
  const record = await store.record(bucket, id, requestIdOf(ctx))
  if (!record || record.key !== key) throw noSuchUpload(id)
  return { id, record }
}

function partNumberOf(ctx: Context): number {
  const raw = ctx.query.partNumber
  const n = typeof raw === 'string' && /^\d{1,5}$/.test(raw) ? Number(raw) : 0
  if (n < 1 || n > MAX_PARTS) throw invalidArgument(`Part number must be an integer between 1 and ${MAX_PARTS}, inclusive`)
  return n
}

export async function createUpload(h: S3Handler, store: UploadStore, ctx: Context, bucket: string, key: string): Promise<void> {
  refuseUnsupportedHeaders(ctx)
  await h.allow(ctx, { bucket: 'write' }, bucket)
  await h.c.buckets.assertExists(bucket)
  const meta = metadataOf(ctx)
  const p = principalOf(ctx)
  const id = newUploadId()
  const record = {
    bucket,
    key,
    initiated: Date.now(),
    contentType: contentTypeOf(ctx),
    initiator: p.kind === 'key' ? p.key.id : undefined,
    incarnation: h.c.catalog.policy().bucket(bucket)?.incarnation,
    ...(Object.keys(meta).length > 0 ? { meta } : {}),
  }
  await store.putRecord(id, record, requestIdOf(ctx))
  sendXml(ctx, 'InitiateMultipartUploadResult', { Bucket: bucket, Key: key, UploadId: id })
}

export async function uploadPart(h: S3Handler, store: UploadStore, ctx: Context, bucket: string, key: string): Promise<void> {
  await h.allow(ctx, { bucket: 'write' }, bucket)
  const n = partNumberOf(ctx)
  const { id } = await uploadOf(store, ctx, bucket, key)
  const body = s3Body(ctx)
  if (body.size !== undefined && body.size > Math.min(MAX_PART_BYTES, h.cfg.maxObjectBytes)) throw new EntityTooLargeError(`a part is at most ${Math.min(MAX_PART_BYTES, h.cfg.maxObjectBytes)} bytes`)
  const bytes = body.size !== undefined && body.size <= INLINE_MAX_BYTES ? await readWhole(body.stream, body.size) : body.stream
  await store.putPart(id, n, bytes, body.size, body.md5Hex, requestIdOf(ctx))
  ctx.set('ETag', `"${body.md5Hex() ?? ''}"`)
  if (body.checksum) ctx.set(body.checksum.header, body.checksum.value)
  ctx.status = 200
  ctx.body = ''
}

export async function uploadPartCopy(h: S3Handler, store: UploadStore, ctx: Context, bucket: string, key: string): Promise<void> {
  const src = copySourceOf(ctx.get('x-amz-copy-source'))
  await h.allow(ctx, { bucket: 'read' }, src.bucket)
  await h.allow(ctx, { bucket: 'write' }, bucket)
  const n = partNumberOf(ctx)
  const { id } = await uploadOf(store, ctx, bucket, key)
  await h.c.buckets.assertExists(src.bucket)
  const outcome = await h.c.reader.read(src.bucket, src.key, h.cfg.r, requestIdOf(ctx), true)
  const { winner } = winnerOf(outcome, src.bucket, src.key)
  if (
    evaluatePreconditions(
      preconditionsOf((name) => ctx.get(`x-amz-copy-source-${name}`)),
      { etags: [etagOf(winner)], lastModified: winner.lastModified },
      'write',
    ) !== 'ok'
  ) {
    throw new PreconditionFailedError('at least one of the x-amz-copy-source-if-* conditions did not hold')
  }
  const rangeHeader = ctx.get('x-amz-copy-source-range')
  const sourceSize = objectSize(winner)
  const range = rangeHeader === '' ? { kind: 'none' as const } : parseRange(rangeHeader, sourceSize)
  if (rangeHeader !== '' && range.kind !== 'range') throw new InvalidRangeError(`x-amz-copy-source-range ${rangeHeader} is not a satisfiable bytes=first-last range of the ${sourceSize}-byte source`)
  const size = range.kind === 'range' ? spanLength(range) : sourceSize
  if (size > MAX_PART_BYTES) throw new EntityTooLargeError(`a part is at most ${MAX_PART_BYTES} bytes`)
  const span = range.kind === 'range' ? { start: range.start, end: range.end } : undefined
  const bytes = await h.c.reader.openVersion(src.bucket, src.key, outcome, versionId(winner.dot), requestIdOf(ctx), span)
  const { body, md5 } = withMd5(bytes)
  await store.putPart(id, n, body, size, md5, requestIdOf(ctx))
  sendXml(ctx, 'CopyPartResult', { LastModified: new Date().toISOString(), ETag: `"${md5() ?? ''}"` })
}

export async function abortUpload(h: S3Handler, store: UploadStore, ctx: Context, bucket: string, key: string): Promise<void> {
  await h.allow(ctx, { bucket: 'write' }, bucket)
  const { id } = await uploadOf(store, ctx, bucket, key)
  await store.remove(bucket, id, requestIdOf(ctx))
  ctx.status = 204
  ctx.body = null
}

export async function listParts(h: S3Handler, store: UploadStore, ctx: Context, bucket: string, key: string): Promise<void> {
  await h.allow(ctx, { bucket: 'read' }, bucket)
  const { id, record } = await uploadOf(store, ctx, bucket, key)
  const markerRaw = ctx.query['part-number-marker']
  const marker = typeof markerRaw === 'string' && /^\d{1,5}$/.test(markerRaw) ? Number(markerRaw) : 0
  const maxRaw = ctx.query['max-parts']
  const max = typeof maxRaw === 'string' && /^\d{1,9}$/.test(maxRaw) ? Math.min(Number(maxRaw), 1000) : 1000
  const { parts, truncated } = await store.parts(id, marker, max)
  const owner = { ID: record.initiator ?? 'member', DisplayName: record.initiator ?? 'member' }
  sendXml(ctx, 'ListPartsResult', {
    Bucket: bucket,
    Key: key,
    UploadId: id,
    Initiator: owner,
    Owner: owner,
    StorageClass: 'STANDARD',
    PartNumberMarker: marker,
    ...(truncated ? { NextPartNumberMarker: parts[parts.length - 1]?.partNumber } : {}),
    MaxParts: max,
    IsTruncated: truncated,
    Part: parts.map((p) => ({ PartNumber: p.partNumber, LastModified: new Date(p.lastModified).toISOString(), ETag: `"${p.md5}"`, Size: p.size })),
  })
}
