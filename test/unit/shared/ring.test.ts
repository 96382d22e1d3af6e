import { createHash } from 'node:crypto'
import test from 'ava'
import { DEFAULT_N, DEFAULT_VNODES } from '../../../shared/constants.js'
import { HashRing } from '../../../shared/ring/hash-ring.js'
import { objectPosition, ringPosition } from '../../../shared/ring/hash.js'
import { forEachSeed } from '../../../devtools/prng.js'

const KEYS = 1_000_000

/** The ring positions of `key-0` .. `key-999999` in bucket `b`, hashed once and shared by every test. */
let positionsCache: Uint32Array | undefined
function keyPositions(): Uint32Array {
  if (!positionsCache) {
    positionsCache = new Uint32Array(KEYS)
    for (let i = 0; i < KEYS; i++) positionsCache[i] = objectPosition('b', 'key-' + i)
  }
  return positionsCache
}

function nodeIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `node-${i + 1}`)
}

/** Primary owner of every key, as indexes into `ring.nodes`. */
function primaries(ring: HashRing, positions: Uint32Array): Uint8Array {
  const index = new Map(ring.nodes.map((id, i) => [id, i]))
  const out = new Uint8Array(positions.length)
  for (let i = 0; i < positions.length; i++) out[i] = index.get(ring.preferenceList(positions[i] as number)[0] as string) as number
  return out
}

interface Balance {
  replicaLoad: Map<string, number>
  primaryLoad: Map<string, number>
  /** Largest |load / even - 1| over the nodes. */
  replicaDeviation: number
  primaryDeviation: number
}

function measureBalance(nodes: number): Balance {
  const positions = keyPositions()
  const ring = new HashRing(nodeIds(nodes))
  const replicaLoad = new Map(ring.nodes.map((id) => [id, 0]))
  const primaryLoad = new Map(ring.nodes.map((id) => [id, 0]))
  for (let i = 0; i < positions.length; i++) {
    const pref = ring.preferenceList(positions[i] as number)
    const first = pref[0] as string
    primaryLoad.set(first, (primaryLoad.get(first) ?? 0) + 1)
    for (const id of pref.slice(0, DEFAULT_N)) replicaLoad.set(id, (replicaLoad.get(id) ?? 0) + 1)
  }
  const deviation = (load: Map<string, number>, even: number) => Math.max(...[...load.values()].map((c) => Math.abs(c / even - 1)))
  return {
    replicaLoad,
    primaryLoad,
    replicaDeviation: deviation(replicaLoad, (positions.length * DEFAULT_N) / nodes),
    primaryDeviation: deviation(primaryLoad, positions.length / nodes),
  }
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`

// ---------------------------------------------------------------------------------------------
// hash.ts

test('ringPosition is a deterministic unsigned 32-bit MD5 prefix', (t) => {
  // md5('') = d41d8cd98f00b204e9800998ecf8427e
  t.is(ringPosition(''), 0xd41d8cd9)
  t.is(ringPosition('node-1#0'), ringPosition('node-1#0'))
  forEachSeed(300, 1, (rng) => {
    const p = ringPosition(`text-${rng.int(1e9)}`)
    t.true(Number.isInteger(p) && p >= 0 && p < 2 ** 32)
  })
  // The same positions as the digest's first 4 bytes read big-endian (how keys were placed before
  // the one-shot hash), for text beyond ASCII too: data placed by older code is found again.
  forEachSeed(300, 2, (rng) => {
    const text = `k-${rng.int(1e9)}-\u00e9\u4e2d\u{1f600}-${rng.int(1e3)}`
    t.is(ringPosition(text), createHash('md5').update(text).digest().readUInt32BE(0))
  })
})

test('objectPosition joins bucket and key with NUL, so the split point matters', (t) => {
  t.is(objectPosition('b', 'key'), ringPosition('b\u0000key'))
  t.not(objectPosition('ab', 'c'), objectPosition('a', 'bc'))
})

// ---------------------------------------------------------------------------------------------
// preference lists

test('an empty ring has empty preference lists and no ownership', (t) => {
  const ring = new HashRing([])
  t.deepEqual(ring.nodes, [])
  t.deepEqual(ring.preferenceList(0), [])
  t.deepEqual(ring.preferenceList(12345), [])
  t.deepEqual(ring.ownership(), {})
})

test('a one-node ring always answers that node', (t) => {
  const ring = new HashRing(['solo'])
  forEachSeed(200, 2, (rng) => t.deepEqual(ring.preferenceList(rng.int(2 ** 32)), ['solo']))
  t.deepEqual(ring.preferenceList(0), ['solo'])
  t.deepEqual(ring.preferenceList(2 ** 32 - 1), ['solo'])
})

test('a preference list holds every node exactly once, so its first N entries are distinct', (t) => {
  for (const n of [2, 3, 4, 7, 10]) {
    const ids = nodeIds(n)
    const ring = new HashRing(ids, 16)
    forEachSeed(300, 100 + n, (rng, seed) => {
      const pref = ring.preferenceList(rng.int(2 ** 32))
      t.is(pref.length, n, `seed ${seed}`)
      t.is(new Set(pref).size, n, `seed ${seed}`)
      t.deepEqual([...pref].sort(), [...ids].sort(), `seed ${seed}`)
      const firstN = pref.slice(0, Math.min(DEFAULT_N, n))
      t.is(new Set(firstN).size, firstN.length, `seed ${seed}`)
    })
  }
})

test('a position exactly on a virtual node is owned by that node; the ring wraps past the last point', (t) => {
  const ids = nodeIds(4)
  const ring = new HashRing(ids, 8)
  for (const id of ids) for (let i = 0; i < 8; i++) t.is(ring.preferenceList(ringPosition(`${id}#${i}`))[0], id)
  // Past the highest point the walk starts again at the lowest one.
  const points = ids.flatMap((id) => Array.from({ length: 8 }, (_, i) => ({ id, p: ringPosition(`${id}#${i}`) }))).sort((a, b) => a.p - b.p)
  const lowest = points[0]!
  const highest = points[points.length - 1]!
  t.true(highest.p < 2 ** 32 - 1)
  t.is(ring.preferenceList(highest.p + 1)[0], lowest.id)
  t.is(ring.preferenceList(2 ** 32 - 1)[0], lowest.id)
  t.is(ring.preferenceList(0)[0], lowest.id)
  t.is(ring.preferenceList(lowest.p)[0], lowest.id)
})

