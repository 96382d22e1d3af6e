/** S3 PutObject, DeleteObject and CopyObject over the native write path (WriteCoordinator): the same versions, clocks and permissions. */
import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import type { Context } from 'koa'
import { INLINE_MAX_BYTES } from '../../shared/constants.js'
import { EntityTooLargeError, PreconditionFailedError } from '../../shared/errors.js'
import { assertBucketName, assertKey } from '../../shared/names.js'
import { percentDecode } from '../../shared/sigv4/canonical.js'
import { readContextOf, versionId } from '../../shared/vclock/versions.js'
import type { Version } from '../../shared/wire/internal-api.js'
import { copiedMetadata, objectSize } from '../../shared/wire/object-metadata.js'
import { readWhole } from '../coordinator/body-streams.js'
import { evaluatePreconditions, type Preconditions, preconditionsOf } from '../objects/preconditions.js'
import { s3Body } from './auth.js'
import { sendXml } from './buckets.js'
import { md5Tap } from './checksums.js'
import type { S3Handler } from './context.js'
import { invalidArgument, notImplemented, S3Error } from './errors.js'
import { contentTypeOf, metadataOf, refuseUnsupportedHeaders } from './object-headers.js'
import { etagOf, winnerOf } from './winner.js'

const requestIdOf = (ctx: Context) => String(ctx.state.requestId ?? '')

/** A write's If-Match / If-None-Match, checked against a quorum read of the key (not atomic: two racing writes may both pass and become siblings). */
async function checkWriteConditions(h: S3Handler, ctx: Context, bucket: string, key: string, p: Preconditions): Promise<void> {
  if (p.ifMatch === undefined && p.ifNoneMatch === undefined) return
  const outcome = await h.c.reader.read(bucket, key, h.cfg.r, requestIdOf(ctx), false)
  const live = outcome.versions.filter((v) => !v.tombstone)
  const current = live.length === 0 ? null : { etags: live.map(etagOf), lastModified: Math.max(...live.map((v) => v.lastModified)) }
  if (evaluatePreconditions({ ifMatch: p.ifMatch, ifNoneMatch: p.ifNoneMatch }, current, 'write') !== 'ok') {
    throw new PreconditionFailedError('at least one of the preconditions you specified did not hold: nothing was written')
  }
}

export async function putObject(h: S3Handler, ctx: Context, bucket: string, key: string): Promise<void> {
  refuseUnsupportedHeaders(ctx)
  await h.allow(ctx, { bucket: 'write' }, bucket)
  await h.c.buckets.assertExists(bucket)
  const meta = metadataOf(ctx)
  const body = s3Body(ctx, meta)
  if (body.size !== undefined && body.size > h.cfg.maxObjectBytes) throw new EntityTooLargeError(`Your proposed upload exceeds the maximum allowed size of ${h.cfg.maxObjectBytes} bytes`)
  await checkWriteConditions(
    h,
    ctx,
    bucket,
    key,
    preconditionsOf((n) => ctx.get(n)),
  )
  // A small body of declared length is read whole (and checked) before anything is sent to a node.
  const bytes = body.size !== undefined && body.size <= INLINE_MAX_BYTES ? await readWhole(body.stream, body.size) : body.stream
  // The MD5 the body's tap computes is the version's: the write coordinator does not hash the bytes again.
  // `meta` gains the verified checksum as the body ends, before the write is committed (it is read once every byte has passed).
  await h.c.writer.write({ bucket, key, body: bytes, size: body.size, contentType: contentTypeOf(ctx), md5: body.md5Hex, meta, w: h.cfg.w, requestId: requestIdOf(ctx) })
  ctx.set('ETag', `"${body.md5Hex() ?? ''}"`)
  if (body.checksum) ctx.set(body.checksum.header, body.checksum.value)
  ctx.status = 200
  ctx.body = ''
}

/** S3 answers 204 whether or not the key existed; the tombstone covers every live version (siblings included). */
export async function deleteObject(h: S3Handler, ctx: Context, bucket: string, key: string): Promise<void> {
  if (ctx.query.versionId !== undefined && ctx.query.versionId !== 'null') throw notImplemented('deleting an S3 version by versionId')
  await h.allow(ctx, { bucket: 'write' }, bucket)
  await h.c.buckets.assertExists(bucket)
  const p = preconditionsOf((n) => ctx.get(n))
  await removeKey(h, ctx, bucket, key, p)
  ctx.status = 204
  ctx.body = null
}

