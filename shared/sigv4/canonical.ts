/** The pure pieces of AWS Signature Version 4: URI encoding, the canonical request, the string to sign and the signing key (node:crypto only). */
import { createHash, createHmac } from 'node:crypto'

/** The one algorithm SigV4 names in the Authorization header and in X-Amz-Algorithm. */
export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256'
/** The last element of every credential scope. */
export const SIGV4_TERMINATOR = 'aws4_request'
/** Hex SHA-256 of zero bytes: the payload hash of a request without a body. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
/** The payload hash a client sends (and a presigned URL implies) when it does not sign the body. */
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD'

/**
 * How the path becomes the canonical URI. `s3`: S3's rule, the path's bytes percent-encoded once and
 * never normalized (a key may hold `//` or `..`). `normalized`: every other AWS service's rule, the one the
 * AWS test suite uses: `.`, `..` and empty segments removed, then the path as given encoded again
 * (so an `%20` on the wire becomes `%2520`).
 */
export type PathRules = 's3' | 'normalized'

/** The path rules a signature for `service` uses: S3's for `s3`, the normalized ones for any other service. */
export function pathRulesFor(service: string): PathRules {
  return service === 's3' ? 's3' : 'normalized'
}

const HEX = '0123456789ABCDEF'
/** Characters SigV4 never encodes: A-Z a-z 0-9 - . _ ~ (and '/' in a path when asked). */
const SAFE = /^[A-Za-z0-9\-._~]*$/
const SAFE_PATH = /^[A-Za-z0-9\-._~/]*$/

function isUnreserved(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e
}

/** Percent-encodes bytes the AWS way: unreserved bytes kept, every other byte as %XX (upper case); '/' kept when `keepSlash`. */
export function uriEncodeBytes(bytes: Uint8Array, keepSlash: boolean): string {
  let out = ''
  for (const b of bytes) {
    if (isUnreserved(b) || (keepSlash && b === 0x2f)) out += String.fromCharCode(b)
    else out += `%${HEX[b >> 4]}${HEX[b & 15]}`
  }
  return out
}

/** Percent-encodes a string's UTF-8 bytes the AWS way ('/' kept when `keepSlash`). Nothing is decoded first: '%' becomes %25. */
export function uriEncode(s: string, keepSlash = false): string {
  if ((keepSlash ? SAFE_PATH : SAFE).test(s)) return s
  return uriEncodeBytes(Buffer.from(s, 'utf8'), keepSlash)
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x41 && c <= 0x46) return c - 0x37
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  return -1
}

/**
 * The bytes a percent-encoded string stands for. Never throws: a '%' not followed by two hex digits stays a
 * literal '%', and '+' stays '+' (in a path it is one; canonicalQuery reads it as a space first). Working on bytes, not text, keeps a
 * key that is not valid UTF-8 signable.
 */
export function percentDecode(s: string): Buffer {
  const raw = Buffer.from(s, 'utf8')
  if (!raw.includes(0x25)) return raw
  const out = Buffer.allocUnsafe(raw.length)
  let n = 0
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i] as number
    if (b === 0x25 && i + 2 < raw.length) {
      const hi = hexValue(raw[i + 1] as number)
      const lo = hexValue(raw[i + 2] as number)
      if (hi >= 0 && lo >= 0) {
        out[n++] = (hi << 4) | lo
        i += 2
        continue
      }
    }
    out[n++] = b
  }
  return out.subarray(0, n)
}

/** Removes `.`, `..` and empty segments (the non-S3 rule); keeps a trailing '/' of a path that is not just '/'. */
export function normalizePath(path: string): string {
  const kept: string[] = []
  const segments = path.split('/')
  for (const seg of segments) {
    if (seg === '' || seg === '.') continue
    if (seg === '..') kept.pop()
    else kept.push(seg)
  }
  if (kept.length === 0) return '/'
  const last = segments[segments.length - 1]
  const trailing = last === '' || last === '.' || last === '..'
  return `/${kept.join('/')}${trailing ? '/' : ''}`
}

/**
 * The canonical URI of a path as sent on the wire (percent-encoded, before any '?').
 * `s3`: decoded to bytes and encoded once, so `%24`, `$` and `%2a`/`*` give one form; no normalization.
 * `normalized`: dot segments and empty segments removed, then encoded again as it stands.
 */
export function canonicalUri(rawPath: string, rules: PathRules): string {
  const path = rawPath === '' ? '/' : rawPath
  if (rules === 'normalized') return uriEncode(normalizePath(path), true)
  if (SAFE_PATH.test(path)) return path
  return uriEncodeBytes(percentDecode(path), true)
}

