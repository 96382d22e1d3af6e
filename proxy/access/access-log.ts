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

export function accessLog(log: Logger): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint()
    try {
      await next()
    } finally {
      const m = OBJECT_PATH.exec(ctx.path)
      const done = () =>
        log.info(
          {
            caller: callerName(principalOf(ctx)),
            method: ctx.method,
            path: ctx.path,
            bucket: m?.[1],
            key: decoded(m?.[2]),
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
