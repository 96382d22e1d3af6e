/**
 * The opaque `X-Context` token: base64url(JSON clock) "." base64url(HMAC-SHA256 prefix) with the
 * cluster secret, so a malformed or forged context (which could silently supersede siblings) is
 * refused with 400 InvalidContext instead of being trusted.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { InvalidContextError } from '../errors.js'
import { CausalContextSchema } from './schemas.js'
import { type CausalContext, compact } from './versions.js'

const MAC_BYTES = 16

function mac(secret: string, payload: string): Buffer {
  return createHmac('sha256', secret).update('context\n').update(payload).digest().subarray(0, MAC_BYTES)
}

/** Encode a causal context as a signed token. */
export function encodeContext(ctx: CausalContext, secret: string): string {
  const payload = Buffer.from(JSON.stringify(compact(ctx.vv, ctx.dots))).toString('base64url')
  return `${payload}.${mac(secret, payload).toString('base64url')}`
}

/** Decode and verify a token; throws InvalidContextError (400) on any defect. */
export function decodeContext(token: string, secret: string): CausalContext {
  const [payload, sig, ...rest] = token.trim().split('.')
  if (!payload || !sig || rest.length > 0 || token.length > 65_536) throw new InvalidContextError('malformed context token')
  // Compare the canonical text of the signature, so exactly one string is valid per context.
  const given = Buffer.from(sig)
  const want = Buffer.from(mac(secret, payload).toString('base64url'))
  if (given.length !== want.length || !timingSafeEqual(given, want)) throw new InvalidContextError('context token was not issued by this cluster')
  try {
    const ctx = CausalContextSchema.parse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')))
    return compact(ctx.vv, ctx.dots)
  } catch {
    throw new InvalidContextError('malformed context token')
  }
}
