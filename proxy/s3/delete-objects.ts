/** S3 DeleteObjects (POST ?delete): up to 1000 keys in one XML body, each deleted as DeleteObject does, each answered Deleted or Error. */
import type { Context } from 'koa'
import { StoreError } from '../../shared/errors.js'
import { assertKey } from '../../shared/names.js'
import { readWhole } from '../coordinator/body-streams.js'
import { s3Body } from './auth.js'
import { sendXml } from './buckets.js'
import type { S3Handler } from './context.js'
import { malformedXml, S3Error, s3ErrorOf } from './errors.js'
import { removeKey } from './object-write.js'
import { many, parseXmlBody, text, type XmlNode } from './xml.js'

/** S3's limit on keys per DeleteObjects request. */
const MAX_KEYS = 1000
/** 1000 keys of 1024 bytes each, escaped, fit. */
const BODY_MAX_BYTES = 2 * 1024 * 1024
/** Keys deleted at once: each is a quorum read and a write. */
const CONCURRENCY = 8

export async function deleteObjects(h: S3Handler, ctx: Context, bucket: string): Promise<void> {
  await h.allow(ctx, { bucket: 'write' }, bucket)
  await h.c.buckets.assertExists(bucket)
  const body = s3Body(ctx)
  if (body.size === undefined) throw new S3Error('MissingContentLength', 411, 'DeleteObjects needs a Content-Length')
  if (body.size > BODY_MAX_BYTES) throw malformedXml('the body is larger than 2 MiB')
  const doc = parseXmlBody((await readWhole(body.stream, body.size)).toString('utf8'), 'Delete')
  const quiet = text(doc.Quiet).toLowerCase() === 'true'
  const keys = many(doc.Object).map((o) => text((o as Record<string, unknown>)?.Key))
  if (keys.length === 0) throw malformedXml('Delete names no Object')
  if (keys.length > MAX_KEYS) throw malformedXml(`at most ${MAX_KEYS} keys per request`)
  const results: { key: string; error?: { code: string; message: string } }[] = new Array(keys.length)
  let next = 0
  const worker = async () => {
    for (let i = next++; i < keys.length; i = next++) {
      const key = keys[i] as string
      try {
        assertKey(key)
        await removeKey(h, ctx, bucket, key)
        results[i] = { key }
      } catch (err) {
        if (!(err instanceof StoreError)) h.c.log.warn({ err: String(err), bucket, key }, 'DeleteObjects: one key failed')
        const { code, message } = s3ErrorOf(err)
        results[i] = { key, error: { code, message } }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, keys.length) }, worker))
  const answer: XmlNode = {
    Deleted: results.filter((r) => !r.error && !quiet).map((r) => ({ Key: r.key })),
    Error: results.filter((r) => r.error).map((r) => ({ Key: r.key, Code: r.error?.code, Message: r.error?.message })),
  }
  sendXml(ctx, 'DeleteResult', answer)
}
