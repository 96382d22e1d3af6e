/**
 * The ownership transfer loop (storage-node/ring/ownership-transfer.ts) over in-memory stores and a
 * node client that calls them: a join sends each key only to the node its preference list gained;
 * a leave sends everything to the next owners, then removes the node and, once drained, says done
 * (dropping nothing); copies of keys the node is not a primary of are handed to every primary and
 * only then dropped; a joining node is sent its keys but the old holders keep serving (and keep
 * their copies) until it makes itself a member, which it does once every live holder announces it
 * has sent its share.
 */
import test from 'ava'
import type { NodeClient, NodeRef } from '../../../shared/http/node-client.js'
import type { Logger } from '../../../shared/log.js'
import { objectPosition } from '../../../shared/ring/hash.js'
import { HashRing } from '../../../shared/ring/hash-ring.js'
import { versionId } from '../../../shared/vclock/versions.js'
import type { Version } from '../../../shared/wire/internal-api.js'
import { PROTOCOL_VERSION } from '../../../shared/wire/protocol.js'
import { Membership } from '../../../storage-node/gossip/membership.js'
import { ownersDigest } from '../../../storage-node/ring/join-check.js'
import { NodeRing } from '../../../storage-node/ring/node-ring.js'
import { OwnershipTransfer } from '../../../storage-node/ring/ownership-transfer.js'
import { MemoryObjectStore } from '../../helpers/memory-store.js'

const NOW = 1_700_000_000_000
const N = 2
const VNODES = 8
const CFG = { intervalMs: 100, fanout: 3, suspectAfterMs: 300_000, failAfterMs: 500_000, cleanupAfterMs: 1_000_000 }
const log = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} } as unknown as Logger
const KEYS = Array.from({ length: 60 }, (_, i) => `k-${i}`)

/** The versions here are stamped NOW (2023): a grace of ten years keeps them young for the handover's guard. */
const YOUNG = 10 * 365 * 86_400_000

async function setup(tombstoneGraceMs = YOUNG) {
  const stores = new Map(['a', 'b', 'c', 'd'].map((id) => [id, new MemoryObjectStore({ nodeId: id, now: () => NOW })]))
  const store = (id: string) => stores.get(id) as MemoryObjectStore
  const membership = new Membership('a', 'a:1', 1, CFG, () => NOW)
  membership.merge(['b', 'c', 'd'].map((id) => ({ id, address: `${id}:1`, generation: 1, heartbeat: 1, left: false })))
  const ring = new NodeRing({ selfId: 'a', address: 'a:1', log })
  for (const id of ['a', 'b', 'c']) ring.apply(id, 'member', `${id}:1`)
  const nodes = {
    transferHave: async (n: NodeRef, keys: { bucket: string; key: string }[]) => ({
      node: n.id,
      ids: keys.map((k) =>
        store(n.id)
          .versions(k.bucket, k.key)
          .map((v) => versionId(v.dot)),
      ),
    }),
    replicate: async (n: NodeRef, bucket: string, key: string, v: Version) => store(n.id).replicate(bucket, key, v, null),
  } as unknown as NodeClient
  membership.setVnodes(VNODES)
  const transfer = new OwnershipTransfer({ store: store('a'), ring, membership, nodes, log, heardFromCluster: () => true }, { n: N, vnodes: VNODES, intervalMs: 1000, drainMs: 0, tombstoneGraceMs })
  // Tombstones: versions without bytes, sent like any other.
  for (const key of KEYS) await store('a').coordinate('b', key, { tombstone: true }, null)
  await transfer.tick()
  return { store, stores, ring, transfer, membership }
}

/** Make `store` refuse replicas (as a node that resets the connection) while `refusing.on` is true. */
function refusing(store: MemoryObjectStore, on = true): { on: boolean } {
  const state = { on }
  const original = store.replicate.bind(store)
  store.replicate = (...args: Parameters<typeof original>) => (state.on ? Promise.reject(new Error('connection reset')) : original(...args))
  return state
}

