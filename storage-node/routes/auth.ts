/** Every /internal request must carry a fresh HMAC signature made with the cluster secret (401 otherwise). */
import type { Middleware } from 'koa'
import { INTERNAL_API_PREFIX } from '../../shared/constants.js'
import { UnauthorizedError } from '../../shared/errors.js'
import { checkSignature } from '../../shared/http/signing.js'
import { HEADER_SIGNATURE, HEADER_TIMESTAMP } from '../../shared/wire/headers.js'

export function requireSignature(secret: string, now: () => number = Date.now): Middleware {
  return async (ctx, next) => {
    if (ctx.path.startsWith(`${INTERNAL_API_PREFIX}/`) || ctx.path === INTERNAL_API_PREFIX) {
      const why = checkSignature(secret, ctx.method, ctx.url, ctx.get(HEADER_TIMESTAMP) || undefined, ctx.get(HEADER_SIGNATURE) || undefined, now())
      if (why) throw new UnauthorizedError(`internal API: ${why}`)
    }
    await next()
  }
}
