/**
 * Deny by default: every request to a node needs a valid member signature (shared/http/signing.ts)
 * made for this node, fresh on our clock and used once, except the few read-only routes of
 * OPEN_ROUTES, matched exactly on the path as received. The router then matches the same raw
 * path (case-sensitive, strict), so no spelling of a path reaches a handler unsigned. The
 * signatures are checked by the node's RequestVerifier (shared/http/request-verifier.ts), which RPC
 * upgrades share. On a TLS member port the signer must also be the member the connection's client
 * certificate names (shared/tls/member-tls.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { Context, Middleware, Next } from 'koa'
import { koaBody } from 'koa-body'
import { BadDigestError, InvalidRequestError, UnauthorizedError } from '../../shared/errors.js'
import { HEADER_CONTENT_SHA256 } from '../../shared/wire/headers.js'
import { refusalMessage, type RequestVerifier } from '../../shared/http/request-verifier.js'
import { peerRefusal } from '../../shared/tls/member-tls.js'

/** The only requests a node answers without a member signature: read-only, and holding no data. */
export const OPEN_ROUTES: ReadonlySet<string> = new Set(['GET /health', 'HEAD /health', 'GET /membership', 'HEAD /membership', 'GET /metrics', 'HEAD /metrics'])

/** The node's first middleware after errors: open routes pass, everything else must be signed for us. */
export function requireSignature(verifier: RequestVerifier): Middleware {
  return async (ctx: Context, next: Next) => {
    if (OPEN_ROUTES.has(`${ctx.method} ${ctx.path}`)) return next()
    const result = verifier.verify(ctx.method, ctx.url, (name) => ctx.get(name) || undefined)
    if ('refused' in result) {
      if (result.answerHeaders) ctx.set(result.answerHeaders)
      throw new UnauthorizedError(refusalMessage(result.refused))
    }
    const notThisPeer = peerRefusal(ctx.req.socket, result.ok.from)
    if (notThisPeer) throw new UnauthorizedError(`internal API: ${notThisPeer}`)
    ctx.set(result.ok.answerHeaders)
    ctx.state.member = result.ok.from
    await next()
  }
}

/** A JSON body whose SHA-256 the signature covers (x-store-content-sha256): parsed, then checked against it. */
export function signedJson(jsonLimit: string): Middleware[] {
  return [
    koaBody({ jsonLimit, text: false, urlencoded: false, includeUnparsed: true }),
    async (ctx, next) => {
      if (!ctx.is('application/json')) throw new InvalidRequestError('expected a JSON body')
      // koa-body keeps the body's text, as received, beside the parsed value.
      const raw = (ctx.request as { rawBody?: unknown }).rawBody
      assertDigest(ctx.get(HEADER_CONTENT_SHA256), typeof raw === 'string' ? createHash('sha256').update(raw).digest('hex') : '', true)
      await next()
    },
  ]
}

/** Refuses a body whose digest differs from the signed one; `required`: refuse a body that came without one. */
export function assertDigest(signed: string, actual: string, required = false): void {
  if (!signed) {
    if (required) throw new BadDigestError(`${HEADER_CONTENT_SHA256} is required on this route`)
    return
  }
  const a = Buffer.from(signed)
  const b = Buffer.from(actual)
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw new BadDigestError('the body does not match its signed digest')
}
