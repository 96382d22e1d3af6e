import test from 'ava'
import { SIGNATURE_MAX_SKEW_MS } from '../../../shared/constants.js'
import { checkSignature, signRequest } from '../../../shared/http/signing.js'
import { forEachSeed } from '../../helpers/prng.js'

const SECRET = 'cluster-secret'
const METHOD = 'PUT'
const PATH = '/internal/v1/objects/b/k%2Fx/replicate?w=2'
const TS = 1_700_000_000_000

const sig = signRequest(SECRET, METHOD, PATH, TS)
const check = (over: { secret?: string; method?: string; path?: string; ts?: string | undefined; sig?: string | undefined; now?: number } = {}) =>
  checkSignature(
    over.secret ?? SECRET,
    over.method ?? METHOD,
    over.path ?? PATH,
    'ts' in over ? over.ts : String(TS),
    'sig' in over ? over.sig : sig,
    over.now ?? TS + 1234,
  )

test('a valid, fresh signature passes', (t) => {
  t.is(check(), null)
  t.is(check({ now: TS }), null)
  t.is(check({ method: 'put' }), null, 'the method is case-insensitive')
  t.is(signRequest(SECRET, 'put', PATH, TS), sig)
  t.regex(sig, /^[A-Za-z0-9_-]{43}$/)
})

test('the skew window is inclusive at 30 s either way', (t) => {
  t.is(SIGNATURE_MAX_SKEW_MS, 30_000)
  t.is(check({ now: TS + SIGNATURE_MAX_SKEW_MS }), null)
  t.is(check({ now: TS - SIGNATURE_MAX_SKEW_MS }), null)
})

test('missing headers are refused', (t) => {
  t.is(check({ ts: undefined }), 'missing signature')
  t.is(check({ sig: undefined }), 'missing signature')
  t.is(check({ ts: undefined, sig: undefined }), 'missing signature')
  t.is(check({ ts: '' }), 'missing signature')
  t.is(check({ sig: '' }), 'missing signature')
})

test('a malformed timestamp is refused', (t) => {
  for (const ts of ['abc', '1.5', '1e400', 'NaN', String(2 ** 60)]) t.truthy(check({ ts }), ts)
  t.is(check({ ts: 'abc' }), 'malformed timestamp')
})

test('a stale or future signature is refused', (t) => {
  t.is(check({ now: TS + SIGNATURE_MAX_SKEW_MS + 1 }), 'stale signature')
  t.is(check({ now: TS - SIGNATURE_MAX_SKEW_MS - 1 }), 'stale signature')
  t.is(check({ now: TS + 3_600_000 }), 'stale signature')
  // A replayed old request re-stamped with a fresh timestamp no longer matches its signature.
  t.is(check({ ts: String(TS + 60_000), now: TS + 60_000 }), 'bad signature')
})

test('a signature for another path, query or method is refused', (t) => {
  t.is(check({ path: '/internal/v1/objects/b/k%2Fx/coordinate?w=2' }), 'bad signature')
  t.is(check({ path: '/internal/v1/objects/b/k%2Fx/replicate' }), 'bad signature', 'query is signed')
  t.is(check({ path: '/internal/v1/objects/b/k%2Fx/replicate?w=3' }), 'bad signature')
  t.is(check({ method: 'POST' }), 'bad signature')
  t.is(check({ method: 'GET' }), 'bad signature')
  t.is(check({ method: 'DELETE' }), 'bad signature')
})

test('a bad signature or the wrong secret is refused', (t) => {
  t.is(check({ secret: 'other' }), 'bad signature')
  t.is(check({ sig: 'x' }), 'bad signature')
  t.is(check({ sig: sig.slice(0, -1) }), 'bad signature')
  t.is(check({ sig: `${sig}=` }), 'bad signature')
  t.is(check({ sig: signRequest(SECRET, METHOD, PATH, TS + 1) }), 'bad signature')
  for (let i = 0; i < sig.length; i++) {
    const flipped = sig.slice(0, i) + (sig[i] === 'A' ? 'B' : 'A') + sig.slice(i + 1)
    t.is(check({ sig: flipped }), 'bad signature', `char ${i}`)
  }
})

test('property: only the exact (method, path, timestamp, secret) verifies', (t) => {
  const methods = ['GET', 'PUT', 'POST', 'DELETE']
  const paths = ['/a', '/a?b=1', '/internal/v1/gossip', '/internal/v1/keys/b?prefix=x&limit=2']
  forEachSeed(300, 51, (rng, seed) => {
    const m = rng.pick(methods)
    const p = rng.pick(paths)
    const ts = TS + rng.int(1_000_000)
    const s = signRequest(SECRET, m, p, ts)
    const m2 = rng.chance(0.5) ? m : rng.pick(methods)
    const p2 = rng.chance(0.5) ? p : rng.pick(paths)
    const skew = rng.range(-40_000, 40_000)
    const got = checkSignature(SECRET, m2, p2, String(ts), s, ts + skew)
    const want = Math.abs(skew) > SIGNATURE_MAX_SKEW_MS ? 'stale signature' : m2 === m && p2 === p ? null : 'bad signature'
    t.is(got, want, `seed ${seed}`)
  })
})
