/** Anti-entropy digests: equal replicas agree, any difference in a shared key shows, others do not count. */
import test from 'ava'
import { HashRing } from '../../../shared/ring/hash-ring.js'
import { differingKeys, type KeyIds, segmentDigest, sharedBy } from '../../../storage-node/anti-entropy/segment-digest.js'
import { forEachSeed } from '../../../devtools/prng.js'

const all = () => true

test('sharedBy is symmetric and means "both among the N primaries"', (t) => {
  const ring = new HashRing(['n1', 'n2', 'n3', 'n4', 'n5'], 64)
  const ab = sharedBy(ring, 3, 'n1', 'n2')
  const ba = sharedBy(ring, 3, 'n2', 'n1')
  let shared = 0
  for (let i = 0; i < 2000; i++) {
    const k = `key-${i}`
    t.is(ab('b', k), ba('b', k))
    if (ab('b', k)) shared++
  }
  // Two of five nodes share a key's 3 primaries for about 3/10 of the keys.
  t.true(shared > 400 && shared < 800, `${shared} of 2000`)
})

test('segmentDigest: equal entries agree; a changed id, a missing key or an extra key differ; unshared keys are ignored', (t) => {
  const base: KeyIds[] = [
    { bucket: 'b', key: 'k1', ids: 'a~1' },
    { bucket: 'b', key: 'k2', ids: 'a~2 b~1' },
  ]
  const d = segmentDigest(base, all)
  t.is(segmentDigest([...base], all), d)
  t.not(segmentDigest([base[0] as KeyIds, { bucket: 'b', key: 'k2', ids: 'a~2' }], all), d)
  t.not(segmentDigest([base[0] as KeyIds], all), d)
  t.not(segmentDigest([...base, { bucket: 'b', key: 'k3', ids: 'c~1' }], all), d)
  t.is(
    segmentDigest([...base, { bucket: 'b', key: 'k3', ids: 'c~1' }], (_b, k) => k !== 'k3'),
    d,
  )
})

test('property: differingKeys is exactly the keys whose ids differ or that one side lacks', (t) => {
  forEachSeed(300, 17, (rng, seed) => {
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`)
    const side = () => keys.filter(() => rng.chance(0.7)).map((key) => ({ bucket: 'b', key, ids: rng.pick(['x~1', 'x~2', 'x~1 y~1']) }))
    const mine = side()
    const theirs = side()
    const got = new Set(differingKeys(mine, theirs).map((k) => k.key))
    for (const key of keys) {
      const m = mine.find((e) => e.key === key)?.ids
      const o = theirs.find((e) => e.key === key)?.ids
      t.is(got.has(key), m !== o, `seed ${seed} ${key}: ${m} vs ${o}`)
    }
    t.is(segmentDigest(mine, all) === segmentDigest(theirs, all), got.size === 0, `seed ${seed}`)
  })
})
