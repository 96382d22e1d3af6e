/**
 * The proxy's side of AWS Signature V4 (Authorization header or presigned URL): parseSigV4 reads the
 * request without any secret (so the caller can look the key up), verifySigV4 checks it with the key's
 * secret and says what the body must hash to.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { PRESIGN_MAX_EXPIRES_SECONDS, SIGV4_MAX_SKEW_MS } from '../../shared/constants.js'
import { AccessDeniedError, AuthorizationHeaderMalformedError, RequestTimeTooSkewedError, SignatureDoesNotMatchError } from '../../shared/errors.js'
import {
  canonicalHeaders,
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  credentialScope,
  EMPTY_SHA256,
  type HeaderEntry,
  type PathRules,
  parseAmzDate,
  percentDecode,
  SIGV4_ALGORITHM,
  SIGV4_TERMINATOR,
  signingKey,
  stringToSign,
  toAmzDate,
  UNSIGNED_PAYLOAD,
} from '../../shared/sigv4/canonical.js'

/** Derived signing keys kept: one per key and day in use; 1024 covers far more keys than a cluster serves at once (each is ~100 bytes). */
const SIGNING_KEY_CACHE_MAX = 1024

export interface SigV4Request {
  method: string
  /** raw path+query as sent (Koa ctx.url) */
  url: string
  headers: IncomingHttpHeaders
  /**
   * Every value of every header (node's req.headersDistinct). Optional: without it a repeated signed
   * header is read from `headers`, where node joins most repeats with ', ' (SigV4 joins them with ',').
   */
  headersDistinct?: NodeJS.Dict<string[]>
}

/** `streaming`: an aws-chunked body (S3 only, parseSigV4's `streaming` option): `mode` is the x-amz-content-sha256 sent, and each chunk carries its own signature or none. */
export type PayloadHash = { kind: 'unsigned' } | { kind: 'sha256'; hex: string } | { kind: 'streaming'; mode: StreamingMode }

/** The aws-chunked forms of x-amz-content-sha256 the S3 endpoint reads (proxy/s3/aws-chunked.ts). */
export const STREAMING_MODES = ['STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'] as const
export type StreamingMode = (typeof STREAMING_MODES)[number]

/** A request's SigV4 as sent, read without the secret. */
export interface ParsedSigV4 {
  accessKeyId: string
  /** true for a presigned URL (X-Amz-* query parameters), false for an Authorization header */
  presigned: boolean
  /** the credential scope as sent: date (yyyymmdd), region, service, terminator */
  scope: { date: string; region: string; service: string; terminator: string }
  /** the request time signed over (yyyymmddThhmmssZ, from X-Amz-Date, x-amz-date or Date) */
  amzDate: string
  requestTimeMs: number
  /** X-Amz-Expires of a presigned URL, as sent (verifySigV4 checks its range) */
  expiresSeconds?: number
  /** the lower-case header names the signature covers, as listed */
  signedHeaders: readonly string[]
  /** x-amz-* headers sent but not signed: verification ignores them, and nothing may trust them */
  unsignedAmzHeaders: readonly string[]
  /** hex signature as sent */
  signature: string
  /** what the body must hash to once the signature holds */
  payload: PayloadHash
  /** the request as verifySigV4 rebuilds it; not for callers */
  readonly request: { method: string; rawPath: string; rawQuery: string; headers: readonly HeaderEntry[]; payloadHash: string; contentHashSent: boolean }
}

const malformed = (msg: string) => new AuthorizationHeaderMalformedError(msg)

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v
}

/** The query's parameters by decoded name (first value), for the X-Amz-* of a presigned URL. */
function queryParams(rawQuery: string): Map<string, string> {
  const out = new Map<string, string>()
  if (rawQuery === '') return out
  for (const part of rawQuery.split('&')) {
    const eq = part.indexOf('=')
    const name = percentDecode(eq < 0 ? part : part.slice(0, eq)).toString('utf8')
    if (!name.startsWith('X-Amz-')) continue
    if (out.has(name)) throw malformed(`the query repeats ${name}`)
    out.set(name, eq < 0 ? '' : percentDecode(part.slice(eq + 1).replaceAll('+', '%20')).toString('utf8'))
  }
  return out
}

