/** Public file routes: raw PUT (conditional), multipart POST, GET/HEAD with siblings, ranges and conditions, DELETE (both path forms), listing. */
import type { GuardedRouter } from '../access/guarded-router.js'
import type { Context } from 'koa'
import { INLINE_MAX_BYTES } from '../../shared/constants.js'
import { EntityTooLargeError, InvalidRangeError, NoSuchKeyError, NoSuchVersionError, NotModifiedError, PreconditionFailedError } from '../../shared/errors.js'
import { encodeContext } from '../../shared/vclock/context-token.js'
import { clockOf, distinctWrites, type ReadContext, readContextOf, versionId } from '../../shared/vclock/versions.js'
import { HEADER_CONTEXT, HEADER_OBJECT_SHA256, HEADER_SIBLINGS, HEADER_VECTOR_CLOCK, HEADER_VERSION_ID } from '../../shared/wire/headers.js'
import { etagOf, type Version } from '../../shared/wire/internal-api.js'
import { contentRange, parseRange, spanLength, unsatisfiedRange } from '../objects/byte-range.js'
import { type Current, evaluatePreconditions, hasPreconditions, ifRangeHolds, preconditionsOf } from '../objects/preconditions.js'
import type { BucketRegistry } from '../buckets/bucket-registry.js'
import { readWhole } from '../coordinator/body-streams.js'
import type { Lister } from '../coordinator/lister.js'
import type { ReadCoordinator } from '../coordinator/read-coordinator.js'
import type { WriteCoordinator } from '../coordinator/write-coordinator.js'
import { metadataFromHeaders, metadataHeaders } from '../objects/metadata-headers.js'
import { objectSize } from '../../shared/wire/object-metadata.js'
import { inlineParam, setObjectSafetyHeaders } from './browser-safety.js'
import { uploadMultipart } from './multipart-upload.js'
import { answerExplain, type ExplainComponents, explainRequested } from './explain.js'
import { requestBody } from '../access/request-body.js'
import { type ApiConfig, bucketParam, headerContext, keyParam, listParams, pageAnswer, readQuorum, requestId, writeQuorum } from './request-params.js'

export interface FileRoutesComponents extends ExplainComponents {
  buckets: BucketRegistry
  reader: ReadCoordinator
  writer: WriteCoordinator
  lister: Lister
}

function siblingJson(v: Version) {
  return {
    version: versionId(v.dot),
    vector_clock: clockOf(v),
    size: objectSize(v),
    etag: etagOf(v),
    // A multipart object's SHA-256 is its manifest's, not its bytes': none is answered.
    content_sha256: v.meta?.manifest ? undefined : v.etag,
    content_type: v.contentType,
    last_modified: new Date(v.lastModified).toISOString(),
    node: v.node,
  }
}

