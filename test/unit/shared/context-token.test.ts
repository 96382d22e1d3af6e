import { createHmac } from 'node:crypto'
import test, { type ExecutionContext } from 'ava'
import { InvalidContextError } from '../../../shared/errors.js'
import { decodeContext, encodeContext } from '../../../shared/vclock/context-token.js'
import { type CausalContext, compact, covers, type Dot } from '../../../shared/vclock/versions.js'
import { forEachSeed } from '../../../devtools/prng.js'

const SECRET = 'cluster-secret'
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

const dot = (actor: string, counter: number): Dot => ({ actor, counter })
const ctx = (vv: Record<string, number>, dots: Dot[] = []): CausalContext => ({ vv, dots })

/** Sign an arbitrary payload the way the module does, to reach the checks behind the MAC. */
function signed(payloadText: string, secret = SECRET): string {
  const payload = Buffer.from(payloadText).toString('base64url')
  const mac = createHmac('sha256', secret).update('context\n').update(payload).digest().subarray(0, 16)
  return `${payload}.${mac.toString('base64url')}`
}

/** Replace the character at `i` with a different base64url character. */
function flipChar(s: string, i: number): string {
  const c = s[i]
  return s.slice(0, i) + (c === 'A' ? 'B' : 'A') + s.slice(i + 1)
}

function rejects(t: ExecutionContext, token: string, msg?: string): void {
  t.throws(() => decodeContext(token, SECRET), { instanceOf: InvalidContextError }, msg ?? JSON.stringify(token))
}