function parseCredential(credential: string): { accessKeyId: string; scope: ParsedSigV4['scope'] } {
  const parts = credential.split('/')
  const [accessKeyId, date, region, service, terminator] = parts
  if (parts.length !== 5 || !accessKeyId || !date || !region || !service || !terminator) {
    throw malformed(`the Credential must be ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/${SIGV4_TERMINATOR}, got '${credential}'`)
  }
  if (!/^\d{8}$/.test(date)) throw malformed(`the Credential's date must be YYYYMMDD, got '${date}'`)
  return { accessKeyId, scope: { date, region, service, terminator } }
}

function parseSignedHeaders(list: string): string[] {
  const names = list.split(';')
  if (list === '' || names.some((n) => !/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(n))) throw malformed(`SignedHeaders must be lower-case header names separated by ';', got '${list}'`)
  if (!names.includes('host')) throw malformed('SignedHeaders must include host')
  return names
}

function parseSignature(sig: string | undefined): string {
  if (sig === undefined || !/^[0-9a-f]{64}$/.test(sig)) throw malformed('the Signature must be 64 lower-case hex digits')
  return sig
}

/** The Authorization header's Credential, SignedHeaders and Signature ("k=v" separated by ',' and optional spaces). */
function authorizationFields(auth: string): Map<string, string> {
  const fields = new Map<string, string>()
  for (const item of auth.slice(SIGV4_ALGORITHM.length + 1).split(',')) {
    const field = item.trim()
    const eq = field.indexOf('=')
    if (eq < 1) throw malformed(`the Authorization header has a part '${field}' that is not NAME=VALUE`)
    fields.set(field.slice(0, eq), field.slice(eq + 1))
  }
  return fields
}

function requestTime(headers: IncomingHttpHeaders): { amzDate: string; ms: number } {
  const xAmzDate = single(headers['x-amz-date'])
  if (xAmzDate !== undefined) {
    const ms = parseAmzDate(xAmzDate)
    if (ms === undefined) throw malformed(`x-amz-date must be YYYYMMDDTHHMMSSZ, got '${xAmzDate}'`)
    return { amzDate: xAmzDate, ms }
  }
  const date = single(headers.date)
  const ms = date === undefined ? Number.NaN : Date.parse(date)
  if (Number.isNaN(ms)) throw malformed('a SigV4 request needs its time in x-amz-date (YYYYMMDDTHHMMSSZ) or Date')
  return { amzDate: toAmzDate(new Date(ms)), ms }
}

/** What x-amz-content-sha256 says about the body, and the payload hash the canonical request carries. */
function payloadOf(headers: IncomingHttpHeaders, streaming: boolean): { payload: PayloadHash; payloadHash: string; contentHashSent: boolean } {
  const sent = single(headers['x-amz-content-sha256'])
  // curl --aws-sigv4 sends none and signs with the empty body's hash: the body then counts as unsigned.
  if (sent === undefined) return { payload: { kind: 'unsigned' }, payloadHash: EMPTY_SHA256, contentHashSent: false }
  if (sent === UNSIGNED_PAYLOAD) return { payload: { kind: 'unsigned' }, payloadHash: sent, contentHashSent: true }
  if (/^[0-9a-fA-F]{64}$/.test(sent)) return { payload: { kind: 'sha256', hex: sent.toLowerCase() }, payloadHash: sent, contentHashSent: true }
  const mode = STREAMING_MODES.find((m) => m === sent)
  if (streaming && mode !== undefined) return { payload: { kind: 'streaming', mode }, payloadHash: sent, contentHashSent: true }
  if (sent.startsWith('STREAMING-')) {
    throw malformed(`x-amz-content-sha256 ${sent} (aws-chunked upload) is not supported on the native API: send the body whole, with its hex SHA-256 or UNSIGNED-PAYLOAD`)
  }
  throw malformed(`x-amz-content-sha256 must be the body's hex SHA-256 or UNSIGNED-PAYLOAD, got '${sent}'`)
}

