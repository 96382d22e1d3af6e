/** Internal object routes: thin; each parses its inputs with the wire schemas and calls the object service (or the store). */
import type Router from '@koa/router'
import type { Context } from 'koa'
import { RESERVED_NAMESPACES } from '../../shared/constants.js'
import { InvalidRequestError, ReapBlockedError } from '../../shared/errors.js'
import { assertBucketName } from '../../shared/names.js'
import { HEADER_CONTENT_SHA256, HEADER_HINT_FOR, HEADER_UPLOAD, HEADER_VERSION, HEADER_VERSIONS, HEADER_WRITE } from '../../shared/wire/headers.js'
import {
  CoordinateRequestSchema,
  decodeHeaderJson,
  decodeRangeQuery,
  encodeHeaderJson,
  internalRoutes,
  ListQuerySchema,
  type ListAnswer,
  type ReapAnswer,
  ReapRequestSchema,
  type StageAnswer,
  type VersionsAnswer,
  VersionSchema,
  type WriteAnswer,
} from '../../shared/wire/internal-api.js'
import { versionId } from '../../shared/vclock/versions.js'
import type { ClockOffsets } from '../service/clock-offsets.js'
import { assertDigest, signedJson } from './auth.js'
import { assertTarget, type ObjectService, spaceFor } from '../service/object-service.js'
import type { StagingArea } from '../staging/staging-area.js'
import type { BlobFiles, ReceivedBody } from '../store/blobs/blob-files.js'
import type { ObjectStore, Space } from '../store/object-store.js'

export interface ObjectRoutesComponents {
  nodeId: string
  store: ObjectStore
  blobs: BlobFiles
  staging: StagingArea
  service: ObjectService
  /** Senders' clocks (learned by the signature check): write expiries are read with them. */
  offsets: ClockOffsets
  /** Why no tombstone may be reaped now (a node is joining the ring), or undefined: asked by an older member's reaper, which does not know. */
  reapBlocked?: (() => string | undefined) | undefined
}

const UPLOAD_ID_RE = /^[A-Za-z0-9_-]{8,80}$/

function target(ctx: Context): { bucket: string; key: string } {
  const bucket = String(ctx.params.bucket)
  const key = String(ctx.params.key)
  assertTarget(bucket, key)
  return { bucket, key }
}

/** The space a request addresses: hints for another node (header or ?hint_for=), else our own data. */
function spaceOf(ctx: Context, selfId: string): Space {
  return spaceFor(ctx.get(HEADER_HINT_FOR) || (typeof ctx.query.hint_for === 'string' ? ctx.query.hint_for : undefined), selfId)
}

function declaredLength(ctx: Context): number | undefined {
  const h = ctx.get('content-length')
  return h === '' ? undefined : Number(h)
}

/** The request's own body, checked against the digest the sender signed (when it knew the body up front). */
async function received(ctx: Context, c: ObjectRoutesComponents): Promise<ReceivedBody> {
  const body = await c.blobs.receive(ctx.req, declaredLength(ctx))
  try {
    assertDigest(ctx.get(HEADER_CONTENT_SHA256), body.etag)
  } catch (err) {
    await c.blobs.discard(body)
    throw err
  }
  return body
}

/** The body of a write: a staged upload named in a header, or the request's own body. */
async function bodyOf(ctx: Context, c: ObjectRoutesComponents, tombstone: boolean): Promise<ReceivedBody | null> {
  const upload = ctx.get(HEADER_UPLOAD)
  if (upload) return c.staging.take(upload)
  if (tombstone) return null
  return received(ctx, c)
}

