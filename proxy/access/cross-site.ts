/**
 * A web page must not make a visitor's browser change data here (CSRF, e.g. a page posting to a proxy
 * on localhost): a write whose Sec-Fetch-Site says another site, or whose Origin is not this proxy's
 * own, is refused with 403 unless `--cors-origins` lists that origin. Reads are left to CORS.
 */
import type { Middleware } from 'koa'
import { AccessDeniedError } from '../../shared/errors.js'

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS'])

export function refuseCrossSiteWrites(allowedOrigins: readonly string[]): Middleware {
  const allowed = new Set(allowedOrigins)
  return async (ctx, next) => {
    if (!SAFE.has(ctx.method)) {
      const origin = ctx.get('origin')
      const site = ctx.get('sec-fetch-site')
      const ownOrigin = `${ctx.protocol}://${ctx.host}`
      const foreignOrigin = origin !== '' && origin !== ownOrigin
      const foreignSite = site === 'cross-site' || site === 'same-site'
      if ((foreignOrigin || (foreignSite && origin !== ownOrigin)) && !allowed.has(origin)) {
        throw new AccessDeniedError(`a write from another site (Origin ${origin || 'absent'}, Sec-Fetch-Site ${site || 'absent'}) is refused; the operator may allow an origin with --cors-origins`)
      }
    }
    await next()
  }
}