function signedEntries(req: SigV4Request, names: readonly string[]): HeaderEntry[] {
  return [...names].sort().map((name) => [name, req.headersDistinct?.[name] ?? req.headers[name] ?? ''] as const)
}

/** Bound by the signature even when not listed as signed: the payload hash is a line of the canonical request, the date is in the string to sign. */
const UNSIGNED_AMZ_ALLOWED = new Set(['x-amz-content-sha256', 'x-amz-date'])

function unsignedAmz(headers: IncomingHttpHeaders, signed: readonly string[]): string[] {
  return Object.keys(headers).filter((h) => h.startsWith('x-amz-') && !signed.includes(h))
}

/**
 * undefined when the request carries no SigV4 (no 'AWS4-HMAC-SHA256 ' Authorization, no X-Amz-Algorithm query); throws AuthorizationHeaderMalformedError when it carries a malformed one.
 * `opts.streaming`: accept the aws-chunked payload forms (STREAMING_MODES), which only the S3 endpoint decodes.
 */
export function parseSigV4(req: SigV4Request, opts: { streaming?: boolean } = {}): ParsedSigV4 | undefined {
  const q = req.url.indexOf('?')
  const rawPath = q < 0 ? req.url : req.url.slice(0, q)
  const rawQuery = q < 0 ? '' : req.url.slice(q + 1)
  const auth = single(req.headers.authorization) ?? ''
  const headerForm = auth.startsWith('AWS4-')
  const queryForm = rawQuery.includes('X-Amz-Algorithm=')
  if (!headerForm && !queryForm) return undefined
  if (headerForm && !auth.startsWith(`${SIGV4_ALGORITHM} `)) throw malformed(`unsupported signature algorithm '${auth.split(' ')[0]}': use ${SIGV4_ALGORITHM}`)
  if (queryForm) {
    const params = queryParams(rawQuery)
    if (!params.has('X-Amz-Algorithm')) return headerForm ? parseHeaderForm(req, auth, rawPath, rawQuery, opts.streaming === true) : undefined
    if (auth !== '') throw malformed('a presigned URL (X-Amz-Algorithm) may not carry an Authorization header too: use one or the other')
    return parsePresigned(req, params, rawPath, rawQuery)
  }
  return parseHeaderForm(req, auth, rawPath, rawQuery, opts.streaming === true)
}

function parseHeaderForm(req: SigV4Request, auth: string, rawPath: string, rawQuery: string, streaming = false): ParsedSigV4 {
  const fields = authorizationFields(auth)
  const credential = fields.get('Credential')
  const list = fields.get('SignedHeaders')
  if (credential === undefined || list === undefined || !fields.has('Signature')) throw malformed('the Authorization header needs Credential=, SignedHeaders= and Signature=')
  const { accessKeyId, scope } = parseCredential(credential)
  const signedHeaders = parseSignedHeaders(list)
  const signature = parseSignature(fields.get('Signature'))
  const { amzDate, ms } = requestTime(req.headers)
  const { payload, payloadHash, contentHashSent } = payloadOf(req.headers, streaming)
  return {
    accessKeyId,
    presigned: false,
    scope,
    amzDate,
    requestTimeMs: ms,
    signedHeaders,
    unsignedAmzHeaders: unsignedAmz(req.headers, signedHeaders),
    signature,
    payload,
    request: { method: req.method, rawPath, rawQuery, headers: signedEntries(req, signedHeaders), payloadHash, contentHashSent },
  }
}