const primaries = (ids: string[], key: string) => new HashRing(ids, VNODES).preferenceList(objectPosition('b', key)).slice(0, N)
const holds = (s: MemoryObjectStore, key: string) => s.versions('b', key).length > 0

test('a join: each key goes to the node its preference list gained, and only those keys; the sender keeps its copies', async (t) => {
  const { store, ring, transfer } = await setup()
  t.deepEqual(ring.transferredFor, ['a', 'b', 'c'])
  ring.apply('d', 'member', 'd:1')
  await transfer.tick()
  const gained = KEYS.filter((k) => primaries(['a', 'b', 'c', 'd'], k).includes('d'))
  t.true(gained.length > 5 && gained.length < KEYS.length)
  for (const k of KEYS) t.is(holds(store('d'), k), gained.includes(k), k)
  for (const k of KEYS) t.true(holds(store('a'), k))
  t.deepEqual(ring.transferredFor, ['a', 'b', 'c', 'd'])
  t.like(transfer.progress, { kind: 'rebalance', phase: 'idle', keys_total: gained.length, keys_done: gained.length, versions_sent: gained.length, failures: 0 })
  const arcs = new HashRing(['a', 'b', 'c', 'd'], VNODES)
  t.is(transfer.progress?.ranges, new Set(gained.map((k) => arcs.arcOf(objectPosition('b', k)))).size, 'the ring arcs the moved keys fall in')
  t.true((transfer.progress?.ranges ?? 0) > 1)
})

test('a leave: every key reaches all its next owners, the node removes itself, drains, then says done; nothing is dropped', async (t) => {
  const { store, ring, transfer } = await setup()
  ring.apply('d', 'member', 'd:1')
  await transfer.tick()
  ring.apply('a', 'leaving')
  await transfer.tick()
  for (const k of KEYS) for (const p of primaries(['b', 'c', 'd'], k)) t.true(holds(store(p), k), `${k} on ${p}`)
  t.is(ring.get('a')?.state, 'removed')
  await transfer.tick()
  t.is(transfer.progress?.phase, 'done')
  for (const k of KEYS) t.true(holds(store('a'), k))
})

test('a target that does not answer fails the pass, which is redone until it succeeds', async (t) => {
  const { store, ring, transfer } = await setup()
  const flaky = store('d')
  const refuse = refusing(flaky)
  ring.apply('d', 'member', 'd:1')
  await transfer.tick()
  t.deepEqual(ring.transferredFor, ['a', 'b', 'c'], 'not complete: the basis stays')
  t.true((transfer.progress?.failures ?? 0) > 0)
  refuse.on = false
  await transfer.tick()
  t.deepEqual(ring.transferredFor, ['a', 'b', 'c', 'd'])
  for (const k of KEYS.filter((k) => primaries(['a', 'b', 'c', 'd'], k).includes('d'))) t.true(holds(flaky, k))
})

test('copies of keys this node is not a primary of go to every primary, then are dropped here; one a primary cannot take stays', async (t) => {
  const { store, ring, transfer } = await setup()
  ring.apply('d', 'member', 'd:1')
  await transfer.tick()
  const owners = ['a', 'b', 'c', 'd']
  const notOurs = KEYS.filter((k) => !primaries(owners, k).includes('a'))
  t.true(notOurs.length > 5)
  // One primary refuses for now: the keys it is a primary of stay here.
  const flaky = store('b')
  const refuse = refusing(flaky)
  await transfer.tick()
  for (const k of notOurs) t.is(holds(store('a'), k), primaries(owners, k).includes('b') && !holds(store('b'), k), k)
  for (const k of KEYS.filter((k) => primaries(owners, k).includes('a'))) t.true(holds(store('a'), k), `${k} is ours: kept`)
  refuse.on = false
  await transfer.tick()
  for (const k of notOurs) {
    t.false(holds(store('a'), k), `${k} dropped here`)
    for (const p of primaries(owners, k)) t.true(holds(store(p), k), `${k} on ${p}`)
  }
  t.is(transfer.dropped, notOurs.length)
  // Nothing left: later rounds do nothing.
  await transfer.tick()
  t.is(transfer.dropped, notOurs.length)
})

