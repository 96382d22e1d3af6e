/** Every /internal request must carry a fresh HMAC signature made with the cluster secret, used once (401 otherwise). */
import type { Middleware } from 'koa'
import { INTERNAL_API_PREFIX } from '../../shared/constants.js'
import { UnauthorizedError } from '../../shared/errors.js'
import { checkSignature, ReplayGuard } from '../../shared/http/signing.js'
import { HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP } from '../../shared/wire/headers.js'
import type { ClockOffsets } from '../service/clock-offsets.js'

/** Checks signatures and remembers the nonces of accepted requests; one per node, shared by the HTTP routes and RPC upgrades. */
export class RequestVerifier {
  private readonly replays: ReplayGuard

  /** `offsets`, when given, learns each sender's clock from the timestamps of its accepted requests. */
  constructor(
    private readonly secret: string,
    private readonly now: () => number = Date.now,
    private readonly offsets?: ClockOffsets,
  ) {
    this.replays = new ReplayGuard(undefined, now())
  }

  /** Why the request is refused, or null when it is signed, fresh and seen for the first time. `sender`: its address. */
  refusal(method: string, url: string, header: (name: string) => string | undefined, sender = ''): string | null {
    const at = this.now()
    const stamp = { method, path: url, timestamp: header(HEADER_TIMESTAMP), nonce: header(HEADER_NONCE), signature: header(HEADER_SIGNATURE) }
    const why = checkSignature(this.secret, stamp, at)
    if (why) return why
    // Only a verified request's nonce is remembered: unsigned traffic cannot fill the guard.
    if (!this.replays.firstUse(stamp.nonce as string, at)) return 'replayed request'
    this.offsets?.sample(sender, Number(stamp.timestamp), at)
    return null
  }
}

export function requireSignature(verifier: RequestVerifier): Middleware {
  return async (ctx, next) => {
    if (ctx.path.startsWith(`${INTERNAL_API_PREFIX}/`) || ctx.path === INTERNAL_API_PREFIX) {
      const why = verifier.refusal(ctx.method, ctx.url, (name) => ctx.get(name) || undefined, ctx.req.socket.remoteAddress)
      if (why) throw new UnauthorizedError(`internal API: ${why}`)
    }
    await next()
  }
}
