/**
 * The tombstone reaper over in-memory stores (test/helpers/memory-store.ts) and a node client that
 * calls them: the reaper depends on TombstoneStore and HintCounts only, so it runs here without
 * LMDB or sockets.
 */
import test from 'ava'
import type { NodeClient, NodeRef } from '../../../shared/http/node-client.js'
import type { Logger } from '../../../shared/log.js'
import type { Dot } from '../../../shared/wire/internal-api.js'
import { Membership } from '../../../storage-node/gossip/membership.js'
import { TombstoneReaper } from '../../../storage-node/reaper/tombstone-reaper.js'
import { NodeRing } from '../../../storage-node/ring/node-ring.js'
import { MemoryObjectStore } from '../../helpers/memory-store.js'

const NOW = 1_700_000_000_000
const GRACE_MS = 60_000
const CFG = { intervalMs: 100, fanout: 3, suspectAfterMs: 300_000, failAfterMs: 500_000, cleanupAfterMs: 1_000_000 }
const log = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} } as unknown as Logger

/** Three nodes (every one a primary of every key at N=3), node `a` reaping. */
function cluster() {
  const stores = new Map(['a', 'b', 'c'].map((id) => [id, new MemoryObjectStore({ nodeId: id, now: () => NOW })]))
  const store = (id: string) => stores.get(id) as MemoryObjectStore
  const membership = new Membership('a', 'a:1', 1, CFG, () => NOW)
  membership.merge(['b', 'c'].map((id) => ({ id, address: `${id}:1`, generation: 1, heartbeat: 1, left: false })))
  const nodes = {
    health: async (n: NodeRef) => ({ hints: store(n.id).hintTotals() }),
    versions: async (n: NodeRef, bucket: string, key: string) => ({ node: n.id, versions: store(n.id).versions(bucket, key) }),
    reap: async (n: NodeRef, bucket: string, key: string, dots: readonly Dot[]) => ({ node: n.id, reaped: await store(n.id).reap(bucket, key, dots) }),
  } as unknown as NodeClient
  const ring = new NodeRing({ selfId: 'a', address: 'a:1', log })
  for (const id of ['a', 'b', 'c']) ring.apply(id, 'member', `${id}:1`)
  const reaper = new TombstoneReaper({ store: store('a'), membership, ring, nodes, log }, { graceMs: GRACE_MS, intervalMs: 1000, n: 3, vnodes: 8 })
  /** A tombstone coordinated on `a` and replicated to the others. */
  const deleteEverywhere = async (key: string) => {
    const del = await store('a').coordinate('b', key, { tombstone: true }, null)
    for (const id of ['b', 'c']) await store(id).replicate('b', key, del.version, null)
    return del.version
  }
  return { store, reaper, ring, deleteEverywhere }
}

test('a tombstone every primary holds is reaped on all of them once its grace has passed', async (t) => {
  const { store, reaper, deleteEverywhere } = cluster()
  await deleteEverywhere('gone')
  t.is(await reaper.round(NOW + GRACE_MS), 0, 'not before the grace period is over')
  t.is(await reaper.round(NOW + GRACE_MS + 1), 1)
  for (const id of ['a', 'b', 'c']) t.deepEqual(store(id).versions('b', 'gone'), [], id)
})

test('a replica holding another version, or any node holding hints, keeps the tombstone', async (t) => {
  const { store, reaper, deleteEverywhere } = cluster()
  const del = await deleteEverywhere('k')
  // `c` also holds a concurrent live version: the tombstone is not all it has.
  await store('c').replicate('b', 'k', { ...del, dot: { actor: 'c.00000000~1', counter: 1 }, tombstone: false }, null)
  t.is(await reaper.round(NOW + GRACE_MS + 1), 0)
  t.is(store('a').versions('b', 'k').length, 1)
  t.is(store('c').versions('b', 'k').length, 2)
  // A hint held anywhere stops every reap (a stand-in may hold an older version for a primary).
  await deleteEverywhere('other')
  await store('b').replicate('b', 'x', { ...del, dot: { actor: 'c.00000000~1', counter: 2 } }, null, { kind: 'hint', target: 'd' })
  t.is(await reaper.round(NOW + GRACE_MS + 1), 0)
  t.is(store('b').versions('b', 'other').length, 1)
})

for (const [state, why] of [
  ['member', 'a node the ring still places keys on blocks reaping, even one gossip has never heard of (down for any time)'],
  ['joining', 'a node joining the ring blocks reaping (its holders may have sent it an older version of the key)'],
] as const) {
  test(`${why}; its removal unblocks it`, async (t) => {
    const { store, reaper, ring, deleteEverywhere } = cluster()
    ring.apply('d', state, 'd:1')
    await deleteEverywhere('k')
    t.is(await reaper.round(NOW + GRACE_MS + 1), 0)
    t.is(store('a').versions('b', 'k').length, 1)
    ring.apply('d', 'removed')
    t.is(await reaper.round(NOW + GRACE_MS + 1), 1)
  })
}
