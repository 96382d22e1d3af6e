/**
 * HMAC-SHA256 request signing between cluster members: method + path (with query) + timestamp +
 * nonce. The timestamp bounds how long a captured request stays valid (30 s either way); the
 * nonce, remembered by the receiver for that long (see ReplayGuard), makes it valid only once.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { SIGNATURE_MAX_SKEW_MS } from '../constants.js'

export interface SignedStamp {
  method: string
  /** Path with its query string, as sent. */
  path: string
  timestampMs: number
  nonce: string
}

const NONCE_RE = /^[A-Za-z0-9_-]{16,64}$/

/** Per-process random prefix + counter: unique without drawing random bytes per request (a measurable cost on the hot path). */
const NONCE_PREFIX = randomBytes(12).toString('base64url')
let nonceCounter = 0

/** A nonce never used before by any process (96 random bits of prefix, then a counter). */
export function newNonce(): string {
  nonceCounter = (nonceCounter + 1) % Number.MAX_SAFE_INTEGER
  return `${NONCE_PREFIX}${nonceCounter.toString(36)}`
}

export function signRequest(secret: string, s: SignedStamp): string {
  return createHmac('sha256', secret).update(`${s.method.toUpperCase()}\n${s.path}\n${s.timestampMs}\n${s.nonce}`).digest('base64url')
}

/** The headers a request carries, as received (undefined when absent). */
export interface ReceivedStamp {
  method: string
  path: string
  timestamp: string | undefined
  nonce: string | undefined
  signature: string | undefined
}

/** Why a request's signature is refused, or null when it is valid and fresh (replays are the ReplayGuard's job). */
export function checkSignature(secret: string, r: ReceivedStamp, nowMs: number): string | null {
  if (!r.timestamp || !r.signature || !r.nonce) return 'missing signature'
  const ts = Number(r.timestamp)
  if (!Number.isSafeInteger(ts)) return 'malformed timestamp'
  if (!NONCE_RE.test(r.nonce)) return 'malformed nonce'
  if (Math.abs(nowMs - ts) > SIGNATURE_MAX_SKEW_MS) return 'stale signature'
  const want = Buffer.from(signRequest(secret, { method: r.method, path: r.path, timestampMs: ts, nonce: r.nonce }))
  const got = Buffer.from(r.signature)
  if (want.length !== got.length || !timingSafeEqual(want, got)) return 'bad signature'
  return null
}

/**
 * Remembers the nonces of accepted requests for twice the skew window, so a captured request
 * replayed while its timestamp is still fresh is refused. Two generations of sets, rotated every
 * window: a nonce stays known between one and two windows, and memory is bounded by the request
 * rate times two windows.
 */
export class ReplayGuard {
  private current = new Set<string>()
  private previous = new Set<string>()
  private rotatedAt: number

  constructor(
    private readonly windowMs = 2 * SIGNATURE_MAX_SKEW_MS,
    now = Date.now(),
  ) {
    this.rotatedAt = now
  }

  /** True the first time `nonce` is offered within the window; false for a replay. */
  firstUse(nonce: string, nowMs: number): boolean {
    if (nowMs - this.rotatedAt >= this.windowMs) {
      this.previous = nowMs - this.rotatedAt >= 2 * this.windowMs ? new Set() : this.current
      this.current = new Set()
      this.rotatedAt = nowMs
    }
    if (this.current.has(nonce) || this.previous.has(nonce)) return false
    this.current.add(nonce)
    return true
  }
}
