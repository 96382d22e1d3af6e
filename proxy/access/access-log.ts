/** One log line per request: the caller (key id, never a secret), method, bucket, key, status, bytes in and out, time. */
import type { Middleware } from 'koa'
import type { Logger } from '../../shared/log.js'
import { callerName, principalOf } from './principal.js'

const OBJECT_PATH = /^\/buckets\/([^/]+)(?:\/files)?(?:\/(.+))?$/

function decoded(s: string | undefined): string | undefined {
  if (s === undefined) return undefined
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

/** The bucket and key a native API path names (`/buckets/B[/files]/K`). */
function nativeObjectOf(path: string): { bucket?: string | undefined; key?: string | undefined } {
  const m = OBJECT_PATH.exec(path)
  return { bucket: m?.[1], key: decoded(m?.[2]) }
}

/** `objectOf` names the bucket and key of a request's path (the S3 endpoint's differ from the native API's). */
export function accessLog(log: Logger, objectOf: (path: string) => { bucket?: string | undefined; key?: string | undefined } = nativeObjectOf): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint()
    try {
      await next()
    } finally {
      const o = objectOf(ctx.path)
      const done = () =>
        log.info(
          {
            caller: callerName(principalOf(ctx)),
            method: ctx.method,
            path: ctx.path,
            bucket: o.bucket,
            key: o.key,
            status: ctx.status,
            bytesIn: Number(ctx.get('content-length') || 0),
            bytesOut: ctx.response.length ?? 0,
            ms: Number(process.hrtime.bigint() - started) / 1e6,
            requestId: ctx.state.requestId,
          },
          'request',
        )
      // A streamed answer is logged once it has gone out (or failed).
      if (ctx.res.writableFinished || !ctx.body || typeof (ctx.body as { pipe?: unknown }).pipe !== 'function') done()
      else ctx.res.once('close', done)
    }
  }
}
