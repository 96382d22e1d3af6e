/**
 * The ring record's merge (shared/ring/ring-record.ts), property-style over random histories: it is
 * commutative, associative and idempotent; replicas that saw the same entries in any order and
 * grouping agree; a change made over a record wins over everything that record had seen.
 */
import test from 'ava'
import { forEachSeed, type Prng } from '../../../devtools/prng.js'
import { compareEntries, mergeEntries, RingRecord } from '../../../shared/ring/ring-record.js'
import { forProtocol, type RingEntry, type RingState } from '../../../shared/wire/ring.js'

const IDS = ['node-1', 'node-2', 'node-3', 'node-4']
const STATES: RingState[] = ['member', 'leaving', 'removed', 'joining']

function randomEntry(rng: Prng): RingEntry {
  const id = rng.pick(IDS)
  return {
    id,
    address: `127.0.0.1:${7000 + rng.int(3)}`,
    state: rng.pick(STATES),
    version: rng.int(4),
    by: rng.pick(['node-1', 'node-2', 'proxy']),
    at: new Date(rng.int(3) * 1000).toISOString(),
  }
}

const randomList = (rng: Prng): RingEntry[] => Array.from({ length: rng.int(8) }, () => randomEntry(rng))

test('merge is commutative, associative and idempotent', (t) => {
  forEachSeed(500, 30, (rng, seed) => {
    const [a, b, c] = [randomList(rng), randomList(rng), randomList(rng)]
    t.deepEqual(mergeEntries(a, b), mergeEntries(b, a), `commutative, seed ${seed}`)
    t.deepEqual(mergeEntries(mergeEntries(a, b), c), mergeEntries(a, mergeEntries(b, c)), `associative, seed ${seed}`)
    const ab = mergeEntries(a, b)
    t.deepEqual(mergeEntries(ab, ab), ab, `idempotent, seed ${seed}`)
    t.deepEqual(mergeEntries(ab, a), ab, `absorbs what it has seen, seed ${seed}`)
  })
})

test('the entry order is total: two different entries of one id never tie', (t) => {
  forEachSeed(500, 31, (rng, seed) => {
    const x = randomEntry(rng)
    const y = { ...randomEntry(rng), id: x.id }
    const same = JSON.stringify(x) === JSON.stringify(y)
    t.is(compareEntries(x, y) === 0, same, `seed ${seed}`)
    t.is(Math.sign(compareEntries(x, y)) + Math.sign(compareEntries(y, x)), 0, `antisymmetric, seed ${seed}`)
  })
})

test('replicas receiving the same entries in any order and batches end with the same record (and ring version)', (t) => {
  forEachSeed(200, 32, (rng, seed) => {
    const all = Array.from({ length: 20 }, () => randomEntry(rng))
    const records = [0, 1, 2].map(() => {
      const r = new RingRecord()
      const order = rng.shuffle(all)
      while (order.length > 0) r.merge(order.splice(0, 1 + rng.int(4)))
      return r
    })
    for (const r of records.slice(1)) {
      t.deepEqual(r.entries(), (records[0] as RingRecord).entries(), `seed ${seed}`)
      t.is(r.version, (records[0] as RingRecord).version)
    }
  })
})

test('a change made over a record beats every entry that record had seen for the id; placement and owners follow the states', (t) => {
  forEachSeed(200, 33, (rng, seed) => {
    const seen = new RingRecord(randomList(rng))
    const id = rng.pick(IDS)
    const state = rng.pick(STATES)
    const changed = seen.change(id, state, '127.0.0.1:9', 'proxy')
    const other = new RingRecord(seen.entries())
    other.merge(randomList(rng).filter((e) => e.id !== id || e.version < changed.version))
    other.merge([changed])
    t.is(other.get(id)?.state, state, `seed ${seed}`)
    t.is(other.placement().includes(id), state === 'member' || state === 'leaving')
    t.is(other.owners().includes(id), state === 'member' || state === 'joining')
    t.is(other.holdsRanges(id), state !== 'removed')
  })
})

test('merge reports a change only when an entry wins', (t) => {
  const r = new RingRecord()
  const e: RingEntry = { id: 'node-1', address: '127.0.0.1:1', state: 'member', version: 1, by: 'node-1', at: 'x' }
  t.true(r.merge([e]))
  t.false(r.merge([e]))
  t.false(r.merge([{ ...e, version: 0, state: 'removed' }]))
  t.true(r.merge([{ ...e, state: 'leaving' }]), 'same version: the later state in the life cycle wins')
  t.deepEqual(r.placement(), ['node-1'])
  t.deepEqual(r.owners(), [])
})

test('an older member is shown a joining node as a member of the same version, and that copy never ends the join where the joining entry is known', (t) => {
  forEachSeed(200, 34, (rng, seed) => {
    const entries = mergeEntries(randomList(rng), [])
    const old = forProtocol(entries, 3)
    t.false(
      old.some((e) => e.state === 'joining'),
      `seed ${seed}`,
    )
    t.deepEqual(forProtocol(entries, 4), entries)
    t.deepEqual(
      forProtocol(entries, undefined),
      entries.filter((e) => e.state !== 'joining'),
      'a seed not heard from yet is shown no joining node',
    )
    // What an older member relays back merges into the same record.
    t.deepEqual(mergeEntries(entries, old), entries, `seed ${seed}`)
  })
})
