/**
 * Seed 002's key-value API on the proxy, with its exact request and answer shapes:
 * PUT /set, POST /fetch, GET /fetch (streamed, paginated), POST /query. A bad key or value fails
 * that key, never the batch; batches are bounded (413 past the bound).
 */
import { Readable } from 'node:stream'
import type { GuardedRouter } from '../access/guarded-router.js'
import type { Context } from 'koa'
import { EntityTooLargeError, InvalidArgumentError, InvalidRequestError } from '../../shared/errors.js'
import { requestBody } from '../access/request-body.js'
import { contextFrom, type ApiConfig } from '../api/request-params.js'
import { decodeDatum, type Encoded, storageKey } from './kv-codec.js'
import { type FetchedPair, type KvStore, mapBounded, reasonOf } from './kv-store.js'

export interface KvLimits {
  maxBatchKeys: number
  maxBatchBytes: number
}

/** Read a JSON array body of at most `maxBytes` (whatever its content type: seed clients often send none). */
async function readBatch(ctx: Context, limits: KvLimits): Promise<unknown[]> {
  if (Number(ctx.get('content-length') || 0) > limits.maxBatchBytes) throw new EntityTooLargeError(`batches are limited to ${limits.maxBatchBytes} bytes`)
  const chunks: Buffer[] = []
  let size = 0
  for await (const c of requestBody(ctx) as AsyncIterable<Buffer>) {
    size += c.length
    if (size > limits.maxBatchBytes) throw new EntityTooLargeError(`batches are limited to ${limits.maxBatchBytes} bytes`)
    chunks.push(c)
  }
  let body: unknown
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new InvalidRequestError('the body is not valid JSON')
  }
  if (!Array.isArray(body)) throw new InvalidRequestError('the body must be a JSON array')
  if (body.length > limits.maxBatchKeys) throw new EntityTooLargeError(`batches are limited to ${limits.maxBatchKeys} keys`)
  return body
}

/** A requested key as the client sent it, and its storage key (or why it has none). */
function resolveKey(raw: unknown): { key: Encoded | unknown; storage?: string; reason?: string } {
  const d = decodeDatum(raw)
  if (!d.ok) return { key: raw, reason: d.reason }
  try {
    return { key: raw, storage: storageKey(d.encoding, d.bytes) }
  } catch (err) {
    return { key: raw, reason: reasonOf(err) }
  }
}

export function mountKvRoutes(router: GuardedRouter, kv: KvStore, cfg: ApiConfig & { concurrency: number }, limits: KvLimits): void {
  router.put('/set', { kv: 'write' }, async (ctx) => {
    const batch = await readBatch(ctx, limits)
    const failed: { key: unknown; reason: string }[] = []
    let added = 0
    await mapBounded(batch, cfg.concurrency, async (item) => {
      const rec = (typeof item === 'object' && item !== null ? item : {}) as { key?: unknown; value?: unknown; context?: unknown }
      const k = resolveKey(rec.key)
      const v = decodeDatum(rec.value)
      if (!k.storage) return void failed.push({ key: rec.key ?? null, reason: `key: ${k.reason}` })
      if (!v.ok) return void failed.push({ key: rec.key, reason: `value: ${v.reason}` })
      try {
        const context = typeof rec.context === 'string' ? contextFrom(rec.context, cfg) : undefined
        await kv.set(k.storage, { encoding: v.encoding, bytes: v.bytes }, context)
        added++
      } catch (err) {
        failed.push({ key: rec.key, reason: reasonOf(err) })
      }
    })
    ctx.body = [{ keys_added: added, keys_failed: failed }]
  })

  router.post('/fetch', { kv: 'read' }, async (ctx) => {
    const batch = await readBatch(ctx, limits)
    ctx.body = await mapBounded(batch, cfg.concurrency, async (raw): Promise<FetchedPair | { key: unknown; value: null; error: string }> => {
      const k = resolveKey(raw)
      if (!k.storage) return { key: raw, value: null, error: k.reason ?? 'bad key' }
      try {
        return await kv.fetch(raw as Encoded, k.storage)
      } catch (err) {
        return { key: raw, value: null, error: reasonOf(err) }
      }
    })
  })

  router.post('/query', { kv: 'read' }, async (ctx) => {
    const batch = await readBatch(ctx, limits)
    ctx.body = await mapBounded(batch, cfg.concurrency, async (raw) => {
      const k = resolveKey(raw)
      if (!k.storage) return { key: raw, value: false, error: k.reason }
      try {
        return { key: raw, value: await kv.exists(k.storage) }
      } catch (err) {
        return { key: raw, value: false, error: reasonOf(err) }
      }
    })
  })

  /** Every pair: with ?limit= one page (next page's cursor in X-Next-Cursor), else the whole store streamed page by page. */
  router.get('/fetch', { kv: 'read' }, async (ctx) => {
    const cursor = typeof ctx.query.cursor === 'string' && ctx.query.cursor !== '' ? Buffer.from(ctx.query.cursor, 'base64url').toString('utf8') : undefined
    if (ctx.query.limit !== undefined) {
      const limit = Number(ctx.query.limit)
      if (!Number.isInteger(limit) || limit < 1 || limit > limits.maxBatchKeys) throw new InvalidArgumentError(`?limit= must be an integer from 1 to ${limits.maxBatchKeys}`)
      const page = await kv.page(cursor, limit)
      if (page.next !== undefined) ctx.set('X-Next-Cursor', Buffer.from(page.next).toString('base64url'))
      ctx.body = page.pairs
      return
    }
    ctx.type = 'application/json'
    ctx.body = Readable.from(streamAll(kv, cursor))
  })
}

async function* streamAll(kv: KvStore, start: string | undefined): AsyncGenerator<string> {
  yield '['
  let first = true
  let after = start
  do {
    const page = await kv.page(after, 200)
    for (const p of page.pairs) {
      yield `${first ? '' : ','}${JSON.stringify(p)}`
      first = false
    }
    after = page.next
  } while (after !== undefined)
  yield ']'
}
