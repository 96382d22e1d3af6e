/**
 * Rotation of the cluster secret: a member holding a current and a previous secret signs with the
 * current one and accepts requests, time proofs (and the proxy's context tokens) made with either;
 * a third secret is refused.
 */
import test from 'ava'
import { InvalidContextError } from '../../../shared/errors.js'
import { MemberSigner } from '../../../shared/http/member-signer.js'
import { RequestVerifier } from '../../../shared/http/request-verifier.js'
import { acceptedKeys, memberKeys, timeProof } from '../../../shared/http/signing.js'
import { decodeContext, encodeContext } from '../../../shared/vclock/context-token.js'
import { HEADER_TIME, HEADER_TIME_PROOF } from '../../../shared/wire/headers.js'

const OLD = 'cluster-secret-old-0123456789'
const NEW = 'cluster-secret-new-0123456789'
const THIRD = 'cluster-secret-other-01234567'
const NODE = { id: 'node-2', address: '127.0.0.1:9002' }
const PATH = '/internal/v1/objects/b/k/versions'

function request(secret: string, previousSecret?: string) {
  const signer = new MemberSigner({ secret, previousSecret, selfId: 'proxy-1' })
  const signed = signer.sign('GET', PATH, NODE.address, NODE.id, {})
  return { signer, signed, header: (h: string) => signed.headers[h] }
}

test('acceptedKeys: the current secret first, a previous one only when given and different', (t) => {
  t.deepEqual(acceptedKeys(NEW), [memberKeys(NEW)])
  t.deepEqual(acceptedKeys(NEW, NEW), [memberKeys(NEW)])
  t.deepEqual(acceptedKeys(NEW, OLD), [memberKeys(NEW), memberKeys(OLD)])
})

test('a verifier holding [current, previous] accepts signatures made with either, and refuses a third secret', (t) => {
  const verifier = new RequestVerifier(acceptedKeys(NEW, OLD), NODE.id, NODE.address)
  for (const [secret, keys] of [
    [NEW, memberKeys(NEW)],
    [OLD, memberKeys(OLD)],
  ] as const) {
    const r = request(secret)
    const result = verifier.verify('GET', PATH, r.header)
    if (!('ok' in result)) return t.fail(`${secret}: ${result.refused.why}`)
    t.is(result.ok.from, 'proxy-1')
    t.deepEqual(result.ok.keys, keys, 'the keys the request was signed with')
    // The answer's time is proven with the sender's secret, so the sender learns it.
    t.true(r.signer.learn(NODE.address, r.signed, (h) => result.ok.answerHeaders[h]))
  }
  const third = verifier.verify('GET', PATH, request(THIRD).header)
  t.deepEqual('refused' in third && third.refused, { why: 'bad signature' })
})

test('a verifier with one secret refuses the previous one: it accepts only what it was given', (t) => {
  const verifier = new RequestVerifier(acceptedKeys(NEW), NODE.id, NODE.address)
  const refused = verifier.verify('GET', PATH, request(OLD).header)
  t.deepEqual('refused' in refused && refused.refused, { why: 'bad signature' })
})

test('the other checks still apply to a request signed with the previous secret: a replay, a wrong target', (t) => {
  const verifier = new RequestVerifier(acceptedKeys(NEW, OLD), NODE.id, NODE.address)
  const r = request(OLD)
  t.true('ok' in verifier.verify('GET', PATH, r.header))
  const replay = verifier.verify('GET', PATH, r.header)
  t.deepEqual('refused' in replay && replay.refused, { why: 'replayed request' })
  const other = new MemberSigner({ secret: OLD, selfId: 'proxy-1' }).sign('GET', PATH, '127.0.0.1:9003', 'node-3', {})
  const elsewhere = verifier.verify('GET', PATH, (h) => other.headers[h])
  t.deepEqual('refused' in elsewhere && elsewhere.refused, { why: 'wrong target' })
})

test('a stale request signed with the previous secret is answered with a time proven with that secret', (t) => {
  const verifier = new RequestVerifier(acceptedKeys(NEW, OLD), NODE.id, NODE.address, () => Date.now() + 600_000)
  const r = request(OLD)
  const result = verifier.verify('GET', PATH, r.header)
  if (!('refused' in result) || !result.answerHeaders) return t.fail('expected a stale refusal with our time')
  t.is(result.refused.why, 'stale signature')
  t.true(r.signer.learn(NODE.address, r.signed, (h) => result.answerHeaders?.[h], true))
})

test('a signer signs with its current secret and accepts time proofs made with either secret, not a third', (t) => {
  const { signer, signed } = request(NEW, OLD)
  t.deepEqual(signer.keys, memberKeys(NEW))
  t.deepEqual(signer.accepted, [memberKeys(NEW), memberKeys(OLD)])
  // Its request verifies under the new secret only.
  t.true('ok' in new RequestVerifier(acceptedKeys(NEW), NODE.id, NODE.address).verify('GET', PATH, (h) => signed.headers[h]))
  const now = Date.now()
  const answer = (secret: string) => (h: string) => ({ [HEADER_TIME]: String(now), [HEADER_TIME_PROOF]: timeProof(memberKeys(secret), signed.nonce, now) })[h]
  t.true(signer.learn(NODE.address, signed, answer(NEW)))
  t.true(signer.learn(NODE.address, signed, answer(OLD)))
  t.false(signer.learn(NODE.address, signed, answer(THIRD)))
  t.false(new MemberSigner({ secret: NEW, selfId: 'proxy-1' }).learn(NODE.address, signed, answer(OLD)), 'without the previous secret')
})

test('a context token made with the previous secret is still accepted; one made with a third secret is not', (t) => {
  const ctx = { vv: { 'node-1': 3 }, dots: [] }
  const token = encodeContext(ctx, OLD)
  t.deepEqual(decodeContext(token, NEW, OLD), decodeContext(token, OLD))
  t.deepEqual(decodeContext(encodeContext(ctx, NEW), NEW, OLD), decodeContext(token, OLD))
  t.throws(() => decodeContext(token, NEW), { instanceOf: InvalidContextError })
  t.throws(() => decodeContext(encodeContext(ctx, THIRD), NEW, OLD), { instanceOf: InvalidContextError })
})
