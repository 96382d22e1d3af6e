/**
 * Member authentication of the internal API: an HMAC-SHA256 signature, under a key derived from
 * the cluster secret, over everything a request does (method, path and query as sent, timestamp,
 * nonce, sender and target member, the headers that carry store metadata, and the body's digest
 * where the body is known before it is sent). See docs/decisions/0001-member-authentication.md.
 *
 * The timestamp is on the *receiver's* clock as the sender estimates it (see peer-clocks.ts): the
 * receiver keeps a tight freshness window without trusting the two wall clocks to agree. Every
 * answer to a signed request carries the receiver's time with a proof bound to the request's
 * nonce, so a sender learns the offset from authentic answers only.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto'
import { SIGNATURE_MAX_SKEW_MS } from '../constants.js'
import { NODE_ID_RE } from '../names.js'
import {
  HEADER_CONTENT_SHA256,
  HEADER_FROM,
  HEADER_HINT_FOR,
  HEADER_NONCE,
  HEADER_REQUEST_ID,
  HEADER_SIGNATURE,
  HEADER_TARGET,
  HEADER_TIMESTAMP,
  HEADER_UPLOAD,
  HEADER_VERSION,
  HEADER_WRITE,
} from '../wire/headers.js'

/** Headers covered by the signature, in this order; an absent one is signed as empty. */
export const SIGNED_HEADERS = [HEADER_WRITE, HEADER_VERSION, HEADER_UPLOAD, HEADER_HINT_FOR, HEADER_CONTENT_SHA256, HEADER_REQUEST_ID, 'content-type'] as const

/** Keys derived from the cluster secret, one per use, so no MAC made for one use verifies for another. */
export interface MemberKeys {
  readonly request: Buffer
  readonly time: Buffer
  readonly channel: Buffer
}

const keyCache = new Map<string, MemberKeys>()

export function memberKeys(secret: string): MemberKeys {
  let k = keyCache.get(secret)
  if (!k) {
    const derive = (use: string) => Buffer.from(hkdfSync('sha256', secret, 'dynamo-store', `member ${use} v2`, 32))
    k = { request: derive('request'), time: derive('time'), channel: derive('channel') }
    keyCache.set(secret, k)
  }
  return k
}

/**
 * The keys a member accepts, the current secret's first (the ones it signs with), then those of a
 * second secret during a rotation of the cluster secret (`--previous-secret-file`; see
 * docs/operations.md#rotating-the-cluster-secret). With one secret, checks cost what they did.
 */
export function acceptedKeys(secret: string, previous?: string): readonly MemberKeys[] {
  return previous !== undefined && previous !== secret ? [memberKeys(secret), memberKeys(previous)] : [memberKeys(secret)]
}

/**
 * The target of a gossip exchange with a seed, whose id the sender does not know yet (a seed is
 * named by whatever address the operator wrote). Accepted on the gossip route only: a gossip
 * message replayed to another node merges membership that node would learn anyway.
 */
export const ANY_MEMBER = '*'

export interface SignedStamp {
  method: string
  /** Path with its query string, exactly as sent. */
  path: string
  /** On the receiver's clock, as the sender estimates it. */
  timestampMs: number
  nonce: string
  /** The sending member's id. */
  from: string
  /** The receiving member's id (or its advertised address when the sender does not know the id yet). */
  target: string
  /** Values of SIGNED_HEADERS (absent: empty). */
  headers: (name: string) => string | undefined
}

function canonical(s: SignedStamp): string {
  let text = `dynamo-member-v2\n${s.method.toUpperCase()}\n${s.path}\n${s.timestampMs}\n${s.nonce}\n${s.from}\n${s.target}`
  for (const h of SIGNED_HEADERS) text += `\n${h}:${s.headers(h) ?? ''}`
  return text
}

export function signRequest(keys: MemberKeys, s: SignedStamp): string {
  return createHmac('sha256', keys.request).update(canonical(s)).digest('base64url')
}

/** The signature headers of a request. */
export function signatureHeaders(keys: MemberKeys, s: SignedStamp): Record<string, string> {
  return {
    [HEADER_TIMESTAMP]: String(s.timestampMs),
    [HEADER_NONCE]: s.nonce,
    [HEADER_FROM]: s.from,
    [HEADER_TARGET]: s.target,
    [HEADER_SIGNATURE]: signRequest(keys, s),
  }
}

/** Nonces: a per-process random prefix and a counter (unique without drawing random bytes per request). */
const NONCE_PREFIX_CHARS = 16
const NONCE_RE = /^[A-Za-z0-9_-]{16}[0-9a-z]{1,11}$/
const NONCE_PREFIX = randomBytes(12).toString('base64url')
let nonceCounter = 0

