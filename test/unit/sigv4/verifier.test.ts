// The SigV4 verifier's refusals (time, expiry, scope, malformed requests, payload hashes), presigned round trips, and its cost per request.
import { performance } from 'node:perf_hooks'
import test from 'ava'
import { parseSigV4, type SigV4Request, verifySigV4 } from '../../../proxy/access/sigv4-verifier.js'
import { AccessDeniedError, AuthorizationHeaderMalformedError, RequestTimeTooSkewedError, SignatureDoesNotMatchError } from '../../../shared/errors.js'
import { canonicalHeaders, canonicalRequest, credentialScope, EMPTY_SHA256, sha256Hex, signatureHex, signingKey, stringToSign, toAmzDate } from '../../../shared/sigv4/canonical.js'
import { presignUrl, type SigV4Credentials, signHeaders } from '../../../shared/sigv4/signer.js'

const KEY: SigV4Credentials = { accessKeyId: 'DKTESTKEY0001', secretAccessKey: 'sEcReT/with+odd=chars', region: 'us-east-1' }
const NOW = Date.UTC(2026, 11, 7, 18, 0, 0)
const BASE = 'http://127.0.0.1:8080'
const MIN = 60_000

function received(url: URL, method: string, sent: Record<string, string>): SigV4Request {
  const headers: Record<string, string> = { host: url.host }
  for (const [k, v] of Object.entries(sent)) headers[k.toLowerCase()] = v
  return { method, url: `${url.pathname}${url.search}`, headers }
}

function signed(method: string, path: string, o: { headers?: Record<string, string>; payloadHash?: string; at?: number } = {}): SigV4Request {
  const url = new URL(`${BASE}${path}`)
  const sent = signHeaders(KEY, { method, url, headers: o.headers, payloadHash: o.payloadHash }, new Date(o.at ?? NOW))
  return received(url, method, { ...o.headers, ...sent })
}

function check(req: SigV4Request, o: { now?: number; secret?: string; region?: string } = {}) {
  const p = parseSigV4(req)
  if (!p) throw new Error('not SigV4')
  return verifySigV4(p, o.secret ?? KEY.secretAccessKey, o.now ?? NOW, o.region ?? 'us-east-1')
}

test('no SigV4: undefined, so the caller tries Basic or refuses', (t) => {
  t.is(parseSigV4({ method: 'GET', url: '/buckets', headers: { host: 'h' } }), undefined)
  t.is(parseSigV4({ method: 'GET', url: '/buckets?x=X-Amz-Algorith', headers: { host: 'h', authorization: 'Basic YTpi' } }), undefined)
})

test('header form: signed keys, odd paths and queries verify; the payload kinds follow x-amz-content-sha256', (t) => {
  t.deepEqual(check(signed('GET', '/buckets/b/files/a%20b%2Bc~d$e*f(g)!?prefix=x%2Fy&limit=2&cursor=')).payload, { kind: 'unsigned' })
  t.deepEqual(check(signed('PUT', '/buckets/b/files/%E2%82%AC.txt', { payloadHash: sha256Hex('hi') })).payload, { kind: 'sha256', hex: sha256Hex('hi') })
  t.deepEqual(check(signed('PUT', '/buckets/b/files/k', { payloadHash: sha256Hex('hi').toUpperCase() })).payload, { kind: 'sha256', hex: sha256Hex('hi') })
  t.deepEqual(check(signed('GET', '/buckets/b/files/k', { headers: { 'x-context': 'abc', 'Content-Type': 'text/plain' } })).payload, { kind: 'unsigned' })
  const p = parseSigV4(signed('GET', '/buckets'))
  t.is(p?.accessKeyId, KEY.accessKeyId)
  t.false(p?.presigned)
  t.deepEqual(p?.signedHeaders, ['host', 'x-amz-content-sha256', 'x-amz-date'])
})

test('a "+" and a %2B in a query are not the same request (Koa reads "+" as a space)', (t) => {
  const req = signed('GET', '/buckets/b/files?prefix=a%2Bb')
  check(req)
  t.throws(() => check({ ...req, url: '/buckets/b/files?prefix=a+b' }), { instanceOf: SignatureDoesNotMatchError })
})

