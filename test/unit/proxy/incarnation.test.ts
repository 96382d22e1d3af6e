/** Bucket incarnations on objects (proxy/buckets/incarnation.ts): what one incarnation of a bucket sees of versions written into another. */
import test from 'ava'
import { asSeenIn } from '../../../proxy/buckets/incarnation.js'
import type { Version } from '../../../shared/wire/internal-api.js'

function version(n: number, incarnation?: string, tombstone = false): Version {
  return {
    dot: { actor: `node-1.e.${n}`, counter: n },
    context: { vv: {}, dots: [] },
    tombstone,
    size: tombstone ? 0 : 5,
    etag: 'e'.repeat(64),
    contentType: 'text/plain',
    lastModified: 1_700_000_000_000 + n,
    node: 'node-1',
    ...(incarnation === undefined ? {} : { meta: { incarnation } }),
  } as Version
}

test('versions of another incarnation are seen as deleted, keeping their dots; those of this one and those that record none are seen as they are', (t) => {
  const mine = version(1, 'inc-2')
  const other = version(2, 'inc-1')
  const legacy = version(3)
  const seen = asSeenIn('inc-2', [mine, other, legacy])
  t.deepEqual(seen[0], mine)
  t.deepEqual(seen[2], legacy)
  t.true(seen[1]?.tombstone)
  t.deepEqual(seen[1]?.dot, other.dot, 'the dot stays: a write over this read supersedes it')
  t.false(other.tombstone, 'the stored version is not changed')
})

test('property: whatever the mix, the versions seen live are exactly the live ones of this incarnation or of none, and every dot stays', (t) => {
  let x = 7
  const rnd = () => {
    x = (x * 1103515245 + 12345) % 2 ** 31
    return x / 2 ** 31
  }
  for (let round = 0; round < 200; round++) {
    const incs = [undefined, 'inc-1', 'inc-2', 'inc-3']
    const versions = Array.from({ length: 1 + Math.floor(rnd() * 6) }, (_, i) => version(round * 10 + i, incs[Math.floor(rnd() * incs.length)], rnd() < 0.2))
    const current = incs[Math.floor(rnd() * incs.length)]
    const seen = asSeenIn(current, versions)
    t.deepEqual(
      seen.map((v) => v.dot),
      versions.map((v) => v.dot),
    )
    const expected = versions.filter((v) => !v.tombstone && (current === undefined || v.meta?.incarnation === undefined || v.meta.incarnation === current))
    t.deepEqual(
      seen.filter((v) => !v.tombstone).map((v) => v.dot),
      expected.map((v) => v.dot),
      `round ${round}`,
    )
  }
})
