// SigV4 against AWS's published vectors: the signer's pieces give the documented signatures, the verifier accepts them and refuses any one change.
import test from 'ava'
import {
  pathRulesFor,
  canonicalHeaders,
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  credentialScope,
  EMPTY_SHA256,
  type HeaderEntry,
  type PathRules,
  sha256Hex,
  signatureHex,
  signingKey,
  stringToSign,
  uriEncode,
} from '../../../shared/sigv4/canonical.js'
import { presignUrl, signHeaders } from '../../../shared/sigv4/signer.js'
import { parseSigV4, type SigV4Request, verifySigV4 } from '../../../proxy/access/sigv4-verifier.js'
import { SignatureDoesNotMatchError } from '../../../shared/errors.js'

// The "aws-sig-v4-test-suite" of the AWS General Reference ("Signature Version 4 test suite",
// https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html), as kept in
// aws/aws-sdk-js-v3 packages/signature-v4/src/suite.fixture.ts and awslabs/aws-c-auth
// tests/aws-signing-test-suite/v4/*/header-signed-request.txt (the normalize-path cases).
const SUITE = { id: 'AKIDEXAMPLE', secret: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', region: 'us-east-1', service: 'service', amzDate: '20150830T123600Z' }
const SUITE_NOW = Date.UTC(2015, 7, 30, 12, 36, 0)
const HOST = 'example.amazonaws.com'

interface Vector {
  name: string
  method: string
  /** the request target as the suite's .req file writes it */
  target: string
  headers?: Record<string, string | string[]>
  body?: string
  signature: string
  /** the canonical request the suite prints (.creq), where it is worth checking line by line */
  creq?: string
}

const VECTORS: Vector[] = [
  {
    name: 'get-vanilla',
    method: 'GET',
    target: '/',
    signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    creq: `GET\n/\n\nhost:${HOST}\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n${EMPTY_SHA256}`,
  },
  { name: 'get-vanilla-query', method: 'GET', target: '/?', signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31' },
  { name: 'get-vanilla-empty-query-key', method: 'GET', target: '/?Param1=value1', signature: 'a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb' },
  { name: 'get-vanilla-query-order-key-case', method: 'GET', target: '/?Param2=value2&Param1=value1', signature: 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500' },
  {
    name: 'get-vanilla-query-unreserved',
    method: 'GET',
    target: '/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
    signature: '9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197',
  },
  { name: 'get-vanilla-utf8-query', method: 'GET', target: '/?ሴ=bar', signature: '2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04' },
  {
    name: 'get-header-key-duplicate',
    method: 'GET',
    target: '/',
    headers: { 'my-header1': ['value2', 'value2', 'value1'] },
    signature: 'c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea',
  },
  {
    name: 'get-header-value-trim',
    method: 'GET',
    target: '/',
    headers: { 'my-header1': ' value1', 'my-header2': ' "a   b   c"' },
    signature: 'acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736',
    creq: `GET\n/\n\nhost:${HOST}\nmy-header1:value1\nmy-header2:"a b c"\nx-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n${EMPTY_SHA256}`,
  },
  {
    name: 'get-header-value-order',
    method: 'GET',
    target: '/',
    headers: { 'my-header1': ['value4', 'value1', 'value3', 'value2'] },
    signature: '08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01',
  },
  {
    name: 'get-unreserved',
    method: 'GET',
    target: '/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
    signature: '07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f',
  },
  { name: 'get-utf8', method: 'GET', target: '/ሴ', signature: '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85' },
  { name: 'get-space', method: 'GET', target: '/example space/', signature: '652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741' },
  { name: 'post-vanilla', method: 'POST', target: '/', signature: '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b' },
  { name: 'post-vanilla-query', method: 'POST', target: '/?Param1=value1', signature: '28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11' },
  {
    name: 'post-vanilla-query-nonunreserved',
    method: 'POST',
    target: `/?${uriEncode('@#$%^')}=&${uriEncode('+')}=${uriEncode('/,?><`";:\\|][{}')}`,
    signature: '66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e',
  },
  { name: 'post-header-key-case', method: 'POST', target: '/', signature: '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b' },
  { name: 'post-header-key-sort', method: 'POST', target: '/', headers: { 'my-header1': 'value1' }, signature: 'c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c' },
  { name: 'post-header-value-case', method: 'POST', target: '/', headers: { 'my-header1': 'VALUE1' }, signature: 'cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d' },
  {
    name: 'post-x-www-form-urlencoded',
    method: 'POST',
    target: '/',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'Param1=value1',
    signature: 'ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a',
  },
  {
    name: 'post-x-www-form-urlencoded-parameters',
    method: 'POST',
    target: '/',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf8' },
    body: 'Param1=value1',
    signature: '1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe',
  },
  // normalize-path cases (aws-c-auth's *-normalized): dot segments and empty segments removed.
  { name: 'get-relative-normalized', method: 'GET', target: '/example/..', signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31' },
  { name: 'get-relative-relative-normalized', method: 'GET', target: '/example1/example2/../..', signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31' },
  { name: 'get-slash-normalized', method: 'GET', target: '//', signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31' },
  { name: 'get-slash-dot-slash-normalized', method: 'GET', target: '/./', signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31' },
  { name: 'get-slash-pointless-dot-normalized', method: 'GET', target: '/./example', signature: 'ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5' },
  { name: 'get-slashes-normalized', method: 'GET', target: '//example//', signature: '9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84' },
]

// aws-c-auth's *-unnormalized cases: the same requests signed without normalizing, S3's rule for paths.
const UNNORMALIZED: { target: string; signature: string }[] = [
  { target: '//example//', signature: '87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5' },
  { target: '/./', signature: '68714168e6557f8f2de0ef956fc24dc2593a4bd2961f8df51898d8a134695145' },
  { target: '/example1/example2/../..', signature: 'dc33e0856fd4baca4d7aa2146c38958283844764f38c74252a333df5e613003b' },
]

function headerEntries(v: Vector): HeaderEntry[] {
  const all: Record<string, string | string[]> = { host: HOST, 'x-amz-date': SUITE.amzDate, ...v.headers }
  return Object.keys(all)
    .sort()
    .map((k) => [k, all[k] as string | string[]] as const)
}

function signSuite(v: Vector, rules: PathRules = 'normalized'): { creq: string; signature: string; signedHeaders: string } {
  const q = v.target.indexOf('?')
  const { block, signedHeaders } = canonicalHeaders(headerEntries(v))
  const creq = canonicalRequest({
    method: v.method,
    canonicalUri: canonicalUri(q < 0 ? v.target : v.target.slice(0, q), rules),
    canonicalQuery: canonicalQuery(q < 0 ? '' : v.target.slice(q + 1)),
    canonicalHeaders: block,
    signedHeaders,
    payloadHash: sha256Hex(v.body ?? ''),
  })
  const key = signingKey(SUITE.secret, SUITE.amzDate.slice(0, 8), SUITE.region, SUITE.service)
  return { creq, signedHeaders, signature: signatureHex(key, stringToSign(SUITE.amzDate, credentialScope('20150830', SUITE.region, SUITE.service), creq)) }
}

function suiteRequest(v: Vector, signature = v.signature): SigV4Request {
  const entries = headerEntries(v)
  const signedHeaders = entries.map(([k]) => k).join(';')
  const headers: Record<string, string> = {}
  const headersDistinct: Record<string, string[]> = {}
  for (const [k, val] of entries) {
    headers[k] = Array.isArray(val) ? val.join(', ') : (val as string)
    headersDistinct[k] = Array.isArray(val) ? [...val] : [val as string]
  }
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${SUITE.id}/20150830/${SUITE.region}/${SUITE.service}/aws4_request, SignedHeaders=${signedHeaders}, Signature=${signature}`
  return { method: v.method, url: v.target, headers, headersDistinct }
}

/** The target with a 'z' ending its path: a change no path rule can undo. */
function withPathSuffix(target: string): string {
  const q = target.indexOf('?')
  return q < 0 ? `${target}z` : `${target.slice(0, q)}z${target.slice(q)}`
}

function verify(req: SigV4Request, v: Vector, secret = SUITE.secret) {
  const parsed = parseSigV4(req)
  if (!parsed) throw new Error('not SigV4')
  // The suite's service normalizes paths; the proxy's endpoints never do (they verify with S3's rules).
  const pathRules = pathRulesFor(SUITE.service)
  return verifySigV4(parsed, secret, SUITE_NOW, SUITE.region, v.body === undefined ? { pathRules } : { bodySha256: sha256Hex(v.body), pathRules })
}

for (const v of VECTORS) {
  test(`suite ${v.name}: the signature AWS publishes`, (t) => {
    const got = signSuite(v)
    if (v.creq) t.is(got.creq, v.creq)
    t.is(got.signature, v.signature)
  })

  test(`suite ${v.name}: the verifier accepts it and refuses one change`, (t) => {
    t.deepEqual(verify(suiteRequest(v), v).payload, v.body === undefined ? { kind: 'unsigned' } : { kind: 'sha256', hex: sha256Hex(v.body) })
    const refused = (req: SigV4Request, secret?: string) => t.throws(() => verify(req, v, secret), { instanceOf: SignatureDoesNotMatchError })
    const req = suiteRequest(v)
    refused({ ...req, method: v.method === 'GET' ? 'PUT' : 'GET' })
    refused({ ...req, url: withPathSuffix(v.target) })
    refused({ ...req, url: `${v.target}${v.target.includes('?') ? '&' : '?'}extra=1` })
    refused({ ...req, headers: { ...req.headers, host: 'example.amazonaws.con' }, headersDistinct: { ...req.headersDistinct, host: ['example.amazonaws.con'] } })
    refused(req, `${SUITE.secret.slice(0, -1)}X`)
    refused(suiteRequest(v, `${v.signature.slice(0, -1)}${v.signature.endsWith('0') ? '1' : '0'}`))
  })
}

for (const u of UNNORMALIZED) {
  test(`suite ${u.target} unnormalized (S3 path rule): the signature AWS publishes`, (t) => {
    t.is(signSuite({ name: u.target, method: 'GET', target: u.target, signature: u.signature }, 's3').signature, u.signature)
  })
}

// AWS S3 API Reference, "Signature Calculations for the Authorization Header: Transferring Payload in a
// Single Chunk" (sig-v4-header-based-auth.html) and "Authenticating Requests: Using Query Parameters"
// (sigv4-query-string-auth.html): examplebucket, 2013-05-24.
const S3_DOC = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', region: 'us-east-1' }
const S3_NOW = new Date(Date.UTC(2013, 4, 24))
const S3_HOST = 'https://examplebucket.s3.amazonaws.com'

function sigOf(authorization: string | undefined): string {
  return /Signature=([0-9a-f]{64})$/.exec(authorization ?? '')?.[1] ?? ''
}

function asReceived(url: URL, method: string, sent: Record<string, string>): SigV4Request {
  const headers: Record<string, string> = { host: url.host }
  for (const [k, v] of Object.entries(sent)) headers[k.toLowerCase()] = v
  return { method, url: `${url.pathname}${url.search}`, headers }
}

const S3_EXAMPLES: { name: string; method: string; path: string; headers: Record<string, string>; payloadHash: string; signature: string }[] = [
  {
    name: 'GET Object with Range',
    method: 'GET',
    path: '/test.txt',
    headers: { Range: 'bytes=0-9' },
    payloadHash: EMPTY_SHA256,
    signature: 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
  },
  {
    name: 'PUT Object',
    method: 'PUT',
    path: '/test$file.text',
    headers: { Date: 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-storage-class': 'REDUCED_REDUNDANCY' },
    payloadHash: sha256Hex('Welcome to Amazon S3.'),
    signature: '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
  },
  { name: 'GET Bucket Lifecycle', method: 'GET', path: '/?lifecycle', headers: {}, payloadHash: EMPTY_SHA256, signature: 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543' },
  {
    name: 'GET Bucket (list objects)',
    method: 'GET',
    path: '/?max-keys=2&prefix=J',
    headers: {},
    payloadHash: EMPTY_SHA256,
    signature: '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7',
  },
]

for (const ex of S3_EXAMPLES) {
  test(`S3 docs ${ex.name}: signHeaders gives the documented signature, the verifier accepts it`, (t) => {
    const url = new URL(`${S3_HOST}${ex.path}`)
    const sent = signHeaders(S3_DOC, { method: ex.method, url, headers: ex.headers, payloadHash: ex.payloadHash }, S3_NOW)
    t.is(sent['x-amz-date'], '20130524T000000Z')
    t.is(sigOf(sent.authorization), ex.signature)
    const req = asReceived(url, ex.method, { ...ex.headers, ...sent })
    const parsed = parseSigV4(req)
    if (!parsed) return t.fail('not SigV4')
    t.deepEqual(verifySigV4(parsed, S3_DOC.secretAccessKey, S3_NOW.getTime(), 'us-east-1').payload, { kind: 'sha256', hex: ex.payloadHash })
    const changed = parseSigV4({ ...req, url: withPathSuffix(req.url) })
    if (!changed) return t.fail('not SigV4')
    t.throws(() => verifySigV4(changed, S3_DOC.secretAccessKey, S3_NOW.getTime(), 'us-east-1'), { instanceOf: SignatureDoesNotMatchError })
  })
}

test('S3 docs presigned GET: presignUrl gives the documented URL, the verifier accepts it and refuses it changed', (t) => {
  const url = presignUrl(S3_DOC, { method: 'GET', url: new URL(`${S3_HOST}/test.txt`), expiresSeconds: 86400 }, S3_NOW)
  t.is(
    url.href,
    `${S3_HOST}/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404`,
  )
  const req = asReceived(url, 'GET', {})
  const check = (r: SigV4Request, secret = S3_DOC.secretAccessKey) => {
    const p = parseSigV4(r)
    if (!p) throw new Error('not SigV4')
    return verifySigV4(p, secret, S3_NOW.getTime() + 3_600_000, 'us-east-1')
  }
  t.deepEqual(check(req).payload, { kind: 'unsigned' })
  t.true(parseSigV4(req)?.presigned)
  t.throws(() => check({ ...req, method: 'PUT' }), { instanceOf: SignatureDoesNotMatchError })
  t.throws(() => check({ ...req, url: req.url.replace('test.txt', 'test.tx') }), { instanceOf: SignatureDoesNotMatchError })
  t.throws(() => check({ ...req, url: req.url.replace('Expires=86400', 'Expires=86401') }), { instanceOf: SignatureDoesNotMatchError })
  t.throws(() => check({ ...req, headers: { host: 'examplebucket.s3.amazonaws.co' } }), { instanceOf: SignatureDoesNotMatchError })
  t.throws(() => check(req, 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ'), { instanceOf: SignatureDoesNotMatchError })
})
