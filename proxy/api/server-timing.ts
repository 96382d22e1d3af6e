/**
 * `Server-Timing` on every answer of the native API (total, quorum wait, each replica call with its
 * node and status; shared/http/request-timing.ts), and with `?trace=1` the same as JSON in the
 * body of a write's answer (`trace`, shared/wire/trace.ts).
 */
import type { Middleware } from 'koa'
import { InvalidArgumentError } from '../../shared/errors.js'
import { RequestTiming, withTiming } from '../../shared/http/request-timing.js'

const WRITES = new Set(['PUT', 'POST', 'DELETE'])

/** Mounted outside the error middleware, so that error answers carry the header too. */
export function serverTiming(): Middleware {
  return async (ctx, next) => {
    const timing = new RequestTiming()
    await withTiming(timing, next)
    if (ctx.query.trace === '1' && WRITES.has(ctx.method) && isJsonObject(ctx.body)) ctx.body = { ...ctx.body, trace: timing.toTrace() }
    ctx.set('Server-Timing', timing.toHeader())
  }
}

/** Without --server-timing: a ?trace=1 is refused with the reason, not silently answered without its trace. */
export function traceNeedsServerTiming(): Middleware {
  return async (ctx, next) => {
    if (ctx.query.trace === '1') throw new InvalidArgumentError('?trace=1 needs the proxy started with --server-timing on')
    await next()
  }
}

function isJsonObject(body: unknown): body is Record<string, unknown> {
  return typeof body === 'object' && body !== null && Object.getPrototypeOf(body) === Object.prototype
}