test('a copy older than the tombstone grace is not handed to primaries that hold nothing of its key (it would bring a deleted key back); it stays here', async (t) => {
  // Every version here is years old: past a 10-minute grace.
  const { store, ring, transfer } = await setup(10 * 60_000)
  ring.apply('d', 'member', 'd:1')
  await transfer.tick()
  const owners = ['a', 'b', 'c', 'd']
  const notOurs = KEYS.filter((k) => !primaries(owners, k).includes('a'))
  // One of them its primaries still hold (not reaped there): it is confirmed by each and dropped here.
  const [kept, ...reaped] = notOurs
  for (const p of primaries(owners, kept as string)) await store(p).replicate('b', kept as string, store('a').versions('b', kept as string)[0] as Version, null)
  await transfer.tick()
  for (const k of reaped) {
    t.true(holds(store('a'), k), `${k} kept here`)
    for (const p of primaries(owners, k)) t.is(holds(store(p), k), p === 'd' && primaries(['a', 'b', 'c', 'd'], k).includes('d'), `${k} not sent to ${p}`)
  }
  t.false(holds(store('a'), kept as string), 'a key a primary still holds is handed over and dropped')
  for (const p of primaries(owners, kept as string)) t.true(holds(store(p), kept as string))
})

test('while a member announces another --vnodes (it places keys differently), no copy is dropped', async (t) => {
  const { store, ring, transfer, membership } = await setup()
  membership.merge([{ id: 'b', address: 'b:1', generation: 1, heartbeat: 2, left: false, vnodes: VNODES * 2 }])
  ring.apply('d', 'member', 'd:1')
  await transfer.tick()
  await transfer.tick()
  for (const k of KEYS) t.true(holds(store('a'), k), `${k} kept`)
  t.is(transfer.dropped, 0)
  // The member restarted with the same value: the copies go.
  membership.merge([{ id: 'b', address: 'b:1', generation: 2, heartbeat: 1, left: false, vnodes: VNODES }])
  await transfer.tick()
  t.true(transfer.dropped > 0)
})

test('a joining node is sent its keys, and writes made meanwhile; the old holders keep their copies until it is a member, then hand over', async (t) => {
  const { store, ring, transfer, membership } = await setup()
  const owners = ['a', 'b', 'c', 'd']
  // Keys a serves now and loses to d.
  const losing = Array.from({ length: 400 }, (_, i) => `lose-${i}`)
    .filter((k) => primaries(['a', 'b', 'c'], k).includes('a') && !primaries(owners, k).includes('a'))
    .slice(0, 8)
  t.is(losing.length, 8)
  for (const k of losing) await store('a').coordinate('b', k, { tombstone: true }, null)
  ring.apply('d', 'joining', 'd:1')
  await transfer.tick()
  const gained = KEYS.filter((k) => primaries(owners, k).includes('d'))
  for (const k of KEYS) t.is(holds(store('d'), k), gained.includes(k), k)
  for (const k of losing) t.true(holds(store('d'), k), k)
  t.deepEqual(ring.transferredFor, owners)
  t.is(membership.digest().find((m) => m.id === 'a')?.rebalanced, ownersDigest(owners), 'announced in gossip')
  // A write while d joins goes to the old holders (here: a); the next tick sends it on.
  const late = Array.from({ length: 400 }, (_, i) => `late-${i}`).find(
    (k) => primaries(['a', 'b', 'c'], k).includes('a') && primaries(owners, k).includes('d') && !primaries(owners, k).includes('a'),
  ) as string
  await store('a').coordinate('b', late, { tombstone: true }, null)
  await transfer.tick()
  t.true(holds(store('d'), late), 'a write made during the join reaches the joining node')
  // a serves reads of every key it is a primary of under the old placement: none is handed over and dropped yet.
  const served = [...KEYS, ...losing].filter((k) => primaries(['a', 'b', 'c'], k).includes('a'))
  for (const k of served) t.true(holds(store('a'), k), `${k} kept while d joins`)
  t.true(holds(store('a'), late))
  ring.apply('d', 'member', 'd:1')
  await transfer.tick()
  const notOurs = [...KEYS, ...losing, late].filter((k) => !primaries(owners, k).includes('a'))
  for (const k of losing) t.true(notOurs.includes(k))
  for (const k of notOurs) t.false(holds(store('a'), k), `${k} dropped once d is a member`)
  for (const k of notOurs) for (const p of primaries(owners, k)) t.true(holds(store(p), k), `${k} on ${p}`)
})

