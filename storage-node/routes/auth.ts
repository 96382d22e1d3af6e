/** Every /internal request must carry a fresh HMAC signature made with the cluster secret, used once (401 otherwise). */
import type { Middleware } from 'koa'
import { INTERNAL_API_PREFIX } from '../../shared/constants.js'
import { UnauthorizedError } from '../../shared/errors.js'
import { checkSignature, ReplayGuard } from '../../shared/http/signing.js'
import { HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP } from '../../shared/wire/headers.js'

export function requireSignature(secret: string, now: () => number = Date.now): Middleware {
  const replays = new ReplayGuard(undefined, now())
  return async (ctx, next) => {
    if (ctx.path.startsWith(`${INTERNAL_API_PREFIX}/`) || ctx.path === INTERNAL_API_PREFIX) {
      const at = now()
      const stamp = {
        method: ctx.method,
        path: ctx.url,
        timestamp: ctx.get(HEADER_TIMESTAMP) || undefined,
        nonce: ctx.get(HEADER_NONCE) || undefined,
        signature: ctx.get(HEADER_SIGNATURE) || undefined,
      }
      const why = checkSignature(secret, stamp, at)
      if (why) throw new UnauthorizedError(`internal API: ${why}`)
      // Only a verified request's nonce is remembered: unsigned traffic cannot fill the guard.
      if (!replays.firstUse(stamp.nonce as string, at)) throw new UnauthorizedError('internal API: replayed request')
    }
    await next()
  }
}