test('the ring is deterministic: same ids in any order (and with duplicates) give the same ring', (t) => {
  const ids = nodeIds(10)
  const reference = new HashRing(ids)
  const probes: number[] = []
  forEachSeed(1, 3, (rng) => {
    for (let i = 0; i < 500; i++) probes.push(rng.int(2 ** 32))
  })
  forEachSeed(20, 4, (rng, seed) => {
    const shuffled = rng.shuffle([...ids, ...(rng.chance(0.5) ? [rng.pick(ids)] : [])])
    const ring = new HashRing(shuffled)
    t.deepEqual(ring.nodes, reference.nodes, `seed ${seed}`)
    t.deepEqual(ring.ownership(), reference.ownership(), `seed ${seed}`)
    for (const p of probes) t.deepEqual(ring.preferenceList(p), reference.preferenceList(p), `seed ${seed} position ${p}`)
  })
})

test('ownership covers the whole ring: shares sum to 1 and every node has one', (t) => {
  for (const n of [1, 4, 10, 11]) {
    const ring = new HashRing(nodeIds(n))
    const share = ring.ownership()
    t.deepEqual(Object.keys(share).sort(), [...ring.nodes].sort())
    const sum = Object.values(share).reduce((a, b) => a + b, 0)
    t.true(Math.abs(sum - 1) < 1e-9, `sum for ${n} nodes = ${sum}`)
    for (const s of Object.values(share)) t.true(s > 0 && s <= 1)
  }
})

test('ownership matches the measured primary share of 1,000,000 keys', (t) => {
  const positions = keyPositions()
  const ring = new HashRing(nodeIds(4))
  const owners = primaries(ring, positions)
  const share = ring.ownership()
  ring.nodes.forEach((id, i) => {
    let count = 0
    for (const o of owners) if (o === i) count++
    t.true(Math.abs(count / positions.length - (share[id] ?? 0)) < 0.005, `${id}: measured ${count / positions.length}, ownership ${share[id]}`)
  })
})

// ---------------------------------------------------------------------------------------------
// balance over 1,000,000 keys (positions hashed once and shared)

for (const nodes of [4, 10]) {
  test(`balance: 1,000,000 keys over ${nodes} nodes with ${DEFAULT_VNODES} vnodes each`, (t) => {
    const b = measureBalance(nodes)
    t.log(`replica (N=${DEFAULT_N}) load max deviation ${pct(b.replicaDeviation)}:`, Object.fromEntries(b.replicaLoad))
    t.log(`primary load max deviation ${pct(b.primaryDeviation)}:`, Object.fromEntries(b.primaryLoad))
    let total = 0
    for (const c of b.replicaLoad.values()) total += c
    t.is(total, KEYS * Math.min(DEFAULT_N, nodes))
    t.true(b.replicaDeviation <= 0.1, `replica deviation ${pct(b.replicaDeviation)} > 10%`)
    t.true(b.primaryDeviation <= 0.25, `primary deviation ${pct(b.primaryDeviation)} > 25%`)
  })
}

// ---------------------------------------------------------------------------------------------
// movement

test('adding an 11th node moves about 1/11 of primary owners, all of them to the new node', (t) => {
  const positions = keyPositions()
  const before = new HashRing(nodeIds(10))
  const after = new HashRing(nodeIds(11))
  const ownersBefore = primaries(before, positions)
  const ownersAfter = primaries(after, positions)
  const newcomer = after.nodes.indexOf('node-11')
  let moved = 0
  let movedElsewhere = 0
  for (let i = 0; i < positions.length; i++) {
    const was = before.nodes[ownersBefore[i] as number]
    const is = after.nodes[ownersAfter[i] as number]
    if (was !== is) {
      moved++
      if (ownersAfter[i] !== newcomer) movedElsewhere++
    }
  }
  const fraction = moved / positions.length
  t.log(`moved ${moved} of ${positions.length} primary owners = ${fraction.toFixed(4)} (1/11 = ${(1 / 11).toFixed(4)})`)
  t.is(movedElsewhere, 0, 'a key changed owner between two old nodes')
  t.true(fraction >= 0.5 / 11 && fraction <= 1.6 / 11, `moved fraction ${fraction}`)
})

test('adding a node changes each preference list only by inserting the new node', (t) => {
  const before = new HashRing(nodeIds(10))
  const after = new HashRing(nodeIds(11))
  forEachSeed(500, 5, (rng, seed) => {
    const p = rng.int(2 ** 32)
    t.deepEqual(
      after.preferenceList(p).filter((id) => id !== 'node-11'),
      before.preferenceList(p),
      `seed ${seed}`,
    )
  })
})