/** A node `x` joining a ring of a, b, c, and what it has heard of them. */
function joiner(heard: boolean, holders: { id: string; protocol?: number; rebalanced?: string; silentFor?: number }[]) {
  let now = NOW
  const membership = new Membership('x', 'x:1', 1, CFG, () => now)
  membership.merge(
    holders.map((h) => ({
      id: h.id,
      address: `${h.id}:1`,
      generation: 1,
      heartbeat: 1,
      left: false,
      ...(h.protocol ? { protocol: h.protocol } : {}),
      ...(h.rebalanced ? { rebalanced: h.rebalanced } : {}),
    })),
  )
  const ring = new NodeRing({ selfId: 'x', address: 'x:1', log })
  for (const h of holders) ring.apply(h.id, 'member', `${h.id}:1`)
  const store = new MemoryObjectStore({ nodeId: 'x', now: () => NOW })
  const transfer = new OwnershipTransfer(
    { store, ring, membership, nodes: {} as NodeClient, log, heardFromCluster: () => heard },
    { n: N, vnodes: VNODES, intervalMs: 1000, drainMs: 0, tombstoneGraceMs: YOUNG },
  )
  return { ring, membership, transfer, advance: (ms: number) => (now += ms) }
}

test('a joining node becomes a member once every live holder announces its transfer for the current owners; down and older holders are not waited for', async (t) => {
  const owners = ['a', 'b', 'c', 'x']
  const done = ownersDigest(owners)
  const j = joiner(true, [
    { id: 'a', protocol: PROTOCOL_VERSION, rebalanced: done },
    { id: 'b', protocol: PROTOCOL_VERSION, rebalanced: ownersDigest(['a', 'b', 'c']) },
    { id: 'c', protocol: 3 },
  ])
  t.is(j.ring.get('x')?.state, 'joining', 'a new node admits itself as joining')
  t.deepEqual(j.ring.placement(), ['a', 'b', 'c'])
  t.deepEqual(j.ring.owners(), owners)
  await j.transfer.tick()
  await j.transfer.tick()
  t.is(j.ring.get('x')?.state, 'joining', 'b has not sent its share yet')
  t.deepEqual(j.transfer.progress?.waiting_for, ['b'], 'c speaks 3: it sees x as a member and sends without announcing')
  j.membership.merge([{ id: 'b', address: 'b:1', generation: 1, heartbeat: 2, left: false, protocol: PROTOCOL_VERSION, rebalanced: done }])
  await j.transfer.tick()
  t.is(j.ring.get('x')?.state, 'member')
  t.deepEqual(j.transfer.progress?.waiting_for, [])
})

