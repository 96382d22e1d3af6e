/** HMAC-SHA256 request signing between cluster members: method + path (with query) + timestamp. */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { SIGNATURE_MAX_SKEW_MS } from '../constants.js'

export function signRequest(secret: string, method: string, pathWithQuery: string, timestampMs: number): string {
  return createHmac('sha256', secret).update(`${method.toUpperCase()}\n${pathWithQuery}\n${timestampMs}`).digest('base64url')
}

/** Why a request's signature is refused, or null when it is valid and fresh. */
export function checkSignature(
  secret: string,
  method: string,
  pathWithQuery: string,
  timestampHeader: string | undefined,
  signatureHeader: string | undefined,
  nowMs: number,
): string | null {
  if (!timestampHeader || !signatureHeader) return 'missing signature'
  const ts = Number(timestampHeader)
  if (!Number.isSafeInteger(ts)) return 'malformed timestamp'
  if (Math.abs(nowMs - ts) > SIGNATURE_MAX_SKEW_MS) return 'stale signature'
  const want = Buffer.from(signRequest(secret, method, pathWithQuery, ts))
  const got = Buffer.from(signatureHeader)
  if (want.length !== got.length || !timingSafeEqual(want, got)) return 'bad signature'
  return null
}