export function mountFileRoutes(router: GuardedRouter, c: FileRoutesComponents, cfg: ApiConfig): void {
  router.put('/buckets/:bucket/files/*key', { bucket: 'write' }, async (ctx) => {
    const bucket = bucketParam(ctx)
    const key = keyParam(ctx)
    const context = headerContext(ctx, cfg)
    const w = writeQuorum(ctx, cfg)
    if (Number(ctx.get('content-length') || 0) > cfg.maxObjectBytes) throw new EntityTooLargeError(`object is larger than the limit of ${cfg.maxObjectBytes} bytes`)
    await c.buckets.assertExists(bucket)
    const checked = await checkWrite(ctx, bucket, key)
    // A small body of declared length is read whole: no streams in between for the common case.
    const declared = ctx.get('content-length') === '' ? undefined : Number(ctx.get('content-length'))
    const source = requestBody(ctx)
    const body = declared !== undefined && declared <= INLINE_MAX_BYTES ? await readWhole(source, declared) : source
    const outcome = await c.writer.write({
      bucket,
      key,
      body,
      size: declared,
      context: context ?? checked?.context,
      contentType: ctx.get('content-type') || undefined,
      meta: metadataFromHeaders(ctx.headers),
      w,
      requestId: requestId(ctx),
    })
    ctx.status = 201
    ctx.body = { success: true, ...outcome }
  })

  /**
   * A conditional PUT or DELETE (If-Match, If-None-Match; If-Unmodified-Since) is checked against a quorum read
   * of the key, not atomically: two racing `If-None-Match: *` PUTs can both pass and become
   * siblings. Without X-Context the write is then made over that read's context, so it supersedes
   * exactly what the condition saw and a write that raced in between stays beside it as a sibling.
   */
  const checkWrite = async (ctx: Context, bucket: string, key: string): Promise<{ context: ReadContext; live: number } | undefined> => {
    const conditions = preconditionsOf((name) => ctx.get(name))
    if (!hasPreconditions(conditions)) return undefined
    const outcome = await c.reader.read(bucket, key, readQuorum(ctx, cfg), requestId(ctx), false)
    const live = distinctWrites(outcome.versions.filter((v) => !v.tombstone))
    if (evaluatePreconditions(conditions, currentOf(live), 'write') !== 'ok') throw new PreconditionFailedError(`a condition of the request does not hold for ${key}`)
    return { context: readContextOf(outcome.versions), live: live.length }
  }

  router.post('/buckets/:bucket/files', { bucket: 'write' }, async (ctx) => {
    const bucket = bucketParam(ctx)
    const w = writeQuorum(ctx, cfg)
    await c.buckets.assertExists(bucket)
    const results = await uploadMultipart(ctx, { bucket, w, writer: c.writer, cfg })
    ctx.status = 201
    ctx.body = { success: true, bucket, results }
  })

  const read = async (ctx: Context, withBody: boolean) => {
    const bucket = bucketParam(ctx)
    const key = keyParam(ctx)
    const r = readQuorum(ctx, cfg)
    const inline = inlineParam(ctx)
    await c.buckets.assertExists(bucket)
    if (explainRequested(ctx)) return answerExplain(ctx, c, bucket, key)
    for (let attempt = 1; ; attempt++) {
      try {
        return await readOnce(ctx, withBody, bucket, key, r, inline)
      } catch (err) {
        // The version read was superseded on every holder before its bytes were fetched: read again.
        if (!(err instanceof VersionGoneError) || attempt >= 3) throw err
      }
    }
  }
  const readOnce = async (ctx: Context, withBody: boolean, bucket: string, key: string, r: number, inline: boolean) => {
    const outcome = await c.reader.read(bucket, key, r, requestId(ctx), withBody)
    const all = outcome.versions.filter((v) => !v.tombstone)
    // Versions of one retried request count once (the context below still covers them all).
    const live = distinctWrites(all)
    const wanted = typeof ctx.query.version === 'string' ? ctx.query.version : undefined
    const chosen = wanted === undefined ? (live.length === 1 ? live[0] : undefined) : all.find((v) => versionId(v.dot) === wanted)
    if (live.length === 0) throw new NoSuchKeyError(`no file ${key} in bucket ${bucket}`)
    ctx.set(HEADER_CONTEXT, encodeContext(readContextOf(outcome.versions), cfg.secret))
    ctx.set(HEADER_SIBLINGS, String(live.length))
    if (wanted !== undefined && !chosen) throw new NoSuchVersionError(`no current version ${wanted} of ${key}`)
    const conditions = preconditionsOf((name) => ctx.get(name))
    if (!chosen) {
      // Siblings: a condition on a tag holds if any sibling has it; never a 304, the 300 is the news.
      if (evaluatePreconditions(conditions, currentOf(live), 'read') === 'failed') throw new PreconditionFailedError(`a condition of the request does not hold for ${key}`)
      ctx.status = 300
      ctx.body = { success: true, bucket, key, siblings: live.map(siblingJson), context: ctx.response.get(HEADER_CONTEXT) }
      if (!withBody) ctx.body = null
      return
    }
    const etag = etagOf(chosen)
    ctx.set('ETag', `"${etag}"`)
    const size = objectSize(chosen)
    if (!chosen.meta?.manifest) ctx.set(HEADER_OBJECT_SHA256, chosen.etag)
    ctx.set(HEADER_VECTOR_CLOCK, JSON.stringify(clockOf(chosen)))
    ctx.set(HEADER_VERSION_ID, versionId(chosen.dot))
    ctx.set('Last-Modified', new Date(chosen.lastModified).toUTCString())
    ctx.set('Accept-Ranges', 'bytes')
    const verdict = evaluatePreconditions(conditions, currentOf([chosen]), 'read')
    if (verdict === 'failed') throw new PreconditionFailedError(`a condition of the request does not hold for ${key}`)
    if (verdict === 'not-modified') throw new NotModifiedError('not modified')
    const asked = ifRangeHolds(ctx.get('if-range') || undefined, { etag, lastModified: chosen.lastModified }) ? parseRange(ctx.get('range') || undefined, size) : undefined
    if (asked?.kind === 'unsatisfiable') {
      ctx.set('Content-Range', unsatisfiedRange(size))
      throw new InvalidRangeError(`the range is outside the ${size} bytes of ${key}`)
    }
    const span = asked?.kind === 'range' ? { start: asked.start, end: asked.end } : undefined
    ctx.remove('Content-Range') // set by an attempt whose version went away (see read)
    ctx.type = chosen.contentType
    ctx.set(metadataHeaders(chosen.meta))
    // After the stored headers: active content stays a sandboxed download whatever Content-Disposition it was stored with.
    setObjectSafetyHeaders(ctx, key, inline)
    ctx.status = span ? 206 : 200
    if (span) ctx.set('Content-Range', contentRange(span, size))
    if (withBody) {
      try {
        ctx.body = await c.reader.openVersion(bucket, key, outcome, versionId(chosen.dot), requestId(ctx), span)
      } catch (err) {
        if (wanted === undefined && err instanceof NoSuchVersionError) throw new VersionGoneError(err.message)
        throw err
      }
    }
    ctx.length = span ? spanLength(span) : size
  }
  router.get('/buckets/:bucket/files/*key', { bucket: 'read', publicRead: true }, (ctx) => read(ctx, true))
  router.head('/buckets/:bucket/files/*key', { bucket: 'read', publicRead: true }, (ctx) => read(ctx, false))

  const remove = async (ctx: Context) => {
    const bucket = bucketParam(ctx)
    const key = keyParam(ctx)
    const w = writeQuorum(ctx, cfg)
    let context = headerContext(ctx, cfg)
    await c.buckets.assertExists(bucket)
    // A conditional delete (If-Match) deletes what its condition saw, as a conditional PUT writes over it.
    const checked = await checkWrite(ctx, bucket, key)
    if (checked?.live === 0) throw new NoSuchKeyError(`no file ${key} in bucket ${bucket}`)
    context ??= checked?.context
    if (context === undefined) {
      // No context: delete whatever is visible now, on every replica, not only what the coordinator holds.
      const outcome = await c.reader.read(bucket, key, readQuorum(ctx, cfg), requestId(ctx), false)
      if (!outcome.versions.some((v) => !v.tombstone)) throw new NoSuchKeyError(`no file ${key} in bucket ${bucket}`)
      context = readContextOf(outcome.versions)
    }
    const outcome = await c.writer.write({ bucket, key, body: null, context, w, requestId: requestId(ctx) })
    ctx.body = { success: true, deleted: true, ...outcome }
  }
  router.delete('/buckets/:bucket/files/*key', { bucket: 'write' }, remove)
  router.delete('/buckets/:bucket/*key', { bucket: 'write' }, remove)

  router.get('/buckets/:bucket/files', { bucket: 'read' }, async (ctx) => {
    const bucket = bucketParam(ctx)
    const q = listParams(ctx)
    await c.buckets.assertExists(bucket)
    const page = await c.lister.page(bucket, q)
    ctx.body = {
      success: true,
      bucket,
      files: page.keys.map(({ key, live }) => {
        const newest = live.reduce((a, b) => (b.lastModified > a.lastModified ? b : a))
        return { key, size: objectSize(newest), etag: etagOf(newest), last_modified: new Date(newest.lastModified).toISOString(), siblings: distinctWrites(live).length }
      }),
      ...pageAnswer(page.next),
    }
  })
}

/** What a key holds, for its conditions: the tags of its live versions and the newest time; null when none is live. */
function currentOf(live: readonly Version[]): Current | null {
  if (live.length === 0) return null
  return { etags: live.map(etagOf), lastModified: Math.max(...live.map((v) => v.lastModified)) }
}

/** Internal to a read: the chosen version vanished before its bytes were fetched. */
class VersionGoneError extends Error {}
