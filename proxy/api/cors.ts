/**
 * CORS, off unless `--cors-origins` names exact origins: only those get Access-Control-* answers
 * (never `*`, never credentials); any other origin's preflight is refused with 403.
 */
import type { Middleware } from 'koa'
import { StoreError } from '../../shared/errors.js'
import { HEADER_CONTEXT, HEADER_REQUEST_ID, HEADER_SIBLINGS, HEADER_VECTOR_CLOCK, HEADER_VERSION_ID } from '../../shared/wire/headers.js'

/** A preflight from an origin that is not configured. */
export class CorsForbiddenError extends StoreError {
  readonly code = 'CorsForbidden'
  readonly status = 403
}

/** Methods and request headers the public API uses, the most a listed origin may send. */
const ALLOW_METHODS = 'GET, HEAD, PUT, POST, DELETE'
// A page's script signs its requests (SigV4 or Basic): the preflight must allow those headers.
const ALLOW_HEADERS = ['content-type', 'authorization', 'x-amz-date', 'x-amz-content-sha256', HEADER_CONTEXT, HEADER_REQUEST_ID].join(', ')
/** Response headers a page may read: the versioning headers and listing cursors besides the CORS-safelisted ones. */
const EXPOSE_HEADERS = ['etag', HEADER_CONTEXT, HEADER_VECTOR_CLOCK, HEADER_VERSION_ID, HEADER_SIBLINGS, HEADER_REQUEST_ID, 'x-next-cursor', 'content-disposition'].join(', ')
/** How long a browser may cache a preflight answer: short, so a changed origin list takes hold soon. */
const PREFLIGHT_MAX_AGE_S = 600

/**
 * With no origins configured, no Access-Control-* header is ever sent. A browser's preflight
 * (OPTIONS with Access-Control-Request-Method) from an origin that is not listed gets 403, as S3
 * answers one for a bucket without CORS rules. A listed origin's requests and preflights are
 * answered, with Vary: Origin on every answer once origins are configured (it depends on it).
 */
export function cors(origins: readonly string[]): Middleware {
  const allowed = new Set(origins)
  return async (ctx, next) => {
    if (allowed.size > 0) ctx.vary('Origin')
    const origin = ctx.get('origin')
    const preflight = ctx.method === 'OPTIONS' && ctx.get('access-control-request-method') !== ''
    if (!allowed.has(origin)) {
      if (!preflight) return next()
      throw new CorsForbiddenError(allowed.size === 0 ? 'cross-origin requests are not enabled on this proxy' : 'this origin may not make cross-origin requests here')
    }
    ctx.set('Access-Control-Allow-Origin', origin)
    if (preflight) {
      ctx.set('Access-Control-Allow-Methods', ALLOW_METHODS)
      ctx.set('Access-Control-Allow-Headers', ALLOW_HEADERS)
      ctx.set('Access-Control-Max-Age', String(PREFLIGHT_MAX_AGE_S))
      ctx.status = 204
      return
    }
    ctx.set('Access-Control-Expose-Headers', EXPOSE_HEADERS)
    await next()
  }
}
