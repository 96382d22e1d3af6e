/**
 * The hint replayer over in-memory stores (test/helpers/memory-store.ts) and a node client that
 * calls them: handoff depends on HintStore only, so it runs here without LMDB or sockets.
 */
import { hash } from 'node:crypto'
import type { Readable } from 'node:stream'
import test from 'ava'
import type { NodeClient, NodeRef } from '../../../shared/http/node-client.js'
import type { Logger } from '../../../shared/log.js'
import { versionId } from '../../../shared/vclock/versions.js'
import type { Version } from '../../../shared/wire/internal-api.js'
import { Membership } from '../../../storage-node/gossip/membership.js'
import { HintReplayer } from '../../../storage-node/handoff/hint-replayer.js'
import type { ReceivedBody } from '../../../storage-node/store/blobs/blob-files.js'
import { MemoryObjectStore } from '../../helpers/memory-store.js'

const NOW = 1_700_000_000_000
const CFG = { intervalMs: 100, fanout: 3, suspectAfterMs: 300_000, failAfterMs: 500_000, cleanupAfterMs: 1_000_000 }
const log = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} } as unknown as Logger
const HINT_FOR_B = { kind: 'hint', target: 'b' } as const

function inline(bytes: Buffer): ReceivedBody {
  return { kind: 'inline', size: bytes.length, etag: hash('sha256', bytes), bytes }
}

/** Node `a` holds hints for node `b`, which is up (and full when asked). */
function handoff(bFull = false) {
  const a = new MemoryObjectStore({ nodeId: 'a', now: () => NOW })
  const b = new MemoryObjectStore({ nodeId: 'b', now: () => NOW })
  const membership = new Membership('a', 'a:1', 1, CFG, () => NOW)
  membership.merge([{ id: 'b', address: 'b:1', generation: 1, heartbeat: 1, left: false, ...(bFull ? { full: true } : {}) }])
  const nodes = {
    replicate: async (_n: NodeRef, bucket: string, key: string, v: Version, body: { stream: Readable } | null) => {
      const chunks: Buffer[] = []
      if (body) for await (const c of body.stream) chunks.push(Buffer.from(c as Uint8Array))
      return { node: 'b', ...(await b.replicate(bucket, key, v, body ? inline(Buffer.concat(chunks)) : null)) }
    },
  } as unknown as NodeClient
  const ring = { get: () => undefined, placement: () => ['a', 'b'] }
  const replayer = new HintReplayer({ store: a, blobs: memoryBlobs, membership, ring, nodes, log }, { schedule: '* * * * * *', dropAfterMs: 60_000, n: 3, vnodes: 16 })
  return { a, b, replayer }
}

/** Received bodies held in memory (what BlobFiles.receive does, without files). */
const memoryBlobs = {
  receive: async (body: Readable): Promise<ReceivedBody> => {
    const chunks: Buffer[] = []
    for await (const c of body) chunks.push(Buffer.from(c as Uint8Array))
    return inline(Buffer.concat(chunks))
  },
  discard: async () => {},
}

/**
 * Node `a` holds hints for `gone`, which the ring record marks removed; `a`, `c` and `d` place keys
 * now (N=3: each is a primary of every key). `down` names peers that do not answer.
 */
function removedTarget(down: Set<string>) {
  const stores = new Map(['a', 'c', 'd'].map((id) => [id, new MemoryObjectStore({ nodeId: id, now: () => NOW })]))
  const a = stores.get('a') as MemoryObjectStore
  const membership = new Membership('a', 'a:1', 1, CFG, () => NOW)
  membership.merge(['c', 'd'].map((id) => ({ id, address: `${id}:1`, generation: 1, heartbeat: 1, left: false })))
  const nodes = {
    replicate: async (n: NodeRef, bucket: string, key: string, v: Version, body: { stream: Readable } | null) => {
      if (down.has(n.id)) throw new Error(`${n.id} unreachable`)
      const got = body ? await memoryBlobs.receive(body.stream) : null
      return { node: n.id, ...(await (stores.get(n.id) as MemoryObjectStore).replicate(bucket, key, v, got)) }
    },
  } as unknown as NodeClient
  const ring = {
    get: (id: string) => (id === 'gone' ? { id, address: 'gone:1', state: 'removed' as const, version: 2, by: 'a', at: new Date(NOW).toISOString() } : undefined),
    placement: () => ['a', 'c', 'd'],
  }
  const replayer = new HintReplayer({ store: a, blobs: memoryBlobs, membership, ring, nodes, log }, { schedule: '* * * * * *', dropAfterMs: 60_000, n: 3, vnodes: 16 })
  return { stores, a, replayer }
}

