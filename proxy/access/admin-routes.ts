/** The admin API of shared/wire/access-api.ts: keys (admins, or a member signature), a bucket's grants and public flag (its owner, or admins), the key-value API's grants (admins). */
import { createHash } from 'node:crypto'
import type { Context } from 'koa'
import type { z } from 'zod'
import { BadDigestError, EntityTooLargeError, InvalidArgumentError, InvalidRequestError } from '../../shared/errors.js'
import { AccessKeyIdSchema, CreateKeyRequestSchema, GrantChangeSchema, PublicChangeSchema } from '../../shared/wire/access-api.js'
import { KV_GRANTS } from '../../shared/wire/access-records.js'
import { HEADER_CONTENT_SHA256 } from '../../shared/wire/headers.js'
import { bucketParam } from '../api/request-params.js'
import type { AccessAdmin } from './access-admin.js'
import type { AccessCatalog } from './catalog.js'
import type { GuardedRouter } from './guarded-router.js'
import { principalOf } from './principal.js'
import { requestBody } from './request-body.js'

const MAX_BODY = 16 * 1024

/** A small JSON body, parsed with `schema` (400 naming the defect); a member-signed body must match its signed digest. */
async function jsonBody<S extends z.ZodType>(ctx: Context, schema: S): Promise<z.output<S>> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const c of requestBody(ctx) as AsyncIterable<Buffer>) {
    size += c.length
    if (size > MAX_BODY) throw new EntityTooLargeError(`admin requests are limited to ${MAX_BODY} bytes`)
    chunks.push(c)
  }
  const raw = Buffer.concat(chunks)
  if (principalOf(ctx).kind === 'member' && createHash('sha256').update(raw).digest('hex') !== ctx.get(HEADER_CONTENT_SHA256)) throw new BadDigestError('the body does not match its signed digest')
  let json: unknown
  try {
    json = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'))
  } catch {
    throw new InvalidRequestError('the body is not valid JSON')
  }
  const parsed = schema.safeParse(json)
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '))
  return parsed.data
}

function keyIdParam(ctx: Context): string {
  const parsed = AccessKeyIdSchema.safeParse(ctx.params.id)
  if (!parsed.success) throw new InvalidArgumentError('access key ids are DK followed by 18 of A-Z0-9')
  return parsed.data
}

export function mountAdminRoutes(router: GuardedRouter, admin: AccessAdmin, catalog: AccessCatalog): void {
  router.post('/admin/keys', { admin: true }, async (ctx) => {
    const created = await admin.createKey(await jsonBody(ctx, CreateKeyRequestSchema))
    ctx.status = 201
    ctx.body = { success: true, ...created }
  })
  router.get('/admin/keys', { admin: true }, (ctx) => {
    ctx.body = { success: true, keys: admin.listKeys() }
  })
  router.delete('/admin/keys/:id', { admin: true }, async (ctx) => {
    const id = keyIdParam(ctx)
    await admin.deleteKey(id)
    ctx.body = { success: true, deleted: id }
  })
  router.post('/admin/keys/:id/rotate', { admin: true }, async (ctx) => {
    ctx.body = { success: true, ...(await admin.rotateKey(keyIdParam(ctx))) }
  })

  router.get('/admin/buckets/:bucket', { bucket: 'owner', member: true }, (ctx) => {
    const bucket = bucketParam(ctx)
    const policy = catalog.policy()
    const b = policy.bucket(bucket)
    ctx.body = { success: true, bucket, created: b?.created ?? '', owner: b?.owner ?? null, public: policy.isPublic(bucket), grants: policy.grantsOf(bucket) }
  })
  router.post('/admin/buckets/:bucket/grants/:id', { bucket: 'owner', member: true }, async (ctx) => {
    const bucket = bucketParam(ctx)
    const grant = await admin.changeGrant(bucket, keyIdParam(ctx), await jsonBody(ctx, GrantChangeSchema))
    ctx.body = { success: true, bucket, grant }
  })
  router.put('/admin/buckets/:bucket/public', { bucket: 'owner', member: true }, async (ctx) => {
    const bucket = bucketParam(ctx)
    const { public: on } = await jsonBody(ctx, PublicChangeSchema)
    await admin.setPublic(bucket, on)
    ctx.body = { success: true, bucket, public: on }
  })

  router.get('/admin/kv', { admin: true }, (ctx) => {
    ctx.body = { success: true, grants: catalog.policy().grantsOf(KV_GRANTS) }
  })
  router.post('/admin/kv/grants/:id', { admin: true }, async (ctx) => {
    const grant = await admin.changeGrant(KV_GRANTS, keyIdParam(ctx), await jsonBody(ctx, GrantChangeSchema))
    ctx.body = { success: true, bucket: KV_GRANTS, grant }
  })
}
