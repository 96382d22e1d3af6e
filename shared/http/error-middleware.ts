/** The one place where thrown errors become HTTP status + SPEC's `{success:false, error}` JSON (mounted first). */
import type { Middleware } from 'koa'
import { toErrorResponse } from '../errors.js'
import type { Logger } from '../log.js'

export function errorMiddleware(log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next()
    } catch (err) {
      const { status, body, unexpected } = toErrorResponse(err)
      if (unexpected) log.error({ err, method: ctx.method, path: ctx.path }, 'unexpected error')
      // A client that went away mid-request needs no answer.
      if (ctx.req.destroyed && ctx.res.headersSent) return
      ctx.status = status
      // 304 carries no body (RFC 9110 15.4.5), only the headers the route set before it threw.
      ctx.body = status === 304 ? null : body
    }
  }
}
