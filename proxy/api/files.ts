/** Public file routes: raw PUT, multipart POST, GET/HEAD with siblings, DELETE (both path forms), listing. */
import type { GuardedRouter } from '../access/guarded-router.js'
import type { Context } from 'koa'
import { INLINE_MAX_BYTES } from '../../shared/constants.js'
import { EntityTooLargeError, NoSuchKeyError, NoSuchVersionError } from '../../shared/errors.js'
import { encodeContext } from '../../shared/vclock/context-token.js'
import { clockOf, distinctWrites, readContextOf, versionId } from '../../shared/vclock/versions.js'
import { HEADER_CONTEXT, HEADER_SIBLINGS, HEADER_VECTOR_CLOCK, HEADER_VERSION_ID } from '../../shared/wire/headers.js'
import type { Version } from '../../shared/wire/internal-api.js'
import type { BucketRegistry } from '../buckets/bucket-registry.js'
import { readWhole } from '../coordinator/body-streams.js'
import type { Lister } from '../coordinator/lister.js'
import type { ReadCoordinator } from '../coordinator/read-coordinator.js'
import type { WriteCoordinator } from '../coordinator/write-coordinator.js'
import { inlineParam, setObjectSafetyHeaders } from './browser-safety.js'
import { uploadMultipart } from './multipart-upload.js'
import { requestBody } from '../access/request-body.js'
import { type ApiConfig, bucketParam, headerContext, keyParam, listParams, pageAnswer, readQuorum, requestId, writeQuorum } from './request-params.js'

export interface FileRoutesComponents {
  buckets: BucketRegistry
  reader: ReadCoordinator
  writer: WriteCoordinator
  lister: Lister
}

function siblingJson(v: Version) {
  return {
    version: versionId(v.dot),
    vector_clock: clockOf(v),
    size: v.size,
    etag: v.etag,
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
    // A small body of declared length is read whole: no streams in between for the common case.
    const declared = ctx.get('content-length') === '' ? undefined : Number(ctx.get('content-length'))
    const source = requestBody(ctx)
    const body = declared !== undefined && declared <= INLINE_MAX_BYTES ? await readWhole(source, declared) : source
    const outcome = await c.writer.write({ bucket, key, body, size: declared, context, contentType: ctx.get('content-type') || undefined, w, requestId: requestId(ctx) })
    ctx.status = 201
    ctx.body = { success: true, ...outcome }
  })

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
    if (!chosen) {
      ctx.status = 300
      ctx.body = { success: true, bucket, key, siblings: live.map(siblingJson), context: ctx.response.get(HEADER_CONTEXT) }
      if (!withBody) ctx.body = null
      return
    }
    ctx.set('ETag', `"${chosen.etag}"`)
    ctx.set(HEADER_VECTOR_CLOCK, JSON.stringify(clockOf(chosen)))
    ctx.set(HEADER_VERSION_ID, versionId(chosen.dot))
    ctx.set('Last-Modified', new Date(chosen.lastModified).toUTCString())
    ctx.type = chosen.contentType
    setObjectSafetyHeaders(ctx, key, inline)
    ctx.status = 200
    if (withBody) {
      try {
        ctx.body = await c.reader.openVersion(bucket, key, outcome, versionId(chosen.dot), requestId(ctx))
      } catch (err) {
        if (wanted === undefined && err instanceof NoSuchVersionError) throw new VersionGoneError(err.message)
        throw err
      }
    }
    ctx.length = chosen.size
  }
  router.get('/buckets/:bucket/files/*key', { bucket: 'read', publicRead: true }, (ctx) => read(ctx, true))
  router.head('/buckets/:bucket/files/*key', { bucket: 'read', publicRead: true }, (ctx) => read(ctx, false))

  const remove = async (ctx: Context) => {
    const bucket = bucketParam(ctx)
    const key = keyParam(ctx)
    const w = writeQuorum(ctx, cfg)
    let context = headerContext(ctx, cfg)
    await c.buckets.assertExists(bucket)
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
        return { key, size: newest.size, etag: newest.etag, last_modified: new Date(newest.lastModified).toISOString(), siblings: distinctWrites(live).length }
      }),
      ...pageAnswer(page.next),
    }
  })
}

/** Internal to a read: the chosen version vanished before its bytes were fetched. */
class VersionGoneError extends Error {}
