/** S3 bucket operations: ListBuckets, CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation, over the native API's BucketRegistry. */
import type { Context } from 'koa'
import { BucketAlreadyExistsError } from '../../shared/errors.js'
import { principalOf } from '../access/principal.js'
import { readWhole } from '../coordinator/body-streams.js'
import { s3Body } from './auth.js'
import type { S3Handler } from './context.js'
import { S3Error } from './errors.js'
import { parseXmlBody, text, xmlDocument } from './xml.js'

/** A CreateBucketConfiguration body is a few hundred bytes; more is not one. */
const CREATE_BODY_MAX_BYTES = 64 * 1024
/** Every bucket fits in one ListBuckets answer up to this many. */
const LIST_BUCKETS_MAX = 10_000

export function sendXml(ctx: Context, root: string, body: Parameters<typeof xmlDocument>[1], status = 200): void {
  ctx.status = status
  ctx.type = 'application/xml'
  ctx.body = xmlDocument(root, body)
}

/** The caller as S3's Owner element names it: its key id (and name). */
export function ownerOf(ctx: Context): { ID: string; DisplayName: string } {
  const p = principalOf(ctx)
  return p.kind === 'key' ? { ID: p.key.id, DisplayName: p.key.name } : { ID: 'anonymous', DisplayName: 'anonymous' }
}

export async function listBuckets(h: S3Handler, ctx: Context): Promise<void> {
  await h.allow(ctx, { anyKey: true })
  const p = principalOf(ctx)
  const page = h.c.buckets.page({ prefix: '', after: undefined, limit: LIST_BUCKETS_MAX }, (b) => p.kind === 'key' && h.c.buckets.readable(p.key, b))
  sendXml(ctx, 'ListAllMyBucketsResult', {
    Owner: ownerOf(ctx),
    Buckets: { Bucket: page.buckets.map((b) => ({ Name: b.name, CreationDate: b.created })) },
  })
}

export async function createBucket(h: S3Handler, ctx: Context, bucket: string): Promise<void> {
  await h.allow(ctx, { createBuckets: true })
  await checkLocation(h, ctx)
  const p = principalOf(ctx)
  const owner = p.kind === 'key' ? p.key.id : undefined
  const existing = () => h.c.catalog.policy().bucket(bucket)
  await h.c.catalog.refresh()
  const ownedByCaller = () => {
    const b = existing()
    return b !== undefined && owner !== undefined && b.owner === owner
  }
  if (existing()) throw alreadyThere(bucket, ownedByCaller())
  try {
    await h.c.buckets.create(bucket, h.cfg.w, owner)
  } catch (err) {
    if (err instanceof BucketAlreadyExistsError) throw alreadyThere(bucket, ownedByCaller())
    throw err
  }
  ctx.set('Location', `/${bucket}`)
  ctx.status = 200
  ctx.body = ''
}

function alreadyThere(bucket: string, yours: boolean): S3Error {
  return yours
    ? new S3Error('BucketAlreadyOwnedByYou', 409, `you already own bucket ${bucket}`)
    : new S3Error('BucketAlreadyExists', 409, `the bucket name ${bucket} is not available: another key owns it`)
}

/** A CreateBucketConfiguration may only name this endpoint's region (or none). */
async function checkLocation(h: S3Handler, ctx: Context): Promise<void> {
  if (ctx.get('content-length') === '' && ctx.get('x-amz-decoded-content-length') === '') return
  // Read as any body is: its signed hash or chunk signatures and checksums checked.
  const body = s3Body(ctx)
  if (body.size === 0) return
  if (body.size === undefined || body.size > CREATE_BODY_MAX_BYTES) throw new S3Error('MalformedXML', 400, 'a CreateBucketConfiguration is at most 64 KiB, of a declared length')
  const config = parseXmlBody((await readWhole(body.stream, body.size)).toString('utf8'), 'CreateBucketConfiguration')
  const location = text(config.LocationConstraint)
  if (location !== '' && location !== h.cfg.region) throw new S3Error('InvalidLocationConstraint', 400, `this endpoint serves region ${h.cfg.region}, not ${location}`)
  if (config.Bucket !== undefined || config.Location !== undefined) throw new S3Error('NotImplemented', 501, 'directory buckets are not implemented')
}

export async function deleteBucket(h: S3Handler, ctx: Context, bucket: string): Promise<void> {
  await h.allow(ctx, { bucket: 'owner' }, bucket)
  await h.c.buckets.delete(bucket, false, h.cfg.w)
  ctx.status = 204
  ctx.body = null
}

export async function headBucket(h: S3Handler, ctx: Context, bucket: string): Promise<void> {
  await h.allow(ctx, { bucket: 'read' }, bucket)
  await h.c.buckets.assertExists(bucket)
  ctx.set('x-amz-bucket-region', h.cfg.region)
  ctx.status = 200
}

export async function getBucketLocation(h: S3Handler, ctx: Context, bucket: string): Promise<void> {
  await h.allow(ctx, { bucket: 'read' }, bucket)
  await h.c.buckets.assertExists(bucket)
  // S3 names us-east-1 by an empty LocationConstraint.
  ctx.status = 200
  ctx.type = 'application/xml'
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${h.cfg.region === 'us-east-1' ? '' : h.cfg.region}</LocationConstraint>`
}