test('a joining node does not wait for a holder that is down, and founds the ring when it knows no member once gossip was heard', async (t) => {
  const j = joiner(true, [
    { id: 'a', protocol: PROTOCOL_VERSION },
    { id: 'b', protocol: PROTOCOL_VERSION },
  ])
  await j.transfer.tick()
  await j.transfer.tick()
  t.deepEqual(j.transfer.progress?.waiting_for, ['a', 'b'])
  j.advance(600_000)
  j.membership.merge([{ id: 'b', address: 'b:1', generation: 1, heartbeat: 9, left: false, protocol: PROTOCOL_VERSION, rebalanced: ownersDigest(['a', 'b', 'x']) }])
  await j.transfer.tick()
  t.is(j.ring.get('x')?.state, 'member', 'a is down (silent past T_fail): its keys are on their other replicas')

  const alone = joiner(false, [])
  await alone.transfer.tick()
  await alone.transfer.tick()
  t.is(alone.ring.get('x')?.state, 'joining', 'no gossip heard yet: it may be joining a cluster it does not know of yet')
  const first = joiner(true, [])
  await first.transfer.tick()
  await first.transfer.tick()
  t.is(first.ring.get('x')?.state, 'member', 'the first node of a new cluster')
})

test('a holder announces its transfer only while no key of a joining node is left unsent; a pass failing toward another target does not hold the join', async (t) => {
  const { store, ring, transfer, membership } = await setup()
  const announced = () => membership.digest().find((m) => m.id === 'a')?.rebalanced
  const refuse = refusing(store('d'))
  ring.apply('d', 'joining', 'd:1')
  await transfer.tick()
  t.not(announced(), ownersDigest(['a', 'b', 'c', 'd']), 'd lacks keys: not announced')
  refuse.on = false
  await transfer.tick()
  t.is(announced(), ownersDigest(['a', 'b', 'c', 'd']))
  // A write d does not get (it refuses again): the announcement is withdrawn until it has it.
  refuse.on = true
  const late = Array.from({ length: 400 }, (_, i) => `w-${i}`).find((k) => primaries(['a', 'b', 'c', 'd'], k).includes('d')) as string
  await store('a').coordinate('b', late, { tombstone: true }, null)
  await transfer.tick()
  t.is(announced(), 'pending')
  refuse.on = false
  await transfer.tick()
  t.is(announced(), ownersDigest(['a', 'b', 'c', 'd']))
  // c is removed while down (every key it held gains another owner) and a new owner refuses: d still gets its announcement.
  const other = refusing(store('b'))
  ring.apply('c', 'removed')
  await transfer.tick()
  t.deepEqual(ring.transferredFor, ['a', 'b', 'c', 'd'], 'the pass failed toward b: not complete')
  t.is(announced(), ownersDigest(['a', 'b', 'd']), 'but nothing of d is unsent')
  other.on = false
})

test('a holder sends first the keys it is the first live holder of, so the other holders find them there and do not send them again', async (t) => {
  const { store, ring, transfer } = await setup()
  const order: string[] = []
  const target = store('d')
  const original = target.replicate.bind(target)
  target.replicate = (...args: Parameters<typeof original>) => {
    order.push(args[1])
    return original(...args)
  }
  ring.apply('d', 'joining', 'd:1')
  await transfer.tick()
  const first = (k: string) => primaries(['a', 'b', 'c'], k)[0] === 'a'
  t.true(order.some(first) && order.some((k) => !first(k)), 'both kinds were sent')
  const lastFirst = order.map(first).lastIndexOf(true)
  const firstOther = order.findIndex((k) => !first(k))
  t.true(lastFirst < firstOther, `every key a is first for went before the others: ${order.map((k) => (first(k) ? 'F' : 'o')).join('')}`)
})

test('a member that restarts (maybe with a wiped disk, under its id) is asked again what it holds: what it lost is sent again', async (t) => {
  const { store, stores, ring, transfer, membership } = await setup()
  ring.apply('d', 'joining', 'd:1')
  await transfer.tick()
  const gained = KEYS.filter((k) => primaries(['a', 'b', 'c', 'd'], k).includes('d'))
  for (const k of gained) t.true(holds(store('d'), k))
  stores.set('d', new MemoryObjectStore({ nodeId: 'd', now: () => NOW }))
  membership.merge([{ id: 'd', address: 'd:1', generation: 2, heartbeat: 1, left: false }])
  await transfer.tick()
  for (const k of gained) t.true(holds(store('d'), k), `${k} sent again after the restart`)
})