test('unsigned x-amz-* headers are refused, as S3 does (a presigned PUT must not carry an x-amz-copy-source its signer never saw)', (t) => {
  const req = signed('GET', '/buckets')
  req.headers['x-amz-meta-evil'] = '1'
  t.throws(() => check(req), { instanceOf: AccessDeniedError, message: /not signed: x-amz-meta-evil/ })
  t.deepEqual(parseSigV4(req)?.unsignedAmzHeaders, ['x-amz-meta-evil'])
  const withSigned = signed('GET', '/buckets', { headers: { 'x-amz-meta-fine': '2' } })
  t.deepEqual(parseSigV4(withSigned)?.unsignedAmzHeaders, [])
  t.throws(() => check({ ...withSigned, headers: { ...withSigned.headers, 'x-amz-meta-fine': '3' } }), { instanceOf: SignatureDoesNotMatchError })
})

test('x-amz-content-sha256: what was signed binds, STREAMING is refused as unsupported, junk is malformed', (t) => {
  const req = signed('PUT', '/buckets/b/files/k', { payloadHash: sha256Hex('a') })
  t.throws(() => check({ ...req, headers: { ...req.headers, 'x-amz-content-sha256': sha256Hex('b') } }), { instanceOf: SignatureDoesNotMatchError })
  t.throws(() => check({ ...req, headers: { ...req.headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }), { instanceOf: SignatureDoesNotMatchError })
  const streaming = signed('PUT', '/buckets/b/files/k', { payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' })
  t.throws(() => check(streaming), { instanceOf: AuthorizationHeaderMalformedError, message: /not supported on the native API/ })
  t.throws(() => check(signed('PUT', '/buckets/b/files/k', { payloadHash: 'abc' })), { instanceOf: AuthorizationHeaderMalformedError })
})

/** Signed as curl --aws-sigv4 signs: host and x-amz-date only, no x-amz-content-sha256 header, `payloadHash` in the canonical request. */
function signedLikeCurl(method: string, path: string, payloadHash: string): SigV4Request {
  const url = new URL(`${BASE}${path}`)
  const amzDate = toAmzDate(new Date(NOW))
  const { block, signedHeaders } = canonicalHeaders([
    ['host', url.host],
    ['x-amz-date', amzDate],
  ])
  const creq = canonicalRequest({ method, canonicalUri: url.pathname, canonicalQuery: '', canonicalHeaders: block, signedHeaders, payloadHash })
  const scope = credentialScope(amzDate.slice(0, 8), KEY.region, 's3')
  const signature = signatureHex(signingKey(KEY.secretAccessKey, amzDate.slice(0, 8), KEY.region, 's3'), stringToSign(amzDate, scope, creq))
  const authorization = `AWS4-HMAC-SHA256 Credential=${KEY.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`
  return { method, url: url.pathname, headers: { host: url.host, 'x-amz-date': amzDate, authorization } }
}

test('no x-amz-content-sha256: the empty-body hash is what was signed, the body is unsigned; a body hash given verifies curl --data-binary style', (t) => {
  t.deepEqual(check(signedLikeCurl('PUT', '/buckets/b/files/k', EMPTY_SHA256)).payload, { kind: 'unsigned' })
  const overBody = signedLikeCurl('PUT', '/buckets/b/files/k', sha256Hex('body'))
  t.throws(() => check(overBody), { instanceOf: SignatureDoesNotMatchError, message: /empty body/ })
  const p = parseSigV4(overBody)
  if (!p) return t.fail()
  t.deepEqual(verifySigV4(p, KEY.secretAccessKey, NOW, 'us-east-1', { bodySha256: sha256Hex('body') }).payload, { kind: 'sha256', hex: sha256Hex('body') })
  t.throws(() => verifySigV4(p, KEY.secretAccessKey, NOW, 'us-east-1', { bodySha256: sha256Hex('other') }), { instanceOf: SignatureDoesNotMatchError })
  const signedHash = signed('PUT', '/buckets/b/files/k', { payloadHash: sha256Hex('a') })
  const q = parseSigV4(signedHash)
  if (!q) return t.fail()
  const sent = verifySigV4(q, KEY.secretAccessKey, NOW, 'us-east-1', { bodySha256: sha256Hex('b') })
  t.deepEqual(sent.payload, { kind: 'sha256', hex: sha256Hex('a') }, 'a sent x-amz-content-sha256 is what the body must match, whatever hash the caller has')
})

test('header form: more than 15 minutes either way is RequestTimeTooSkewed; the Date header stands in for x-amz-date', (t) => {
  const req = signed('GET', '/buckets')
  check(req, { now: NOW + 15 * MIN })
  check(req, { now: NOW - 15 * MIN })
  t.throws(() => check(req, { now: NOW + 15 * MIN + 1 }), { instanceOf: RequestTimeTooSkewedError })
  t.throws(() => check(req, { now: NOW - 16 * MIN }), { instanceOf: RequestTimeTooSkewedError })
  const viaDate = signed('GET', '/buckets')
  const amzDate = viaDate.headers['x-amz-date'] as string
  delete viaDate.headers['x-amz-date']
  viaDate.headers.date = new Date(NOW).toUTCString()
  t.is(parseSigV4(viaDate)?.amzDate, amzDate)
  t.throws(() => check(viaDate, { now: NOW + 20 * MIN }), { instanceOf: RequestTimeTooSkewedError })
  delete viaDate.headers.date
  t.throws(() => parseSigV4(viaDate), { instanceOf: AuthorizationHeaderMalformedError })
})

test('scope: a region not ours, a date not the request date, a terminator not aws4_request are malformed', (t) => {
  t.throws(() => check(signed('GET', '/buckets'), { region: 'eu-west-1' }), { instanceOf: AuthorizationHeaderMalformedError, message: /region/ })
  const req = signed('GET', '/buckets')
  const auth = req.headers.authorization as string
  const withCredential = (cred: string) => ({ ...req, headers: { ...req.headers, authorization: auth.replace(/Credential=[^,]+/, `Credential=${cred}`) } })
  t.throws(() => check(withCredential(`${KEY.accessKeyId}/20261206/us-east-1/s3/aws4_request`)), { instanceOf: AuthorizationHeaderMalformedError, message: /date/ })
  t.throws(() => check(withCredential(`${KEY.accessKeyId}/20261207/us-east-1/s3/aws5_request`)), { instanceOf: AuthorizationHeaderMalformedError, message: /aws4_request/ })
  t.throws(() => check(withCredential(`${KEY.accessKeyId}/20261207/us-east-1/s3`)), { instanceOf: AuthorizationHeaderMalformedError })
})

test('malformed Authorization headers and presigned queries', (t) => {
  const req = signed('GET', '/buckets')
  const auth = req.headers.authorization as string
  const malformed = (authorization: string) => t.throws(() => parseSigV4({ ...req, headers: { ...req.headers, authorization } }), { instanceOf: AuthorizationHeaderMalformedError })
  malformed('AWS4-HMAC-SHA256 ')
  malformed('AWS4-ECDSA-P256-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00')
  malformed(auth.replace(/SignedHeaders=[^,]+/, 'SignedHeaders=x-amz-date'))
  malformed(auth.replace(/SignedHeaders=[^,]+/, 'SignedHeaders=Host;x-amz-date'))
  malformed(auth.replace(/Signature=.*/, 'Signature=xyz'))
  malformed(auth.replace(/, Signature=.*/, ''))
  malformed(auth.replace(/Credential=/, 'Credentials='))
  t.throws(() => parseSigV4({ ...req, headers: { ...req.headers, 'x-amz-date': '2026-12-07T18:00:00Z' } }), { instanceOf: AuthorizationHeaderMalformedError })
  const url = presignUrl(KEY, { method: 'GET', url: new URL(`${BASE}/buckets/b/files/k`), expiresSeconds: 60 }, new Date(NOW))
  const pre = received(url, 'GET', {})
  t.throws(() => parseSigV4({ ...pre, headers: { ...pre.headers, authorization: auth } }), { instanceOf: AuthorizationHeaderMalformedError })
  t.throws(() => parseSigV4({ ...pre, url: pre.url.replace(/&X-Amz-Date=[^&]+/, '') }), { instanceOf: AuthorizationHeaderMalformedError, message: /X-Amz-Date/ })
  t.throws(() => parseSigV4({ ...pre, url: pre.url.replace('X-Amz-Expires=60', 'X-Amz-Expires=soon') }), { instanceOf: AuthorizationHeaderMalformedError })
  t.throws(() => parseSigV4({ ...pre, url: pre.url.replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA512') }), { instanceOf: AuthorizationHeaderMalformedError })
  t.throws(() => parseSigV4({ ...pre, url: `${pre.url}&X-Amz-Date=20261207T180000Z` }), { instanceOf: AuthorizationHeaderMalformedError, message: /repeats/ })
})

test('presigned round trip: valid until X-Amz-Date + X-Amz-Expires, then AccessDenied "Request has expired"', (t) => {
  const url = presignUrl(KEY, { method: 'PUT', url: new URL(`${BASE}/buckets/b/files/a%20b?x-id=PutObject`), expiresSeconds: 300 }, new Date(NOW))
  const req = received(url, 'PUT', { 'x-amz-content-sha256': sha256Hex('ignored') })
  const p = parseSigV4(req)
  t.true(p?.presigned)
  t.is(p?.expiresSeconds, 300)
  t.deepEqual(check(req).payload, { kind: 'unsigned' }, 'a presigned body is unsigned, whatever header comes with it')
  check(req, { now: NOW + 300_000 })
  t.throws(() => check(req, { now: NOW + 300_001 }), { instanceOf: AccessDeniedError, message: 'Request has expired' })
  t.throws(() => check(req, { now: NOW - 16 * MIN }), { instanceOf: AccessDeniedError })
  t.throws(() => check({ ...req, method: 'GET' }), { instanceOf: SignatureDoesNotMatchError })
  t.throws(() => check({ ...req, url: req.url.replace('x-id=PutObject', 'x-id=GetObject') }), { instanceOf: SignatureDoesNotMatchError })
  t.throws(() => check(req, { secret: 'other' }), { instanceOf: SignatureDoesNotMatchError })
})

test('presigned X-Amz-Expires outside 1..604800 is malformed; presignUrl refuses to make one', (t) => {
  const url = presignUrl(KEY, { method: 'GET', url: new URL(`${BASE}/buckets`), expiresSeconds: 604800 }, new Date(NOW))
  check(received(url, 'GET', {}))
  for (const bad of ['0', '604801']) {
    const req = received(url, 'GET', {})
    t.throws(() => check({ ...req, url: req.url.replace('X-Amz-Expires=604800', `X-Amz-Expires=${bad}`) }), { instanceOf: AuthorizationHeaderMalformedError })
  }
  t.throws(() => presignUrl(KEY, { method: 'GET', url: new URL(BASE), expiresSeconds: 0 }), { instanceOf: RangeError })
  t.throws(() => presignUrl(KEY, { method: 'GET', url: new URL(BASE), expiresSeconds: 604801 }), { instanceOf: RangeError })
})

test('repeated signed headers: headersDistinct joins them with "," as signed', (t) => {
  const url = new URL(`${BASE}/buckets`)
  const sent = signHeaders(KEY, { method: 'GET', url, headers: { 'x-tag': 'a,b' } }, new Date(NOW))
  const req = received(url, 'GET', sent)
  req.headers['x-tag'] = 'a, b'
  req.headersDistinct = { 'x-tag': ['a', 'b'] }
  t.notThrows(() => check(req))
  t.throws(() => check({ ...req, headersDistinct: { 'x-tag': ['a', 'c'] } }), { instanceOf: SignatureDoesNotMatchError })
})

test('cost: microseconds per verification (parse + verify, signing key cached)', (t) => {
  const req = signed('PUT', '/buckets/photos/files/2026/12/cat%20picture.jpg?w=2', { headers: { 'content-type': 'image/jpeg', 'x-context': 'abcdef' }, payloadHash: sha256Hex('x') })
  const n = 20_000
  for (let i = 0; i < 1000; i++) check(req)
  const start = performance.now()
  for (let i = 0; i < n; i++) check(req)
  const perVerifyUs = ((performance.now() - start) * 1000) / n
  const url = new URL(`${BASE}/buckets/photos/files/2026/12/cat%20picture.jpg?w=2`)
  const signStart = performance.now()
  for (let i = 0; i < n; i++) signHeaders(KEY, { method: 'PUT', url, headers: { 'content-type': 'image/jpeg' }, payloadHash: EMPTY_SHA256 }, new Date(NOW))
  const perSignUs = ((performance.now() - signStart) * 1000) / n
  t.log(`SigV4: ${perVerifyUs.toFixed(1)} µs per parse+verify, ${perSignUs.toFixed(1)} µs per signHeaders (${n} iterations each)`)
  t.pass()
})
