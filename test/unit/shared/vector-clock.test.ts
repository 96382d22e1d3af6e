import test from 'ava'
import { compare, counterOf, descends, EMPTY_CLOCK, increment, merge, type Order, sortKeys, type VectorClock } from '../../../shared/vclock/vector-clock.js'
import { forEachSeed, type Prng } from '../../../devtools/prng.js'

const ACTORS = ['a', 'b', 'c', 'd']
const CASES = 500

/** A random clock over a few actors; small counters (zeros included) so that every order occurs often. */
function randomClock(rng: Prng): VectorClock {
  const out: Record<string, number> = {}
  for (const actor of rng.shuffle(ACTORS)) if (rng.chance(0.6)) out[actor] = rng.int(4)
  return out
}

const OPPOSITE: Record<Order, Order> = { before: 'after', after: 'before', equal: 'equal', concurrent: 'concurrent' }

test('compare on examples', (t) => {
  t.is(compare({}, {}), 'equal')
  t.is(compare({ a: 1, b: 2 }, { b: 2, a: 1 }), 'equal')
  t.is(compare({ a: 0 }, {}), 'equal', 'an explicit 0 is the same as absent')
  t.is(compare({}, { a: 1 }), 'before')
  t.is(compare({ a: 1 }, { a: 2 }), 'before')
  t.is(compare({ a: 1 }, { a: 1, b: 1 }), 'before')
  t.is(compare({ a: 2 }, { a: 1 }), 'after')
  t.is(compare({ a: 2, b: 1 }, { a: 1 }), 'after')
  t.is(compare({ a: 1 }, { b: 1 }), 'concurrent')
  t.is(compare({ a: 2, b: 1 }, { a: 1, b: 2 }), 'concurrent')
  t.is(compare({ a: 1, c: 5 }, { a: 1, b: 1 }), 'concurrent')
})

test('counterOf reads own properties only', (t) => {
  t.is(counterOf({ a: 3 }, 'a'), 3)
  t.is(counterOf({ a: 3 }, 'b'), 0)
  t.is(counterOf({}, 'toString'), 0)
  t.is(counterOf({}, '__proto__'), 0)
})

test('descends is after-or-equal', (t) => {
  t.true(descends({ a: 2 }, { a: 1 }))
  t.true(descends({ a: 1 }, { a: 1 }))
  t.false(descends({ a: 1 }, { a: 2 }))
  t.false(descends({ a: 1 }, { b: 1 }))
})

test('merge and increment on examples', (t) => {
  t.deepEqual(merge(), {})
  t.deepEqual(merge({ b: 1, a: 3 }, { a: 2, c: 4 }), { a: 3, b: 1, c: 4 })
  t.deepEqual(Object.keys(merge({ c: 1 }, { a: 1 }, { b: 1 })), ['a', 'b', 'c'], 'keys come out sorted')
  t.deepEqual(increment({}, 'a'), { a: 1 })
  t.deepEqual(increment({ b: 2, a: 1 }, 'b'), { a: 1, b: 3 })
  t.deepEqual(sortKeys({ z: 1, m: 2, a: 3 }), { a: 3, m: 2, z: 1 })
  t.deepEqual(EMPTY_CLOCK, {})
  t.true(Object.isFrozen(EMPTY_CLOCK))
})

test('merge, sortKeys and increment keep actors named like inherited properties as plain keys', (t) => {
  // JSON.parse makes an own `__proto__` property, as a decoded clock would have it.
  const odd = JSON.parse('{"__proto__": 2, "constructor": 3}') as VectorClock
  t.deepEqual(Object.entries(merge(odd, { toString: 1 })), [
    ['__proto__', 2],
    ['constructor', 3],
    ['toString', 1],
  ])
  t.deepEqual(Object.entries(merge({ constructor: 1 }, { constructor: 4 })), [['constructor', 4]])
  t.deepEqual(Object.entries(sortKeys({ valueOf: 2, a: 1 })), [
    ['a', 1],
    ['valueOf', 2],
  ])
  t.deepEqual(Object.entries(increment(odd, 'hasOwnProperty')), [
    ['__proto__', 2],
    ['constructor', 3],
    ['hasOwnProperty', 1],
  ])
  t.is(Object.getPrototypeOf(merge(odd)), Object.prototype, 'a key never becomes the prototype')
})

