import test from 'ava'
import { SIGNATURE_MAX_SKEW_MS } from '../../../shared/constants.js'
import { MemberSigner } from '../../../shared/http/member-signer.js'
import { PeerClocks } from '../../../shared/http/peer-clocks.js'
import { checkSignature, checkTimeProof, memberKeys, newNonce, ReplayGuard, SIGNED_HEADERS, signatureHeaders, timeProof } from '../../../shared/http/signing.js'
import { forEachSeed } from '../../../devtools/prng.js'

const SECRET = 'cluster-secret-0123456789'
const KEYS = memberKeys(SECRET)
const TS = 1_700_000_000_000
const PATH = '/internal/v1/objects/b/k%2Fx/replicate?w=2'

interface Req {
  method: string
  path: string
  ts: number
  nonce: string
  from: string
  target: string
  headers: Record<string, string>
}

const base: Req = { method: 'PUT', path: PATH, ts: TS, nonce: newNonce(), from: 'proxy-1', target: 'node-2', headers: { 'x-store-version': 'e30' } }

function signed(r: Req, secret = SECRET): Record<string, string> {
  return { ...r.headers, ...signatureHeaders(memberKeys(secret), { method: r.method, path: r.path, timestampMs: r.ts, nonce: r.nonce, from: r.from, target: r.target, headers: (h) => r.headers[h] }) }
}

function check(sent: Record<string, string>, received: { method?: string; path?: string; now?: number; targets?: string[] } = {}) {
  return checkSignature(KEYS, received.method ?? base.method, received.path ?? base.path, (h) => sent[h], received.targets ?? ['node-2', '127.0.0.1:9002'], received.now ?? TS + 1234)
}

test('a valid, fresh signature for this node passes; by id or by address', (t) => {
  t.is(check(signed(base)), null)
  t.is(check(signed({ ...base, target: '127.0.0.1:9002' })), null)
  t.is(check(signed(base), { method: 'put' }), null, 'the method is case-insensitive')
})

test('missing or malformed signature headers are refused', (t) => {
  for (const h of ['x-store-timestamp', 'x-store-nonce', 'x-store-signature', 'x-store-from', 'x-store-target']) {
    const s = signed(base)
    delete s[h]
    t.deepEqual(check(s), { why: 'missing signature' }, h)
  }
  t.deepEqual(check({ ...signed(base), 'x-store-timestamp': '1.5' }), { why: 'malformed signature' })
  t.deepEqual(check({ ...signed(base), 'x-store-nonce': 'short' }), { why: 'malformed signature' })
  t.deepEqual(check(signed({ ...base, from: 'has space' })), { why: 'malformed signature' })
})

test('the freshness window is 30 s either way on the receiver clock, and a stale refusal says by how much', (t) => {
  t.is(SIGNATURE_MAX_SKEW_MS, 30_000)
  t.is(check(signed(base), { now: TS + SIGNATURE_MAX_SKEW_MS }), null)
  t.is(check(signed(base), { now: TS - SIGNATURE_MAX_SKEW_MS }), null)
  t.deepEqual(check(signed(base), { now: TS + SIGNATURE_MAX_SKEW_MS + 1 }), { why: 'stale signature', skewMs: -SIGNATURE_MAX_SKEW_MS - 1 })
  t.deepEqual(check(signed(base), { now: TS - 600_000 }), { why: 'stale signature', skewMs: 600_000 })
})

test('a request signed for another node is refused by this one', (t) => {
  t.deepEqual(check(signed({ ...base, target: 'node-3' })), { why: 'wrong target' })
})

test('property: any change to what the signature covers is refused', (t) => {
  const changes: ((r: Req) => Req)[] = [
    (r) => ({ ...r, method: 'DELETE' }),
    (r) => ({ ...r, path: `${r.path}&x=1` }),
    (r) => ({ ...r, path: r.path.toUpperCase() }),
    (r) => ({ ...r, ts: r.ts + 1 }),
    (r) => ({ ...r, nonce: newNonce() }),
    (r) => ({ ...r, from: 'node-9' }),
    ...SIGNED_HEADERS.map((h) => (r: Req) => ({ ...r, headers: { ...r.headers, [h]: `${r.headers[h] ?? ''}x` } })),
  ]
  forEachSeed(200, 51, (rng, seed) => {
    const r = { ...base, ts: TS + rng.int(10_000), nonce: newNonce() }
    const sent = signed(r)
    const changed = rng.pick(changes)(r)
    // What the receiver sees: the sent signature headers, with the changed request's other parts.
    const received = { ...changed.headers, ...Object.fromEntries(Object.entries(sent).filter(([k]) => k.startsWith('x-store-') && !SIGNED_HEADERS.includes(k as never))) }
    received['x-store-timestamp'] = String(changed.ts)
    received['x-store-nonce'] = changed.nonce
    received['x-store-from'] = changed.from
    t.deepEqual(check(received, { method: changed.method, path: changed.path, now: changed.ts }), { why: 'bad signature' }, `seed ${seed}`)
    t.deepEqual(check(signed(r, 'another-secret-0123456789'), { now: r.ts }), { why: 'bad signature' }, `seed ${seed}: wrong secret`)
  })
})

