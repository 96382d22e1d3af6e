/**
 * The opaque `X-Context` token: base64url(JSON clock) "." base64url(HMAC-SHA256 prefix) with the
 * cluster secret, so a malformed or forged context (which could silently supersede siblings) is
 * refused with 400 InvalidContext instead of being trusted.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { z } from 'zod'
import { InvalidContextError } from '../errors.js'
import { sortKeys, type VectorClock } from './vector-clock.js'

const MAC_BYTES = 16
export const VectorClockSchema = z.record(z.string().min(1).max(200), z.number().int().nonnegative())

function mac(secret: string, payload: string): Buffer {
  return createHmac('sha256', secret).update('context\n').update(payload).digest().subarray(0, MAC_BYTES)
}

/** Encode a clock as a signed token. */
export function encodeContext(clock: VectorClock, secret: string): string {
  const payload = Buffer.from(JSON.stringify(sortKeys({ ...clock }))).toString('base64url')
  return `${payload}.${mac(secret, payload).toString('base64url')}`
}

/** Decode and verify a token; throws InvalidContextError (400) on any defect. */
export function decodeContext(token: string, secret: string): VectorClock {
  const [payload, sig, ...rest] = token.trim().split('.')
  if (!payload || !sig || rest.length > 0 || token.length > 16_384) throw new InvalidContextError('malformed context token')
  const given = Buffer.from(sig, 'base64url')
  const want = mac(secret, payload)
  if (given.length !== want.length || !timingSafeEqual(given, want)) throw new InvalidContextError('context token was not issued by this cluster')
  try {
    return sortKeys(VectorClockSchema.parse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))))
  } catch {
    throw new InvalidContextError('malformed context token')
  }
}