test('property: compare is antisymmetric (before iff the reverse is after) and reflexive', (t) => {
  const seen = new Set<Order>()
  forEachSeed(CASES, 11, (rng, seed) => {
    const a = randomClock(rng)
    const b = randomClock(rng)
    const ab = compare(a, b)
    const ba = compare(b, a)
    seen.add(ab)
    t.is(ba, OPPOSITE[ab], `seed ${seed}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`)
    t.is(ab === 'before', ba === 'after', `seed ${seed}`)
    t.is(compare(a, a), 'equal', `seed ${seed}`)
  })
  t.deepEqual([...seen].sort(), ['after', 'before', 'concurrent', 'equal'], 'the generator reaches every order')
})

test('property: compare agrees with the pointwise definition', (t) => {
  forEachSeed(CASES, 12, (rng, seed) => {
    const a = randomClock(rng)
    const b = randomClock(rng)
    const le = ACTORS.every((x) => counterOf(a, x) <= counterOf(b, x))
    const ge = ACTORS.every((x) => counterOf(a, x) >= counterOf(b, x))
    const want: Order = le && ge ? 'equal' : le ? 'before' : ge ? 'after' : 'concurrent'
    t.is(compare(a, b), want, `seed ${seed}`)
  })
})

test('property: merge is commutative', (t) => {
  forEachSeed(CASES, 13, (rng, seed) => {
    const a = randomClock(rng)
    const b = randomClock(rng)
    t.deepEqual(merge(a, b), merge(b, a), `seed ${seed}`)
  })
})

test('property: merge is associative', (t) => {
  forEachSeed(CASES, 14, (rng, seed) => {
    const a = randomClock(rng)
    const b = randomClock(rng)
    const c = randomClock(rng)
    t.deepEqual(merge(merge(a, b), c), merge(a, merge(b, c)), `seed ${seed}`)
    t.deepEqual(merge(a, b, c), merge(a, merge(b, c)), `seed ${seed}`)
  })
})

test('property: merge is idempotent', (t) => {
  forEachSeed(CASES, 15, (rng, seed) => {
    const a = randomClock(rng)
    t.deepEqual(merge(a, a), merge(a), `seed ${seed}`)
    t.is(compare(merge(a, a), a), 'equal', `seed ${seed}`)
    t.deepEqual(merge(merge(a)), merge(a), `seed ${seed}`)
  })
})

test('property: merge descends both inputs and is their least upper bound', (t) => {
  forEachSeed(CASES, 16, (rng, seed) => {
    const a = randomClock(rng)
    const b = randomClock(rng)
    const m = merge(a, b)
    t.true(descends(m, a), `seed ${seed}`)
    t.true(descends(m, b), `seed ${seed}`)
    // Least: any clock above both is above the merge.
    const c = randomClock(rng)
    if (descends(c, a) && descends(c, b)) t.true(descends(c, m), `seed ${seed}`)
    // And it is exactly the pointwise maximum.
    for (const x of ACTORS) t.is(counterOf(m, x), Math.max(counterOf(a, x), counterOf(b, x)), `seed ${seed}`)
  })
})

test('property: increment strictly dominates and touches only its actor', (t) => {
  forEachSeed(CASES, 17, (rng, seed) => {
    const c = randomClock(rng)
    const actor = rng.pick([...ACTORS, 'e'])
    const next = increment(c, actor)
    t.is(compare(next, c), 'after', `seed ${seed}`)
    t.is(compare(c, next), 'before', `seed ${seed}`)
    t.is(counterOf(next, actor), counterOf(c, actor) + 1, `seed ${seed}`)
    for (const x of ACTORS) if (x !== actor) t.is(counterOf(next, x), counterOf(c, x), `seed ${seed}`)
  })
})

test('property: functions are pure (inputs are not mutated)', (t) => {
  forEachSeed(CASES, 18, (rng, seed) => {
    const a = randomClock(rng)
    const b = randomClock(rng)
    const a0 = JSON.stringify(a)
    const b0 = JSON.stringify(b)
    merge(a, b)
    increment(a, rng.pick(ACTORS))
    compare(a, b)
    t.is(JSON.stringify(a), a0, `seed ${seed}`)
    t.is(JSON.stringify(b), b0, `seed ${seed}`)
  })
})