test('round trip: decode(encode(context)) is the context in compact form, keys sorted', (t) => {
  const contexts: CausalContext[] = [
    ctx({}),
    ctx({ a: 1 }),
    ctx({ 'node-2.ab12cd34~1': 7, 'node-1.00ff00ff~3': 3 }),
    ctx({ z: 0, a: Number.MAX_SAFE_INTEGER }),
    ctx({ a: 1 }, [dot('a', 3)]),
    ctx({}, [dot('b', 5), dot('a', 2), dot('b', 9)]),
  ]
  for (const c of contexts) {
    const token = encodeContext(c, SECRET)
    t.regex(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
    t.deepEqual(decodeContext(token, SECRET), compact(c.vv, c.dots))
  }
  t.deepEqual(decodeContext(encodeContext(ctx({ a: 1 }, [dot('a', 3)]), SECRET), SECRET), ctx({ a: 1 }, [dot('a', 3)]), 'isolated dots survive')
  t.deepEqual(decodeContext(encodeContext(ctx({ a: 1 }, [dot('a', 3), dot('a', 2), dot('b', 1)]), SECRET), SECRET), ctx({ a: 3, b: 1 }), 'contiguous dots are folded')
  t.deepEqual(Object.keys(decodeContext(encodeContext(ctx({ b: 1, a: 2 }), SECRET), SECRET).vv), ['a', 'b'])
  t.is(encodeContext(ctx({ b: 1, a: 2 }), SECRET), encodeContext(ctx({ a: 2, b: 1 }), SECRET), 'equal contexts give equal tokens')
  t.is(encodeContext(ctx({}, [dot('b', 3), dot('a', 3)]), SECRET), encodeContext(ctx({}, [dot('a', 3), dot('b', 3), dot('a', 3)]), SECRET), 'whatever the order of dots')
  t.is(encodeContext(ctx({ a: 1 }, [dot('a', 2)]), SECRET), encodeContext(ctx({ a: 2 }), SECRET), 'and whatever their compaction')
  t.deepEqual(decodeContext(`  ${encodeContext(ctx({ a: 1 }), SECRET)}\n`, SECRET), ctx({ a: 1 }), 'surrounding whitespace is ignored')
})

test('property: round trip of random contexts keeps exactly the covered dots', (t) => {
  forEachSeed(300, 31, (rng, seed) => {
    const vv: Record<string, number> = {}
    const actors = Array.from({ length: 4 }, () => `node-${rng.int(20)}.${rng.int(0xffff).toString(16)}`)
    for (const a of actors) if (rng.chance(0.6)) vv[a] = rng.int(1_000_000)
    const dots = Array.from({ length: rng.int(5) }, () => dot(rng.pick(actors), rng.range(1, 1_000_010)))
    const c = ctx(vv, dots)
    const back = decodeContext(encodeContext(c, SECRET), SECRET)
    t.deepEqual(back, compact(vv, dots), `seed ${seed}`)
    for (const d of [...dots, ...Object.entries(vv).flatMap(([a, n]) => [dot(a, Math.max(1, n)), dot(a, n + 1)])]) {
      t.is(covers(back, d), covers(c, d), `seed ${seed}: coverage of ${d.actor}.${d.counter}`)
    }
  })
})

test('a tampered payload is refused', (t) => {
  const token = encodeContext(ctx({ a: 1, b: 2 }), SECRET)
  const [payload, sig] = token.split('.') as [string, string]
  // Forge a payload claiming a larger context, keep the old MAC.
  for (const claim of [ctx({ a: 99, b: 2 }), ctx({ a: 1, b: 2 }, [dot('c', 7)])]) {
    const forged = Buffer.from(JSON.stringify(claim)).toString('base64url')
    t.throws(() => decodeContext(`${forged}.${sig}`, SECRET), { instanceOf: InvalidContextError })
  }
  for (let i = 0; i < payload.length; i++) rejects(t, `${flipChar(payload, i)}.${sig}`, `payload char ${i}`)
  rejects(t, `${payload}A.${sig}`)
  rejects(t, `${payload.slice(1)}.${sig}`)
})

test('a tampered signature is refused', (t) => {
  const token = encodeContext(ctx({ a: 1 }), SECRET)
  const [payload, sig] = token.split('.') as [string, string]
  t.is(sig.length, 22, '16 MAC bytes')
  for (let i = 0; i < sig.length; i++) rejects(t, `${payload}.${flipChar(sig, i)}`, `signature char ${i}`)
  rejects(t, `${payload}.${sig.slice(0, -1)}`, 'signature one character short')
  rejects(t, `${payload}.${sig.slice(0, -2)}`, 'truncated signature')
  rejects(t, `${payload}.${sig}A`, 'signature one character long')
  rejects(t, `${payload}.${sig}AAAA`, 'extended signature')
  rejects(t, `${payload}.${sig}==`, 'padded signature')
  rejects(t, `${payload}.${Buffer.alloc(16).toString('base64url')}`, 'zero signature')
  rejects(t, `${payload}.${Buffer.from(sig, 'base64url').toString('base64')}`, 'standard base64 with padding')
})

test('the signature must be canonical: flipping the 4 unused bits of its last character is refused', (t) => {
  for (const c of [ctx({}), ctx({ a: 1 }), ctx({ a: 1, b: 2 }, [dot('c', 7)]), ctx({ x: 42 })]) {
    const token = encodeContext(c, SECRET)
    const [payload, sig] = token.split('.') as [string, string]
    const last = BASE64URL.indexOf(sig.at(-1) as string)
    // 16 bytes = 128 bits: the 22nd character carries 2 MAC bits and 4 bits that must be zero.
    t.is(last & 0b1111, 0, 'the encoder writes the unused bits as zero')
    for (let bits = 1; bits < 16; bits++) {
      const altered = sig.slice(0, -1) + BASE64URL[last | bits]
      t.true(Buffer.from(altered, 'base64url').equals(Buffer.from(sig, 'base64url')), 'decodes to the very same MAC bytes')
      rejects(t, `${payload}.${altered}`, `unused bits ${bits.toString(2).padStart(4, '0')}`)
    }
    t.deepEqual(decodeContext(token, SECRET), compact(c.vv, c.dots), 'the canonical token itself is accepted')
  }
})

test('a token made with another secret is refused', (t) => {
  const token = encodeContext(ctx({ a: 1 }), 'other-secret')
  t.throws(() => decodeContext(token, SECRET), { instanceOf: InvalidContextError })
  t.throws(() => decodeContext(encodeContext(ctx({ a: 1 }), SECRET), ''), { instanceOf: InvalidContextError })
})

test('garbage, empty and wrongly shaped strings are refused', (t) => {
  const good = encodeContext(ctx({ a: 1 }), SECRET)
  const garbage = ['', ' ', '.', '..', 'abc', 'abc.', '.abc', 'a.b', 'not a token', '!!!.???', '{"a":1}', 'e30.e30', `${good}.${good}`, `${good}.x`, 'x'.repeat(20_000)]
  for (const g of garbage) rejects(t, g)
  const [payload, sig] = good.split('.') as [string, string]
  rejects(t, `${payload}.${sig}.extra`, 'three parts')
  rejects(t, `${payload}..${sig}`, 'empty middle part')
  rejects(t, `${payload}.${sig}.`, 'trailing dot')
  rejects(t, signed(`{"vv":{"a":1},"dots":[${'{"actor":"a","counter":9},'.repeat(3000)}{"actor":"a","counter":9}]}`), 'longer than 64 KiB, even when signed')
  forEachSeed(300, 32, (rng, seed) => {
    const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ '
    const s = Array.from({ length: rng.int(60) }, () => chars[rng.int(chars.length)]).join('')
    rejects(t, s, `seed ${seed}: ${JSON.stringify(s)}`)
  })
})

test('a correctly signed payload that is not a causal context is refused', (t) => {
  t.deepEqual(decodeContext(signed('{"vv":{"a":1},"dots":[]}'), SECRET), ctx({ a: 1 }), 'the helper signs like the module')
  t.deepEqual(
    decodeContext(signed('{"vv":{"a":1},"dots":[{"actor":"a","counter":2},{"actor":"b","counter":4}]}'), SECRET),
    ctx({ a: 2 }, [dot('b', 4)]),
    'a signed but non-compact context is compacted',
  )
  const bad = [
    'not json',
    '[1,2]',
    '"a"',
    'null',
    '{}',
    '{"a":1}', // a flat clock, the old format
    '{"vv":{"a":1}}',
    '{"dots":[]}',
    '{"vv":{"a":-1},"dots":[]}',
    '{"vv":{"a":1.5},"dots":[]}',
    '{"vv":{"a":"1"},"dots":[]}',
    '{"vv":{"":1},"dots":[]}',
    `{"vv":{"${'x'.repeat(201)}":1},"dots":[]}`,
    '{"vv":[],"dots":[]}',
    '{"vv":{},"dots":{}}',
    '{"vv":{},"dots":[{"actor":"a","counter":0}]}',
    '{"vv":{},"dots":[{"actor":"a","counter":-1}]}',
    '{"vv":{},"dots":[{"actor":"a","counter":1.5}]}',
    '{"vv":{},"dots":[{"actor":"","counter":1}]}',
    '{"vv":{},"dots":[{"actor":"a"}]}',
    '{"vv":{},"dots":[{"counter":1}]}',
    '{"vv":{},"dots":[["a",1]]}',
  ]
  for (const b of bad) rejects(t, signed(b), b)
})

test("a read context's retired requests ride in the token, signed with it; one with none leaves the token as before", (t) => {
  const plain = encodeContext(ctx({ a: 1 }), SECRET)
  t.is(encodeContext({ ...ctx({ a: 1 }), retired: [] }, SECRET), plain, 'no retired ids: the same token as a bare context')
  t.false('retired' in decodeContext(plain, SECRET))
  const token = encodeContext({ ...ctx({ a: 1 }), retired: ['req-W0000001', 'req-V0000001'] }, SECRET)
  t.deepEqual(decodeContext(token, SECRET), { ...ctx({ a: 1 }), retired: ['req-W0000001', 'req-V0000001'] })
  rejects(t, `${flipChar(token, 10)}`, 'a changed payload fails the MAC')
  // Signed but out of bounds: too many ids, or ids that are not request ids.
  rejects(t, signed(JSON.stringify({ vv: {}, dots: [], retired: Array.from({ length: 9 }, (_, i) => `req-${String(i).padStart(8, '0')}`) })))
  rejects(t, signed(JSON.stringify({ vv: {}, dots: [], retired: ['short'] })))
  rejects(t, signed(JSON.stringify({ vv: {}, dots: [], retired: 'req-W0000001' })))
})