export function newNonce(): string {
  nonceCounter = (nonceCounter + 1) % Number.MAX_SAFE_INTEGER
  return `${NONCE_PREFIX}${nonceCounter.toString(36)}`
}

export type Refusal =
  | { why: 'missing signature' | 'malformed signature' | 'bad signature' | 'wrong target' | 'replayed request' }
  /** The signature is good but its timestamp is outside the window: the answer tells the sender our time. */
  | { why: 'stale signature'; skewMs: number }

/** The headers of a received request (undefined when absent). */
export type HeaderOf = (name: string) => string | undefined

/** Why a request's signature is refused, or null when it is valid and fresh (replays are the ReplayGuard's job). */
export function checkSignature(keys: MemberKeys, method: string, path: string, header: HeaderOf, targets: readonly string[], nowMs: number): Refusal | null {
  const timestamp = header(HEADER_TIMESTAMP)
  const nonce = header(HEADER_NONCE)
  const signature = header(HEADER_SIGNATURE)
  const from = header(HEADER_FROM)
  const target = header(HEADER_TARGET)
  if (!timestamp || !signature || !nonce || !from || !target) return { why: 'missing signature' }
  const ts = Number(timestamp)
  if (!/^\d{1,16}$/.test(timestamp) || !Number.isSafeInteger(ts) || !NONCE_RE.test(nonce) || !NODE_ID_RE.test(from)) return { why: 'malformed signature' }
  const want = Buffer.from(signRequest(keys, { method, path, timestampMs: ts, nonce, from, target, headers: header }))
  const got = Buffer.from(signature)
  if (want.length !== got.length || !timingSafeEqual(want, got)) return { why: 'bad signature' }
  if (!targets.includes(target)) return { why: 'wrong target' }
  if (Math.abs(nowMs - ts) > SIGNATURE_MAX_SKEW_MS) return { why: 'stale signature', skewMs: ts - nowMs }
  return null
}

/** Proof that `timeMs` was said by a member in answer to the request with `nonce` (so it cannot be replayed or forged). */
export function timeProof(keys: MemberKeys, nonce: string, timeMs: number): string {
  return createHmac('sha256', keys.time).update(`${nonce}\n${timeMs}`).digest('base64url')
}

export function checkTimeProof(keys: MemberKeys, nonce: string, time: string | undefined, proof: string | undefined): number | undefined {
  if (!time || !proof || !/^\d{1,16}$/.test(time)) return undefined
  const want = Buffer.from(timeProof(keys, nonce, Number(time)))
  const got = Buffer.from(proof)
  return want.length === got.length && timingSafeEqual(want, got) ? Number(time) : undefined
}

/**
 * Remembers the nonces of accepted requests, in memory bounded by the number of senders, not by
 * the request rate: a nonce is a sender's prefix and a counter, so per prefix it keeps the highest
 * counter seen and a bitmap of the WINDOW counters below it. A counter at or below the window's
 * floor is refused as too old (a request overtaken by WINDOW later ones of the same process), one
 * already marked as a replay. The guard lives in memory: a request captured in the last
 * SIGNATURE_MAX_SKEW_MS could be replayed once to a node that restarted since (mutual TLS between
 * members closes that door).
 */
export class ReplayGuard {
  static readonly WINDOW = 1 << 16
  private readonly senders = new Map<string, { high: number; seen: Uint8Array }>()

  constructor(private readonly maxSenders = 4096) {}

  /** True the first time `nonce` is offered; false for a replay, or a nonce too old to tell. */
  firstUse(nonce: string): boolean {
    const prefix = nonce.slice(0, NONCE_PREFIX_CHARS)
    const counter = Number.parseInt(nonce.slice(NONCE_PREFIX_CHARS), 36)
    if (!Number.isSafeInteger(counter)) return false
    let s = this.senders.get(prefix)
    if (s) {
      // Most recently used last: the Map's order is the eviction order.
      this.senders.delete(prefix)
      this.senders.set(prefix, s)
    } else {
      if (this.senders.size >= this.maxSenders) this.senders.delete(this.senders.keys().next().value as string)
      s = { high: counter - 1, seen: new Uint8Array(ReplayGuard.WINDOW / 8) }
      this.senders.set(prefix, s)
    }
    const W = ReplayGuard.WINDOW
    if (counter <= s.high - W) return false
    if (counter > s.high) {
      // Slide the window: clear the bits of the counters it passes over.
      for (let c = Math.max(s.high + 1, counter - W + 1); c <= counter; c++) {
        const i = (c % W) >> 3
        s.seen[i] = (s.seen[i] as number) & ~(1 << (c & 7))
      }
      s.high = counter
    }
    const byte = (counter % W) >> 3
    const bit = 1 << (counter & 7)
    if ((s.seen[byte] as number) & bit) return false
    s.seen[byte] = (s.seen[byte] as number) | bit
    return true
  }
}
