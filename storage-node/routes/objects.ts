/** Internal object routes: thin; each parses its inputs with the wire schemas and calls the store. */
import type Router from '@koa/router'
import { koaBody } from 'koa-body'
import type { Context } from 'koa'
import { INLINE_MAX_BYTES, RESERVED_NAMESPACES } from '../../shared/constants.js'
import { BadDigestError, CorruptReplicaError, InvalidRequestError } from '../../shared/errors.js'
import { assertBucketName, assertKey } from '../../shared/names.js'
import { NODE_ID_RE } from '../../shared/names.js'
import { HEADER_HINT_FOR, HEADER_UPLOAD, HEADER_VERSION, HEADER_VERSIONS, HEADER_WRITE } from '../../shared/wire/headers.js'
import {
  CoordinateRequestSchema,
  decodeHeaderJson,
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
import type { StagingArea } from '../staging/staging-area.js'
import type { BlobFiles, ReceivedBody } from '../store/blob-files.js'
import type { ObjectStore, Space } from '../store/object-store.js'

export interface ObjectRoutesComponents {
  nodeId: string
  store: ObjectStore
  blobs: BlobFiles
  staging: StagingArea
}

const UPLOAD_ID_RE = /^[A-Za-z0-9_-]{8,80}$/

function target(ctx: Context): { bucket: string; key: string } {
  const bucket = String(ctx.params.bucket)
  const key = String(ctx.params.key)
  if (!bucket.startsWith('.')) assertBucketName(bucket)
  else if (!RESERVED_NAMESPACES.includes(bucket)) throw new InvalidRequestError(`unknown reserved namespace ${bucket}`)
  assertKey(key)
  return { bucket, key }
}

/** The space a request addresses: hints for another node (header or ?hint_for=), else our own data. */
function spaceOf(ctx: Context, selfId: string): Space {
  const target = ctx.get(HEADER_HINT_FOR) || (typeof ctx.query.hint_for === 'string' ? ctx.query.hint_for : '')
  if (!target) return { kind: 'own' }
  if (!NODE_ID_RE.test(target)) throw new InvalidRequestError('bad hint target')
  return target === selfId ? { kind: 'own' } : { kind: 'hint', target }
}

function declaredLength(ctx: Context): number | undefined {
  const h = ctx.get('content-length')
  return h === '' ? undefined : Number(h)
}

/** The body of a write: a staged upload named in a header, or the request's own body. */
async function bodyOf(ctx: Context, c: ObjectRoutesComponents, tombstone: boolean): Promise<ReceivedBody | null> {
  const upload = ctx.get(HEADER_UPLOAD)
  if (upload) return c.staging.take(upload)
  if (tombstone) return null
  return c.blobs.receive(ctx.req, declaredLength(ctx))
}

export function mountObjectRoutes(router: Router, c: ObjectRoutesComponents): void {
  router.put(internalRoutes.stage.pattern, async (ctx) => {
    const uploadId = String(ctx.params.uploadId)
    if (!UPLOAD_ID_RE.test(uploadId)) throw new InvalidRequestError('bad upload id')
    const body = await c.blobs.receive(ctx.req, declaredLength(ctx))
    await c.staging.put(uploadId, body)
    ctx.body = { uploadId, size: body.size, etag: body.etag } satisfies StageAnswer
  })

  router.put(internalRoutes.coordinate.pattern, async (ctx) => {
    const { bucket, key } = target(ctx)
    const parsed = decodeHeaderJson(CoordinateRequestSchema, ctx.get(HEADER_WRITE))
    if (!parsed.success) throw new InvalidRequestError(`bad ${HEADER_WRITE} header: ${parsed.error.message}`)
    const body = await bodyOf(ctx, c, parsed.data.tombstone)
    const result = await c.store.coordinate(bucket, key, parsed.data, parsed.data.tombstone ? null : body, spaceOf(ctx, c.nodeId))
    ctx.body = { node: c.nodeId, ...result } satisfies WriteAnswer
  })

  router.put(internalRoutes.replicate.pattern, async (ctx) => {
    const { bucket, key } = target(ctx)
    const parsed = decodeHeaderJson(VersionSchema, ctx.get(HEADER_VERSION))
    if (!parsed.success) throw new InvalidRequestError(`bad ${HEADER_VERSION} header: ${parsed.error.message}`)
    const version = parsed.data
    const body = await bodyOf(ctx, c, version.tombstone)
    if (body && (body.etag !== version.etag || body.size !== version.size)) {
      await c.blobs.discard(body)
      throw new BadDigestError('received bytes do not match the version (size or SHA-256)')
    }
    const result = await c.store.replicate(bucket, key, version, version.tombstone ? null : body, spaceOf(ctx, c.nodeId))
    ctx.body = { node: c.nodeId, ...result } satisfies WriteAnswer
  })

  router.post(internalRoutes.reap.pattern, koaBody({ jsonLimit: '4mb', text: false, urlencoded: false }), async (ctx) => {
    const { bucket, key } = target(ctx)
    const req = ReapRequestSchema.safeParse(ctx.request.body)
    if (!req.success) throw new InvalidRequestError(`bad reap request: ${req.error.message}`)
    ctx.body = { node: c.nodeId, reaped: await c.store.reap(bucket, key, req.data.dots) } satisfies ReapAnswer
  })

  // With ?inline=1 and exactly one live version of at most INLINE_MAX_BYTES, the answer's body is its
  // bytes and the versions travel in a header: a quorum read then needs no second request for the data.
  router.get(internalRoutes.versions.pattern, async (ctx) => {
    const { bucket, key } = target(ctx)
    const space = spaceOf(ctx, c.nodeId)
    const answer = { node: c.nodeId, versions: c.store.versions(bucket, key, space) } satisfies VersionsAnswer
    const live = answer.versions.filter((v) => !v.tombstone)
    const only = live[0]
    if (ctx.query.inline === '1' && live.length === 1 && only && only.size <= INLINE_MAX_BYTES) {
      try {
        const chunks: Buffer[] = []
        for await (const chunk of (await c.store.openData(bucket, key, versionId(only.dot), space)) as AsyncIterable<Buffer>) chunks.push(chunk)
        ctx.set(HEADER_VERSIONS, encodeHeaderJson(answer))
        ctx.type = 'application/octet-stream'
        ctx.body = Buffer.concat(chunks)
        return
      } catch (err) {
        if (!(err instanceof CorruptReplicaError)) throw err
        // The copy was quarantined: answer what is left, so the reader repairs this replica.
        ctx.body = { node: c.nodeId, versions: c.store.versions(bucket, key, space) } satisfies VersionsAnswer
        return
      }
    }
    ctx.body = answer
  })

  router.get(internalRoutes.data.pattern, async (ctx) => {
    const { bucket, key } = target(ctx)
    const id = String(ctx.params.versionId)
    const space = spaceOf(ctx, c.nodeId)
    const version = c.store.versions(bucket, key, space).find((v) => versionId(v.dot) === id)
    ctx.body = await c.store.openData(bucket, key, id, space)
    if (version) {
      ctx.length = version.size
      ctx.type = version.contentType
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