/**
 * The canonical query string of a raw query (without the '?'): each name and value decoded then encoded
 * the AWS way ('+' read as a space), sorted by encoded name then encoded value, a name without '=' given an empty value.
 * `exclude` drops one parameter by its exact (decoded) name: `X-Amz-Signature` for a presigned URL.
 */
export function canonicalQuery(rawQuery: string, exclude?: string): string {
  if (rawQuery === '') return ''
  const pairs: [string, string][] = []
  for (const part of rawQuery.split('&')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    const rawName = eq < 0 ? part : part.slice(0, eq)
    const rawValue = eq < 0 ? '' : part.slice(eq + 1)
    const name = encodeQueryComponent(rawName)
    if (exclude !== undefined && name === exclude) continue
    pairs.push([name, encodeQueryComponent(rawValue)])
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
  let out = ''
  for (const [name, value] of pairs) out += `${out === '' ? '' : '&'}${name}=${value}`
  return out
}

/** '+' in a query is a space to the servers that read it (Koa's querystring), so it is signed as one: a '+' and a %2B must not pass for each other. */
function encodeQueryComponent(raw: string): string {
  return SAFE.test(raw) ? raw : uriEncodeBytes(percentDecode(raw.replaceAll('+', '%20')), false)
}

/**
 * A header value as SigV4 signs it: the values of a repeated header joined by ',', each trimmed and with
 * runs of white space collapsed to one space.
 */
export function canonicalHeaderValue(values: string | readonly string[]): string {
  if (typeof values === 'string') return trimAll(values)
  return values.map(trimAll).join(',')
}

function trimAll(v: string): string {
  return v.trim().replace(/\s+/g, ' ')
}

/** One signed header: its lower-case name and its value(s) as received. */
export type HeaderEntry = readonly [name: string, values: string | readonly string[]]

/** The canonical headers block ("name:value\n" per header, in the order given, which must be sorted) and the signed-headers list. */
export function canonicalHeaders(entries: readonly HeaderEntry[]): { block: string; signedHeaders: string } {
  let block = ''
  let signedHeaders = ''
  for (const [name, values] of entries) {
    block += `${name}:${canonicalHeaderValue(values)}\n`
    signedHeaders += signedHeaders === '' ? name : `;${name}`
  }
  return { block, signedHeaders }
}

/** The parts of a canonical request, each already canonical. */
export interface CanonicalRequestParts {
  method: string
  canonicalUri: string
  canonicalQuery: string
  /** "name:value\n" per signed header (see canonicalHeaders) */
  canonicalHeaders: string
  signedHeaders: string
  payloadHash: string
}

/** The canonical request: method, URI, query, headers, signed headers and payload hash, one per line. */
export function canonicalRequest(p: CanonicalRequestParts): string {
  return `${p.method}\n${p.canonicalUri}\n${p.canonicalQuery}\n${p.canonicalHeaders}\n${p.signedHeaders}\n${p.payloadHash}`
}

/** Hex SHA-256 of a string or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/** The credential scope: `<yyyymmdd>/<region>/<service>/aws4_request`. */
export function credentialScope(date: string, region: string, service: string): string {
  return `${date}/${region}/${service}/${SIGV4_TERMINATOR}`
}

/** The string to sign: the algorithm, the request time (yyyymmddThhmmssZ), the scope and the canonical request's hex SHA-256. */
export function stringToSign(amzDate: string, scope: string, canonicalRequestText: string): string {
  return `${SIGV4_ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequestText)}`
}

function hmac(key: string | Uint8Array, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest()
}

/** The signing key: HMAC chain of "AWS4"+secret over the date, region, service and "aws4_request". Four HMACs: callers cache it per day. */
export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), SIGV4_TERMINATOR)
}

/** The hex signature of a string to sign under a signing key. */
export function signatureHex(key: Uint8Array, stringToSignText: string): string {
  return createHmac('sha256', key).update(stringToSignText, 'utf8').digest('hex')
}

/** `yyyymmddThhmmssZ` of a time (SigV4's ISO 8601 basic form, whole seconds, UTC). */
export function toAmzDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')
}

/** The time of a `yyyymmddThhmmssZ` string in ms since the epoch; undefined when it is not one. */
export function parseAmzDate(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s)
  if (!m) return undefined
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number]
  const ms = Date.UTC(y, mo - 1, d, h, mi, se)
  const back = new Date(ms)
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) return undefined
  return ms
}
