/**
 * Deny by default: every request to a node needs a valid member signature (shared/http/signing.ts)
 * made for this node, fresh on our clock and used once, except the few read-only routes of
 * OPEN_ROUTES, matched exactly on the path as received. The router then matches the same raw
 * path (case-sensitive, strict), so no spelling of a path reaches a handler unsigned.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { Context, Middleware, Next } from 'koa'
import { koaBody } from 'koa-body'
import { BadDigestError, InvalidRequestError, UnauthorizedError } from '../../shared/errors.js'
import { ANY_MEMBER, checkSignature, type HeaderOf, type MemberKeys, type Refusal, ReplayGuard, timeProof } from '../../shared/http/signing.js'
import { HEADER_CONTENT_SHA256, HEADER_FROM, HEADER_NONCE, HEADER_TIME, HEADER_TIME_PROOF, HEADER_TIMESTAMP } from '../../shared/wire/headers.js'
import { internalRoutes } from '../../shared/wire/internal-api.js'
import type { ClockOffsets } from '../service/clock-offsets.js'

const GOSSIP_PATH = internalRoutes.gossip.path()

/** The only requests a node answers without a member signature: read-only, and holding no data. */
export const OPEN_ROUTES: ReadonlySet<string> = new Set(['GET /health', 'HEAD /health', 'GET /membership', 'HEAD /membership', 'GET /metrics', 'HEAD /metrics'])

export interface Verified {
  /** The signing member's id. */
  from: string
  /** Time headers for the answer: our clock, proven for the request's nonce. */
  answerHeaders: Record<string, string>
}

/** Checks member signatures and remembers accepted nonces; one per node, shared by the HTTP routes and RPC upgrades. */
export class RequestVerifier {
  private readonly replays: ReplayGuard
  private readonly targets: string[]
  private readonly gossipTargets: string[]

  /** `offsets`, when given, learns each sender's clock from the timestamps of its accepted requests. */
  constructor(
    readonly keys: MemberKeys,
    selfId: string,
    selfAddress: string,
    private readonly now: () => number = Date.now,
    private readonly offsets?: ClockOffsets,
  ) {
    this.replays = new ReplayGuard()
    this.targets = [selfId, selfAddress]
    this.gossipTargets = [selfId, selfAddress, ANY_MEMBER]
  }

  /**
   * The request's sender, or why it is refused. A refusal of a well-signed request for its
   * timestamp carries our time (`answerHeaders`), so the sender can sign on our clock.
   */
  verify(method: string, url: string, header: HeaderOf): { ok: Verified } | { refused: Refusal; answerHeaders?: Record<string, string> } {
    const at = this.now()
    const nonce = header(HEADER_NONCE) ?? ''
    const gossip = method === 'POST' && url === GOSSIP_PATH
    const refused = checkSignature(this.keys, method, url, header, gossip ? this.gossipTargets : this.targets, at)
    if (refused) return refused.why === 'stale signature' ? { refused, answerHeaders: this.timeHeaders(nonce, at) } : { refused }
    const ts = Number(header(HEADER_TIMESTAMP))
    // Only a verified request's nonce is remembered: unsigned traffic cannot fill the guard.
    if (!this.replays.firstUse(nonce)) return { refused: { why: 'replayed request' } }
    const from = header(HEADER_FROM) as string
    this.offsets?.sample(from, ts, at)
    return { ok: { from, answerHeaders: this.timeHeaders(nonce, at) } }
  }

  private timeHeaders(nonce: string, at: number): Record<string, string> {
    return { [HEADER_TIME]: String(at), [HEADER_TIME_PROOF]: timeProof(this.keys, nonce, at) }
  }
}

export function refusalMessage(r: Refusal): string {
  return r.why === 'stale signature' ? `internal API: stale signature (${r.skewMs} ms from this node's clock)` : `internal API: ${r.why}`
}

/** The node's first middleware after errors: open routes pass, everything else must be signed for us. */
export function requireSignature(verifier: RequestVerifier): Middleware {
  return async (ctx: Context, next: Next) => {
    if (OPEN_ROUTES.has(`${ctx.method} ${ctx.path}`)) return next()
    const result = verifier.verify(ctx.method, ctx.url, (name) => ctx.get(name) || undefined)
    if ('refused' in result) {
      if (result.answerHeaders) ctx.set(result.answerHeaders)
      throw new UnauthorizedError(refusalMessage(result.refused))
    }
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
