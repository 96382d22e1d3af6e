/** The client side of SigV4: Authorization headers and presigned URLs for ./dynamoctl, the benchmarks and the tests. */
import { PRESIGN_MAX_EXPIRES_SECONDS } from '../constants.js'
import {
  canonicalHeaders,
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  credentialScope,
  type HeaderEntry,
  pathRulesFor,
  SIGV4_ALGORITHM,
  signatureHex,
  signingKey,
  stringToSign,
  toAmzDate,
  UNSIGNED_PAYLOAD,
  uriEncode,
} from './canonical.js'

/** An access key as a SigV4 client holds it. `service` defaults to 's3' (the scope S3 tools and curl's `aws:amz:REGION:s3` use). */
export interface SigV4Credentials {
  accessKeyId: string
  secretAccessKey: string
  region: string
  service?: string
}

/** Derived keys by secret, day, region and service: a client signs many requests a day with one key, and each derivation is four HMACs. */
const keyCache = new Map<string, Buffer>()
/** Bounds keyCache: a client holds a handful of keys, so a full cache means churn and is simply cleared. */
const KEY_CACHE_MAX = 64

function cachedSigningKey(secret: string, date: string, region: string, service: string): Buffer {
  const id = `${secret}\n${date}\n${region}\n${service}`
  let key = keyCache.get(id)
  if (key === undefined) {
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear()
    key = signingKey(secret, date, region, service)
    keyCache.set(id, key)
  }
  return key
}

function rawQueryOf(url: URL): string {
  return url.search.startsWith('?') ? url.search.slice(1) : url.search
}

function sign(c: SigV4Credentials, amzDate: string, method: string, url: URL, query: string, headers: HeaderEntry[], payloadHash: string) {
  const service = c.service ?? 's3'
  const date = amzDate.slice(0, 8)
  const scope = credentialScope(date, c.region, service)
  const { block, signedHeaders } = canonicalHeaders(headers)
  const creq = canonicalRequest({
    method: method.toUpperCase(),
    canonicalUri: canonicalUri(url.pathname, pathRulesFor(service)),
    canonicalQuery: query,
    canonicalHeaders: block,
    signedHeaders,
    payloadHash,
  })
  const signature = signatureHex(cachedSigningKey(c.secretAccessKey, date, c.region, service), stringToSign(amzDate, scope, creq))
  return { scope, signedHeaders, signature }
}

/**
 * Headers to add to the request: authorization, x-amz-date, x-amz-content-sha256 (payloadHash; default
 * 'UNSIGNED-PAYLOAD'). Signs host (url.host unless `headers` names one), x-amz-date, x-amz-content-sha256 and
 * every header passed in `headers` (their names in any case; send them with the values given here).
 */
export function signHeaders(c: SigV4Credentials, req: { method: string; url: URL; headers?: Record<string, string>; payloadHash?: string }, now: Date = new Date()): Record<string, string> {
  const amzDate = toAmzDate(now)
  const payloadHash = req.payloadHash ?? UNSIGNED_PAYLOAD
  const byName = new Map<string, string>([
    ['host', req.url.host],
    ['x-amz-content-sha256', payloadHash],
    ['x-amz-date', amzDate],
  ])
  for (const [name, value] of Object.entries(req.headers ?? {})) {
    const lower = name.toLowerCase()
    if (lower !== 'x-amz-date' && lower !== 'x-amz-content-sha256' && lower !== 'authorization') byName.set(lower, value)
  }
  const entries = [...byName].sort((a, b) => (a[0] < b[0] ? -1 : 1))
  const s = sign(c, amzDate, req.method, req.url, canonicalQuery(rawQueryOf(req.url)), entries, payloadHash)
  return {
    authorization: `${SIGV4_ALGORITHM} Credential=${c.accessKeyId}/${s.scope}, SignedHeaders=${s.signedHeaders}, Signature=${s.signature}`,
    'x-amz-date': amzDate,
    'x-amz-content-sha256': payloadHash,
  }
}

/**
 * A presigned URL: `req.url` with X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders=host and
 * -Signature added to its query; the body is unsigned (UNSIGNED-PAYLOAD). Valid `expiresSeconds` (1..604800).
 */
export function presignUrl(c: SigV4Credentials, req: { method: string; url: URL; expiresSeconds: number }, now: Date = new Date()): URL {
  const expires = req.expiresSeconds
  if (!Number.isInteger(expires) || expires < 1 || expires > PRESIGN_MAX_EXPIRES_SECONDS) {
    throw new RangeError(`expiresSeconds must be an integer in 1..${PRESIGN_MAX_EXPIRES_SECONDS}, got ${expires}`)
  }
  const amzDate = toAmzDate(now)
  const service = c.service ?? 's3'
  const scope = credentialScope(amzDate.slice(0, 8), c.region, service)
  const added = `X-Amz-Algorithm=${SIGV4_ALGORITHM}&X-Amz-Credential=${uriEncode(`${c.accessKeyId}/${scope}`)}&X-Amz-Date=${amzDate}&X-Amz-Expires=${expires}&X-Amz-SignedHeaders=host`
  const existing = rawQueryOf(req.url)
  const query = existing === '' ? added : `${existing}&${added}`
  const s = sign(c, amzDate, req.method, req.url, canonicalQuery(query), [['host', req.url.host]], UNSIGNED_PAYLOAD)
  const out = new URL(req.url)
  out.search = `?${query}&X-Amz-Signature=${s.signature}`
  return out
}