test('a time proof verifies only for its nonce, time and secret', (t) => {
  const n = newNonce()
  const proof = timeProof(KEYS, n, TS)
  t.is(checkTimeProof(KEYS, n, String(TS), proof), TS)
  t.is(checkTimeProof(KEYS, newNonce(), String(TS), proof), undefined)
  t.is(checkTimeProof(KEYS, n, String(TS + 1), proof), undefined)
  t.is(checkTimeProof(memberKeys('another-secret-0123456789'), n, String(TS), proof), undefined)
  t.is(checkTimeProof(KEYS, n, undefined, proof), undefined)
})

test('a signer learns a peer clock 10 minutes off from its answer and then signs inside the window', (t) => {
  const signer = new MemberSigner({ secret: SECRET, selfId: 'proxy-1' })
  const address = '127.0.0.1:9002'
  const peerNow = () => Date.now() + 600_000
  const first = signer.sign('GET', '/x', address, 'node-2', {})
  // The peer refuses it as stale, and tells its time, proven for the request's nonce.
  const answer = { 'x-store-time': String(peerNow()), 'x-store-time-proof': timeProof(KEYS, first.nonce, peerNow()) }
  t.true(signer.learn(address, first, (h) => answer[h as keyof typeof answer], true))
  const second = signer.sign('GET', '/x', address, 'node-2', {})
  t.is(
    checkSignature(KEYS, 'GET', '/x', (h) => second.headers[h], ['node-2'], peerNow()),
    null,
  )
  // A forged time (no valid proof) teaches nothing.
  t.false(signer.learn(address, second, (h) => ({ 'x-store-time': '1', 'x-store-time-proof': 'forged' })[h]))
})

test('peer clocks keep the sample with the shortest round trip, and report crossings of the warning line', (t) => {
  const reports: number[] = []
  let now = 0
  const clocks = new PeerClocks(
    30_000,
    () => now,
    (_a, offset) => reports.push(offset),
  )
  clocks.sample('a', 5000, 0, 100) // offset 4950, rtt 100
  clocks.sample('a', 5000, 40, 60) // offset 4950, rtt 20
  clocks.sample('a', 9000, 0, 1000) // rtt 1000: worse, ignored
  t.is(clocks.offset('a'), 4950)
  t.deepEqual(reports, [4950])
  now = 100
  clocks.sample('a', 200, 100, 100, true) // a stale refusal replaces: the clock was stepped back
  t.is(clocks.offset('a'), 100)
  t.deepEqual(reports, [4950, 100])
  t.is(clocks.offset('never-heard'), 0)
})

test('a nonce is accepted once; a replay is refused', (t) => {
  const guard = new ReplayGuard()
  const a = newNonce()
  t.not(newNonce(), a)
  t.true(guard.firstUse(a))
  t.false(guard.firstUse(a))
  t.true(guard.firstUse(newNonce()))
  t.false(guard.firstUse(a))
})

test('property: out-of-order arrivals inside the window are accepted once each; memory is per sender, not per request', (t) => {
  const prefix = 'AAAAAAAAAAAAAAAA'
  const nonce = (c: number) => `${prefix}${c.toString(36)}`
  forEachSeed(20, 77, (rng, seed) => {
    const guard = new ReplayGuard()
    const sent = Array.from({ length: 3000 }, (_, i) => i + 1)
    // Shuffle within blocks of 64: concurrent requests overtake each other by a bounded amount.
    for (let i = 0; i < sent.length; i += 64) {
      for (let j = Math.min(i + 63, sent.length - 1); j > i; j--) {
        const k = i + rng.int(j - i + 1)
        ;[sent[j], sent[k]] = [sent[k] as number, sent[j] as number]
      }
    }
    for (const c of sent) t.true(guard.firstUse(nonce(c)), `seed ${seed}: ${c}`)
    for (let i = 0; i < 50; i++) t.false(guard.firstUse(nonce(rng.pick(sent))), `seed ${seed}: replay`)
  })
  const guard = new ReplayGuard()
  t.true(guard.firstUse(nonce(1)))
  t.true(guard.firstUse(nonce(1 + ReplayGuard.WINDOW + 5)))
  t.false(guard.firstUse(nonce(2)), 'a counter below the window cannot be told from a replay')
})

test('senders past the bound evict the least recently used', (t) => {
  const guard = new ReplayGuard(2)
  const n = (p: string, c: number) => `${p.repeat(16)}${c}`
  t.true(guard.firstUse(n('A', 1)))
  t.true(guard.firstUse(n('B', 1)))
  t.false(guard.firstUse(n('A', 1)))
  t.true(guard.firstUse(n('C', 1)), 'B evicted')
  t.false(guard.firstUse(n('A', 1)), 'A kept: recently used')
})
