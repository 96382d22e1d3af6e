/**
 * The opaque `X-Context` token: base64url(JSON read context) "." base64url(HMAC-SHA256 prefix) with
 * the cluster secret, so a malformed or forged context (which could silently supersede siblings) is
 * refused with 400 InvalidContext instead of being trusted. The read context is the causal context
 * and, when the versions read retire retried requests, their ids (`retired`; see ReadContext).
 * During a rotation of the cluster secret, tokens made with the secret being rotated are accepted too.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { InvalidContextError } from '../errors.js'
import { CausalContextSchema, RetiredSchema } from './schemas.js'
import { compact, type ReadContext } from './versions.js'

const TokenSchema = CausalContextSchema.extend({ retired: RetiredSchema.optional() })

const MAC_BYTES = 16

function mac(secret: string, payload: string): Buffer {
  return createHmac('sha256', secret).update('context\n').update(payload).digest().subarray(0, MAC_BYTES)
}

/** Encode a read context as a signed token. */
export function encodeContext(ctx: ReadContext, secret: string): string {
  const retired = ctx.retired?.length ? { retired: ctx.retired } : {}
  const payload = Buffer.from(JSON.stringify({ ...compact(ctx.vv, ctx.dots), ...retired })).toString('base64url')
  return `${payload}.${mac(secret, payload).toString('base64url')}`
}

function macMatches(secret: string, payload: string, given: Buffer): boolean {
  const want = Buffer.from(mac(secret, payload).toString('base64url'))
  return given.length === want.length && timingSafeEqual(given, want)
}

/** Decode and verify a token, made with `secret` or (during a rotation) `previous`; throws InvalidContextError (400) on any defect. */
export function decodeContext(token: string, secret: string, previous?: string): ReadContext {
  const [payload, sig, ...rest] = token.trim().split('.')
  if (!payload || !sig || rest.length > 0 || token.length > 65_536) throw new InvalidContextError('malformed context token')
  // Compare the canonical text of the signature, so exactly one string is valid per context (and secret).
  const given = Buffer.from(sig)
  if (!macMatches(secret, payload, given) && (previous === undefined || !macMatches(previous, payload, given))) throw new InvalidContextError('context token was not issued by this cluster')
  try {
    const ctx = TokenSchema.parse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')))
    const context = compact(ctx.vv, ctx.dots)
    return ctx.retired?.length ? { ...context, retired: ctx.retired } : context
  } catch {
    throw new InvalidContextError('malformed context token')
  }
}