function parsePresigned(req: SigV4Request, params: Map<string, string>, rawPath: string, rawQuery: string): ParsedSigV4 {
  const need = (name: string): string => {
    const v = params.get(name)
    if (v === undefined) throw malformed(`a presigned URL needs ${name}`)
    return v
  }
  if (need('X-Amz-Algorithm') !== SIGV4_ALGORITHM) throw malformed(`X-Amz-Algorithm must be ${SIGV4_ALGORITHM}`)
  const { accessKeyId, scope } = parseCredential(need('X-Amz-Credential'))
  const amzDate = need('X-Amz-Date')
  const ms = parseAmzDate(amzDate)
  if (ms === undefined) throw malformed(`X-Amz-Date must be YYYYMMDDTHHMMSSZ, got '${amzDate}'`)
  const expires = need('X-Amz-Expires')
  if (!/^\d{1,7}$/.test(expires)) throw malformed(`X-Amz-Expires must be a number of seconds (1..${PRESIGN_MAX_EXPIRES_SECONDS}), got '${expires}'`)
  const signedHeaders = parseSignedHeaders(need('X-Amz-SignedHeaders'))
  const signature = parseSignature(need('X-Amz-Signature'))
  return {
    accessKeyId,
    presigned: true,
    scope,
    amzDate,
    requestTimeMs: ms,
    expiresSeconds: Number(expires),
    signedHeaders,
    unsignedAmzHeaders: unsignedAmz(req.headers, signedHeaders),
    signature,
    payload: { kind: 'unsigned' },
    request: { method: req.method, rawPath, rawQuery, headers: signedEntries(req, signedHeaders), payloadHash: UNSIGNED_PAYLOAD, contentHashSent: false },
  }
}

/** Derived signing keys by (key id, secret, day, region, service); the oldest goes first when full. */
const signingKeys = new Map<string, Buffer>()

function cachedSigningKey(p: ParsedSigV4, secret: string): Buffer {
  const id = `${p.accessKeyId}\n${secret}\n${p.scope.date}\n${p.scope.region}\n${p.scope.service}`
  let key = signingKeys.get(id)
  if (key === undefined) {
    key = signingKey(secret, p.scope.date, p.scope.region, p.scope.service)
    if (signingKeys.size >= SIGNING_KEY_CACHE_MAX) signingKeys.delete(signingKeys.keys().next().value as string)
    signingKeys.set(id, key)
  }
  return key
}

function checkScopeAndTime(p: ParsedSigV4, nowMs: number, region: string): void {
  if (p.scope.terminator !== SIGV4_TERMINATOR) throw malformed(`the credential scope must end in ${SIGV4_TERMINATOR}, not '${p.scope.terminator}'`)
  if (p.scope.date !== p.amzDate.slice(0, 8)) throw malformed(`the credential scope's date ${p.scope.date} is not the request's date ${p.amzDate.slice(0, 8)}`)
  if (p.scope.region !== region) throw malformed(`the region '${p.scope.region}' is wrong; expecting '${region}'`)
  if (!p.presigned) {
    if (Math.abs(p.requestTimeMs - nowMs) > SIGV4_MAX_SKEW_MS) {
      throw new RequestTimeTooSkewedError(`the request time ${p.amzDate} is more than ${SIGV4_MAX_SKEW_MS / 60_000} minutes from the server's ${toAmzDate(new Date(nowMs))}`)
    }
    return
  }
  const expires = p.expiresSeconds ?? 0
  if (expires < 1 || expires > PRESIGN_MAX_EXPIRES_SECONDS) throw malformed(`X-Amz-Expires must be 1..${PRESIGN_MAX_EXPIRES_SECONDS} seconds, got ${expires}`)
  if (p.requestTimeMs - nowMs > SIGV4_MAX_SKEW_MS) throw new AccessDeniedError('Request is not yet valid')
  if (nowMs > p.requestTimeMs + expires * 1000) throw new AccessDeniedError('Request has expired')
}

