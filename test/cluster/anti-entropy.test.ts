/**
 * Anti-entropy: a version only one replica holds (no stand-in kept a hint for the others) reaches
 * the key's other primaries with no client read, bytes included; nodes that are not primaries of
 * the key never get it.
 */
import { createHash } from 'node:crypto'
import test from 'ava'
import { objectPosition } from '../../shared/ring/hash.js'
import { HashRing } from '../../shared/ring/hash-ring.js'
import { versionId } from '../../shared/vclock/versions.js'
import { TestCluster } from '../../devtools/test-cluster.js'
import { createBucket, put } from '../helpers/http.js'
import { eventually, heldBy, internalClient, nodeRef } from '../helpers/internal.js'

let cluster: TestCluster
test.before(async () => {
  cluster = await TestCluster.start(4, { nodeArgs: ['--anti-entropy-interval-ms', '300', '--anti-entropy-segments', '256'] })
  await createBucket(cluster.url, 'entropy')
})
test.after.always(async () => {
  await cluster?.teardown()
})

for (const [name, size] of [
  ['small', 2],
  ['file', 300_000],
] as const) {
  test(`a ${name} version written on one replica only reaches the other primaries without a read`, async (t) => {
    const key = `k-${name}`
    const written = (await (await put(cluster.url, 'entropy', key, 'v1')).json()) as { pref_list: string[] }
    const [a, ...others] = written.pref_list as [string, ...string[]]
    const bytes = Buffer.alloc(size, 0x5a)
    // Straight to one replica's internal API: no proxy, so no replication and no hints.
    const answer = await internalClient(cluster).coordinate(nodeRef(cluster, a), 'entropy', key, { tombstone: false, contentType: 'application/octet-stream' }, { buffer: bytes })
    const id = versionId(answer.version.dot)
    t.deepEqual(
      (await heldBy(cluster, a, 'entropy', key)).map((v) => versionId(v.dot)),
      [id],
    )
    const started = Date.now()
    await eventually(
      async () => {
        for (const o of others) {
          const held = await heldBy(cluster, o, 'entropy', key)
          if (held.length !== 1 || versionId((held[0] as { dot: { actor: string; counter: number } }).dot) !== id) return false
        }
        return true
      },
      15_000,
      'every primary holds the new version, and only it',
    )
    t.log(`${name}: the other primaries had it ${Date.now() - started} ms after it was written on ${a}`)
    // The bytes came along and verify.
    for (const o of others) {
      const data = await internalClient(cluster).openData(nodeRef(cluster, o), 'entropy', key, id)
      const chunks: Buffer[] = []
      for await (const c of data as AsyncIterable<Buffer>) chunks.push(c)
      t.is(createHash('sha256').update(Buffer.concat(chunks)).digest('hex'), answer.version.etag)
    }
    const outsider = ['node-1', 'node-2', 'node-3', 'node-4'].find((n) => !written.pref_list.includes(n)) as string
    t.deepEqual(await heldBy(cluster, outsider, 'entropy', key), [], 'not a primary: not given the key')
  })
}

test('nodes report their anti-entropy rounds and repairs in /health', async (t) => {
  let repaired = 0
  for (const id of ['node-1', 'node-2', 'node-3', 'node-4']) {
    const h = (await (await fetch(`${cluster.nodeUrl(id)}/health`)).json()) as { antiEntropy?: { rounds: number; keysRepaired: number } }
    t.true((h.antiEntropy?.rounds ?? 0) > 0, id)
    repaired += h.antiEntropy?.keysRepaired ?? 0
  }
  t.true(repaired >= 2)
})

// Runs last (ava --serial keeps file order): it adds a 5th node to this file's cluster.
test('a node that joins gets the existing keys of the ranges it now replicates', async (t) => {
  const keys = Array.from({ length: 60 }, (_, i) => `before-join-${i}`)
  for (const k of keys) t.is((await put(cluster.url, 'entropy', k, k)).status, 201)
  const joined = await cluster.addNode({ waitJoined: false })
  const ring = new HashRing(['node-1', 'node-2', 'node-3', 'node-4', joined], 128)
  const mine = keys.filter((k) => ring.preferenceList(objectPosition('entropy', k)).slice(0, 3).includes(joined))
  t.true(mine.length > 10, `${mine.length} of the keys now have ${joined} among their primaries`)
  const started = Date.now()
  await eventually(
    async () => {
      for (const k of mine) if ((await heldBy(cluster, joined, 'entropy', k)).length !== 1) return false
      return true
    },
    20_000,
    `${joined} holds every key it now replicates`,
  )
  t.log(`${joined} held all ${mine.length} keys of its ranges ${Date.now() - started} ms after it was healthy`)
  const others = keys.filter((k) => !mine.includes(k))
  for (const k of others.slice(0, 10)) t.deepEqual(await heldBy(cluster, joined, 'entropy', k), [], `${k} is not its to hold`)
})
