import test from 'ava'
import { SIGNATURE_MAX_SKEW_MS } from '../../../shared/constants.js'
import { checkSignature, newNonce, ReplayGuard, signRequest } from '../../../shared/http/signing.js'
import { forEachSeed } from '../../helpers/prng.js'

const SECRET = 'cluster-secret'
const METHOD = 'PUT'
const PATH = '/internal/v1/objects/b/k%2Fx/replicate?w=2'
const TS = 1_700_000_000_000

const NONCE = 'AAAAAAAAAAAAAAAAAAAAAAAA'
const sign = (method: string, path: string, timestampMs: number, nonce = NONCE) => signRequest(SECRET, { method, path, timestampMs, nonce })
const sig = sign(METHOD, PATH, TS)
const check = (
  over: { secret?: string; method?: string; path?: string; ts?: string | undefined; nonce?: string | undefined; sig?: string | undefined; now?: number } = {},
) =>
  checkSignature(
    over.secret ?? SECRET,
    {
      method: over.method ?? METHOD,
      path: over.path ?? PATH,
      timestamp: 'ts' in over ? over.ts : String(TS),
      nonce: 'nonce' in over ? over.nonce : NONCE,
      signature: 'sig' in over ? over.sig : sig,
    },
    over.now ?? TS + 1234,
  )

test('a valid, fresh signature passes', (t) => {
  t.is(check(), null)
  t.is(check({ now: TS }), null)
  t.is(check({ method: 'put' }), null, 'the method is case-insensitive')
  t.is(sign('put', PATH, TS), sig)
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
  t.is(check({ nonce: undefined }), 'missing signature')
  t.is(check({ nonce: 'short' }), 'malformed nonce')
  t.is(check({ nonce: 'has spaces and is long enough' }), 'malformed nonce')
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
  t.is(check({ sig: sign(METHOD, PATH, TS + 1) }), 'bad signature')
  t.is(check({ nonce: 'BAAAAAAAAAAAAAAAAAAAAAAA' }), 'bad signature', 'the nonce is signed')
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
    const s = sign(m, p, ts)
    const m2 = rng.chance(0.5) ? m : rng.pick(methods)
    const p2 = rng.chance(0.5) ? p : rng.pick(paths)
    const skew = rng.range(-40_000, 40_000)
    const got = checkSignature(SECRET, { method: m2, path: p2, timestamp: String(ts), nonce: NONCE, signature: s }, ts + skew)
    const want = Math.abs(skew) > SIGNATURE_MAX_SKEW_MS ? 'stale signature' : m2 === m && p2 === p ? null : 'bad signature'
    t.is(got, want, `seed ${seed}`)
  })
})

test('a nonce is accepted once; a replay inside the window is refused', (t) => {
  const guard = new ReplayGuard(60_000, 0)
  const a = newNonce()
  t.regex(a, /^[A-Za-z0-9_-]{17,64}$/)
  t.not(newNonce(), a)
  t.true(guard.firstUse(a, 1))
  t.false(guard.firstUse(a, 2))
  t.true(guard.firstUse(newNonce(), 3))
  t.false(guard.firstUse(a, 59_999), 'still known just before the first rotation')
  t.false(guard.firstUse(a, 60_000), 'still known after one rotation (in the previous generation)')
  t.false(guard.firstUse(a, 119_999))
})

test('property: a nonce stays known for at least one window after its use (longer than any fresh timestamp)', (t) => {
  forEachSeed(50, 77, (rng, seed) => {
    const window = 60_000
    const guard = new ReplayGuard(window, 0)
    let now = 0
    const used: { nonce: string; at: number }[] = []
    for (let i = 0; i < 300; i++) {
      now += rng.int(2_000)
      const nonce = newNonce()
      t.true(guard.firstUse(nonce, now), `seed ${seed}`)
      used.push({ nonce, at: now })
      const earlier = rng.pick(used)
      if (now - earlier.at < window) t.false(guard.firstUse(earlier.nonce, now), `seed ${seed}: replay ${now - earlier.at} ms later`)
    }
  })
})

test('the default replay window outlasts the timestamp skew on both sides (60 s)', (t) => {
  const guard = new ReplayGuard(undefined, 0)
  const n = newNonce()
  t.true(guard.firstUse(n, 0))
  // A request stamped at -30 s is accepted until +30 s: its nonce must still be known then.
  t.false(guard.firstUse(n, 2 * SIGNATURE_MAX_SKEW_MS - 1))
  t.false(guard.firstUse(n, 2 * SIGNATURE_MAX_SKEW_MS))
})