/** Deletes what the key holds now; false when it held nothing live (nothing written). */
export async function removeKey(h: S3Handler, ctx: Context, bucket: string, key: string, p: Preconditions = {}): Promise<boolean> {
  const outcome = await h.c.reader.read(bucket, key, h.cfg.r, requestIdOf(ctx), false)
  const live = outcome.versions.filter((v) => !v.tombstone)
  if (p.ifMatch !== undefined) {
    const current = live.length === 0 ? null : { etags: live.map(etagOf), lastModified: Math.max(...live.map((v) => v.lastModified)) }
    if (evaluatePreconditions({ ifMatch: p.ifMatch }, current, 'write') !== 'ok') throw new PreconditionFailedError('If-Match did not hold: nothing was deleted')
  }
  if (live.length === 0) return false
  await h.c.writer.write({ bucket, key, body: null, context: readContextOf(outcome.versions), w: h.cfg.w, requestId: requestIdOf(ctx) })
  return true
}

/** x-amz-copy-source: `[/]BUCKET/KEY[?versionId=null]`, URL-encoded. */
export function copySourceOf(raw: string): { bucket: string; key: string } {
  const q = raw.indexOf('?')
  const path = q < 0 ? raw : raw.slice(0, q)
  if (q >= 0) {
    const version = new URLSearchParams(raw.slice(q + 1)).get('versionId')
    if (version !== null && version !== 'null') throw notImplemented('copying an S3 version by versionId')
  }
  const decoded = percentDecode(path).toString('utf8').replace(/^\//, '')
  const slash = decoded.indexOf('/')
  if (slash < 1 || slash === decoded.length - 1) throw invalidArgument('x-amz-copy-source must be BUCKET/KEY')
  const bucket = decoded.slice(0, slash)
  const key = decoded.slice(slash + 1)
  assertBucketName(bucket)
  assertKey(key)
  return { bucket, key }
}

/** The copy-source conditions, as the four preconditions of the source. */
function copySourceConditions(ctx: Context): Preconditions {
  return preconditionsOf((n) => ctx.get(`x-amz-copy-source-${n}`))
}

export async function copyObject(h: S3Handler, ctx: Context, bucket: string, key: string): Promise<void> {
  refuseUnsupportedHeaders(ctx)
  const src = copySourceOf(ctx.get('x-amz-copy-source'))
  const directive = (ctx.get('x-amz-metadata-directive') || 'COPY').toUpperCase()
  if (directive !== 'COPY' && directive !== 'REPLACE') throw invalidArgument('x-amz-metadata-directive must be COPY or REPLACE')
  if (ctx.get('x-amz-tagging-directive') !== '' && ctx.get('x-amz-tagging-directive') !== 'COPY') throw notImplemented('object tags')
  await h.allow(ctx, { bucket: 'read' }, src.bucket)
  await h.allow(ctx, { bucket: 'write' }, bucket)
  await h.c.buckets.assertExists(src.bucket)
  await h.c.buckets.assertExists(bucket)
  if (src.bucket === bucket && src.key === key && directive === 'COPY') {
    throw new S3Error(
      'InvalidRequest',
      400,
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    )
  }
  const replaced = directive === 'REPLACE' ? metadataOf(ctx) : undefined
  const outcome = await h.c.reader.read(src.bucket, src.key, h.cfg.r, requestIdOf(ctx), true)
  const { winner } = winnerOf(outcome, src.bucket, src.key)
  if (evaluatePreconditions(copySourceConditions(ctx), { etags: [etagOf(winner)], lastModified: winner.lastModified }, 'write') !== 'ok') {
    throw new PreconditionFailedError('at least one of the x-amz-copy-source-if-* conditions did not hold: nothing was copied')
  }
  await checkWriteConditions(
    h,
    ctx,
    bucket,
    key,
    preconditionsOf((n) => ctx.get(n)),
  )
  const bytes = await h.c.reader.openVersion(src.bucket, src.key, outcome, versionId(winner.dot), requestIdOf(ctx))
  const contentType = directive === 'REPLACE' ? contentTypeOf(ctx) : winner.contentType
  const { body, md5 } = withMd5(bytes)
  // COPY keeps the source's metadata (its checksum too: the same bytes); REPLACE takes the request's.
  // A copy is written whole, so a multipart source's manifest mark does not come along.
  const meta = replaced ?? copiedMetadata(winner.meta)
  await h.c.writer.write({ bucket, key, body, size: objectSize(winner), contentType, md5, meta, w: h.cfg.w, requestId: requestIdOf(ctx) })
  sendXml(ctx, 'CopyObjectResult', { LastModified: new Date().toISOString(), ETag: `"${md5() ?? etagOf(winner as Version)}"` })
}

/** The bytes to write and their MD5 (known once a stream has ended). */
export function withMd5(bytes: Readable | Buffer): { body: Readable | Buffer; md5: () => string | undefined } {
  if (Buffer.isBuffer(bytes)) {
    const hex = createHash('md5').update(bytes).digest('hex')
    return { body: bytes, md5: () => hex }
  }
  const tap = md5Tap()
  bytes.once('error', (err) => tap.destroy(err))
  return { body: bytes.pipe(tap), md5: () => tap.hex() }
}