test('hints are handed off to their target once it is up, bytes and tombstones alike, and leave the holder', async (t) => {
  const { a, b, replayer } = handoff()
  const live = await a.coordinate('bkt', 'k1', {}, inline(Buffer.from('for b')), HINT_FOR_B)
  const dead = await a.coordinate('bkt', 'k2', { tombstone: true }, null, HINT_FOR_B)
  t.deepEqual(a.hintTotals(), { b: { versions: 2, bytes: 5 } })
  t.is(await replayer.round(NOW), 2)
  t.deepEqual(a.hintTotals(), {})
  t.deepEqual(b.versions('bkt', 'k1'), [live.version])
  t.deepEqual(b.versions('bkt', 'k2'), [dead.version])
  const chunks: Buffer[] = []
  for await (const c of await b.openData('bkt', 'k1', versionId(live.version.dot))) chunks.push(Buffer.from(c as Uint8Array))
  t.is(Buffer.concat(chunks).toString(), 'for b')
})

test('a target below its disk reserve gets the tombstones only; the data hints stay with the holder', async (t) => {
  const { a, b, replayer } = handoff(true)
  await a.coordinate('bkt', 'k1', {}, inline(Buffer.from('for b')), HINT_FOR_B)
  const dead = await a.coordinate('bkt', 'k2', { tombstone: true }, null, HINT_FOR_B)
  t.is(await replayer.round(NOW), 1)
  t.deepEqual(b.versions('bkt', 'k2'), [dead.version])
  t.deepEqual(b.versions('bkt', 'k1'), [])
  t.deepEqual(a.hintTotals(), { b: { versions: 1, bytes: 5 } })
})

test("hints for a node the ring marks removed go to every current primary (this node's own store included), then leave the hint space", async (t) => {
  const { stores, a, replayer } = removedTarget(new Set())
  const hinted = { kind: 'hint', target: 'gone' } as const
  const live = await a.coordinate('bkt', 'k1', {}, inline(Buffer.from('for gone')), hinted)
  const dead = await a.coordinate('bkt', 'k2', { tombstone: true }, null, hinted)
  t.is(await replayer.round(NOW), 2)
  t.deepEqual(a.hintTotals(), {})
  t.is(replayer.redirected, 2)
  for (const [id, store] of stores) {
    t.deepEqual(store.versions('bkt', 'k1'), [live.version], id)
    t.deepEqual(store.versions('bkt', 'k2'), [dead.version], id)
    const chunks: Buffer[] = []
    for await (const c of await store.openData('bkt', 'k1', versionId(live.version.dot))) chunks.push(Buffer.from(c as Uint8Array))
    t.is(Buffer.concat(chunks).toString(), 'for gone', id)
  }
})

test("a removed node's hint stays while a current primary cannot take it, and leaves once it has", async (t) => {
  const down = new Set(['d'])
  const { stores, a, replayer } = removedTarget(down)
  const live = await a.coordinate('bkt', 'k1', {}, inline(Buffer.from('for gone')), { kind: 'hint', target: 'gone' })
  t.is(await replayer.round(NOW), 0)
  t.deepEqual(a.hintTotals(), { gone: { versions: 1, bytes: 8 } })
  t.deepEqual(stores.get('c')?.versions('bkt', 'k1'), [live.version])
  t.deepEqual(stores.get('d')?.versions('bkt', 'k1'), [])
  down.clear()
  // Past the backoff of the failed round.
  t.is(await replayer.round(Date.now() + 10 * 60_000), 1)
  t.deepEqual(a.hintTotals(), {})
  t.deepEqual(stores.get('d')?.versions('bkt', 'k1'), [live.version])
})