/**
 * The (URI, query) pairs a signature may be over, most likely first. Always the canonical forms. For S3 and
 * the header form, also the path and query exactly as sent: curl 7.x signs them without re-encoding or
 * sorting. Both are functions of the bytes received, so neither lets a signature pass for another request.
 */
function* targets(p: ParsedSigV4, rules: PathRules): Generator<[string, string]> {
  const { rawPath, rawQuery } = p.request
  const uri = canonicalUri(rawPath, rules)
  const query = canonicalQuery(rawQuery, p.presigned ? 'X-Amz-Signature' : undefined)
  yield [uri, query]
  if (p.presigned || rules !== 's3') return
  const sentPath = rawPath === '' ? '/' : rawPath
  if (sentPath !== uri) yield [sentPath, query]
  if (rawQuery !== query) yield [sentPath, rawQuery]
}

/**
 * Checks the signature with the key's secret at `nowMs`: throws SignatureDoesNotMatchError,
 * RequestTimeTooSkewedError (header form: x-amz-date (or Date) more than 15 min from now),
 * AccessDeniedError('Request has expired') for a presigned URL past X-Amz-Date+X-Amz-Expires (Expires must
 * be 1..604800, else AuthorizationHeaderMalformedError), AuthorizationHeaderMalformedError for a credential
 * scope whose date differs from x-amz-date's or whose terminator is not aws4_request, or a region not
 * `region`. Returns what the body must hash to.
 *
 * `opts.bodySha256`: the hex SHA-256 of a body the caller already holds whole. Only used when the request
 * sent no x-amz-content-sha256: curl --data-binary signs the body's real hash without sending it (curl -T
 * signs the empty body's). With it, such a signature verifies and the body counts as signed.
 */
export function verifySigV4(p: ParsedSigV4, secret: string, nowMs: number, region: string, opts: { bodySha256?: string; pathRules?: PathRules } = {}): { payload: PayloadHash } {
  // As S3 answers: every x-amz-* header must be signed, or a presigned PUT (or a header added in
  // transit) could carry x-amz-copy-source, metadata or checksums its signer never saw.
  const unsigned = p.unsignedAmzHeaders.filter((h) => !UNSIGNED_AMZ_ALLOWED.has(h))
  if (unsigned.length > 0) throw new AccessDeniedError(`there were headers present in the request which were not signed: ${unsigned.join(', ')}`)
  checkScopeAndTime(p, nowMs, region)
  const key = cachedSigningKey(p, secret)
  const scope = credentialScope(p.scope.date, p.scope.region, p.scope.service)
  const { block, signedHeaders } = canonicalHeaders(p.request.headers)
  const method = p.request.method.toUpperCase()
  const sent = Buffer.from(p.signature, 'hex')
  const payloads: [string, PayloadHash][] = [[p.request.payloadHash, p.payload]]
  const body = opts.bodySha256?.toLowerCase()
  if (!p.presigned && !p.request.contentHashSent && body !== undefined && body !== EMPTY_SHA256) payloads.push([body, { kind: 'sha256', hex: body }])
  for (const [payloadHash, payload] of payloads) {
    // Both endpoints route the path as sent, never normalized: a signature is checked over that same path
    // whatever service it names (a normalized one would let /other/../mine stand for /mine).
    for (const [uri, query] of targets(p, opts.pathRules ?? 's3')) {
      const creq = canonicalRequest({ method, canonicalUri: uri, canonicalQuery: query, canonicalHeaders: block, signedHeaders, payloadHash })
      const mine = createHmac('sha256', key)
        .update(stringToSign(p.amzDate, scope, creq), 'utf8')
        .digest()
      if (timingSafeEqual(mine, sent)) return { payload }
    }
  }
  throw new SignatureDoesNotMatchError(
    `the request signature we calculated does not match the signature you provided: check the secret of access key ${p.accessKeyId}${p.request.contentHashSent || p.presigned ? '' : " (with no x-amz-content-sha256 header, the payload hash signed must be the empty body's)"}`,
  )
}
