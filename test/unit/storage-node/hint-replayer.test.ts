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
  const replayer = new HintReplayer({ store: a, membership, nodes, log }, { schedule: '* * * * * *', dropAfterMs: 60_000 })
  return { a, b, replayer }
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