export function mountObjectRoutes(router: Router, c: ObjectRoutesComponents): void {
  router.put(internalRoutes.stage.pattern, async (ctx) => {
    const uploadId = String(ctx.params.uploadId)
    if (!UPLOAD_ID_RE.test(uploadId)) throw new InvalidRequestError('bad upload id')
    const body = await received(ctx, c)
    await c.staging.put(uploadId, body)
    ctx.body = { uploadId, size: body.size, etag: body.etag } satisfies StageAnswer
  })

  router.put(internalRoutes.coordinate.pattern, async (ctx) => {
    const { bucket, key } = target(ctx)
    const parsed = decodeHeaderJson(CoordinateRequestSchema, ctx.get(HEADER_WRITE))
    if (!parsed.success) throw new InvalidRequestError(`bad ${HEADER_WRITE} header: ${parsed.error.message}`)
    const body = await bodyOf(ctx, c, parsed.data.tombstone)
    const senderClockOffsetMs = c.offsets.offset(String(ctx.state.member))
    ctx.body = (await c.service.coordinate(bucket, key, parsed.data, body, spaceOf(ctx, c.nodeId), senderClockOffsetMs)) satisfies WriteAnswer
  })

  router.put(internalRoutes.replicate.pattern, async (ctx) => {
    const { bucket, key } = target(ctx)
    const parsed = decodeHeaderJson(VersionSchema, ctx.get(HEADER_VERSION))
    if (!parsed.success) throw new InvalidRequestError(`bad ${HEADER_VERSION} header: ${parsed.error.message}`)
    const body = await bodyOf(ctx, c, parsed.data.tombstone)
    ctx.body = (await c.service.replicate(bucket, key, parsed.data, body, spaceOf(ctx, c.nodeId))) satisfies WriteAnswer
  })

  router.post(internalRoutes.reap.pattern, ...signedJson('4mb'), async (ctx) => {
    const { bucket, key } = target(ctx)
    const req = ReapRequestSchema.safeParse(ctx.request.body)
    if (!req.success) throw new InvalidRequestError(`bad reap request: ${req.error.message}`)
    const blocked = c.reapBlocked?.()
    if (blocked) throw new ReapBlockedError(`not reaped: ${blocked}`)
    ctx.body = { node: c.nodeId, reaped: await c.store.reap(bucket, key, req.data.dots) } satisfies ReapAnswer
  })

  // With ?inline=1, the only live small version's bytes are the body and the versions travel in a header.
  router.get(internalRoutes.versions.pattern, async (ctx) => {
    const { bucket, key } = target(ctx)
    const { answer, data } = await c.service.versions(bucket, key, spaceOf(ctx, c.nodeId), ctx.query.inline === '1')
    if (data) {
      ctx.set(HEADER_VERSIONS, encodeHeaderJson(answer))
      ctx.type = 'application/octet-stream'
      ctx.body = data
    } else ctx.body = answer satisfies VersionsAnswer
  })

  // With ?range=start-end inside the version's bytes: 206 with those only (a Range read of a large object reads no more).
  router.get(internalRoutes.data.pattern, async (ctx) => {
    const { bucket, key } = target(ctx)
    const id = String(ctx.params.versionId)
    const space = spaceOf(ctx, c.nodeId)
    const version = c.store.versions(bucket, key, space).find((v) => versionId(v.dot) === id)
    const asked = decodeRangeQuery(ctx.query.range)
    const range = version && asked && asked.end < version.size ? asked : undefined
    ctx.body = await c.store.openData(bucket, key, id, space, range)
    if (!version) return
    ctx.type = version.contentType
    ctx.length = range ? range.end - range.start + 1 : version.size
    if (range) {
      ctx.status = 206
      ctx.set('content-range', `bytes ${range.start}-${range.end}/${version.size}`)
    }
  })

  router.get(internalRoutes.list.pattern, (ctx) => {
    const bucket = String(ctx.params.bucket)
    if (!RESERVED_NAMESPACES.includes(bucket)) assertBucketName(bucket)
    const q = ListQuerySchema.safeParse(ctx.query)
    if (!q.success) throw new InvalidRequestError(`bad listing query: ${q.error.message}`)
    ctx.body = { node: c.nodeId, ...c.store.list(bucket, q.data) } satisfies ListAnswer
  })
}
