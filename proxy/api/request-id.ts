/**
 * X-Request-Id: the client's id when it is short and plain, else a fresh one. The id is echoed,
 * forwarded to nodes and may reach logs, so a value that could split a header or a log line, or
 * bloat either, is never reflected.
 */
import { randomUUID } from 'node:crypto'
import type { Middleware } from 'koa'
import { HEADER_REQUEST_ID } from '../../shared/wire/headers.js'

/** 1-128 characters of letters, digits and `._:-`: room for UUIDs, ULIDs and tracing ids, nothing that needs escaping. */
const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/

/** The client's request id if it is acceptable, else undefined. */
export function acceptRequestId(raw: string | undefined): string | undefined {
  return raw !== undefined && REQUEST_ID_RE.test(raw) ? raw : undefined
}

/** Sets ctx.state.requestId (the client's acceptable id or a new UUID) and echoes it. */
export function requestIdMiddleware(): Middleware {
  return async (ctx, next) => {
    ctx.state.requestId = acceptRequestId(ctx.get(HEADER_REQUEST_ID) || undefined) ?? randomUUID()
    ctx.set(HEADER_REQUEST_ID, ctx.state.requestId)
    await next()
  }
}
