/** WriteCoordinator against stub replicas: nodes out of disk space (507), replicas failing mid-upload, the MD5 taken as the body passes. */
import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import test from 'ava'
import { WriteCoordinator } from '../../../proxy/coordinator/write-coordinator.js'
import type { MembershipView } from '../../../proxy/membership/membership-view.js'
import { InsufficientStorageError, InvalidRequestError } from '../../../shared/errors.js'
import { type NodeClient, type NodeRef, RemoteError, type WriteBody } from '../../../shared/http/node-client.js'
import { createLogger } from '../../../shared/log.js'
import type { CoordinateRequest, Version, WriteAnswer } from '../../../shared/wire/internal-api.js'

const full = (node: string) => new RemoteError(node, 507, 'InsufficientStorage', 'this node is out of space for new data')

/** Nodes n1..n4 in preference order (N=3: n4 is the fallback); `refuse` says how a node answers a write, if it does not take it. */
function harness(opts: { refuse?: (node: string, op: 'stage' | 'coordinate' | 'replicate') => Error | undefined; knownFull?: string[] }) {
  const prefs: NodeRef[] = ['n1', 'n2', 'n3', 'n4'].map((id) => ({ id, address: `${id}:1` }))
  const failed: string[] = []
  const markedFull: string[] = []
  const written: { node: string; op: string; hintFor?: string | undefined }[] = []
  const stagedSizes: (number | undefined)[] = []
  const answer = (node: NodeRef, version: Version): WriteAnswer => ({ node: node.id, version, stored: true, clock: { [version.dot.actor]: version.dot.counter } })
  const nodes = {
    stage: async (node: NodeRef, uploadId: string, body: Readable, _o: unknown, declared?: number) => {
      stagedSizes.push(declared)
      let size = 0
      for await (const c of body) {
        size += (c as Buffer).length
        const err = size > 100_000 ? opts.refuse?.(node.id, 'stage') : undefined
        if (err) throw err
      }
      return { uploadId, size, etag: 'e' }
    },
    coordinate: async (node: NodeRef, _b: string, _k: string, req: CoordinateRequest, _body: WriteBody, o?: { hintFor?: string }) => {
      const err = opts.refuse?.(node.id, 'coordinate')
      if (err) throw err
      written.push({ node: node.id, op: 'coordinate', hintFor: o?.hintFor })
      const version: Version = {
        dot: { actor: `${node.id}.a`, counter: 1 },
        context: { vv: {}, dots: [] },
        tombstone: req.tombstone ?? false,
        size: 0,
        etag: 'e',
        contentType: 'x',
        lastModified: 1,
        node: node.id,
        ...(req.md5 ? { md5: req.md5 } : {}),
      }
      return answer(node, version)
    },
    replicate: async (node: NodeRef, _b: string, _k: string, version: Version, _body: WriteBody, o?: { hintFor?: string }) => {
      const err = opts.refuse?.(node.id, 'replicate')
      if (err) throw err
      written.push({ node: node.id, op: 'replicate', hintFor: o?.hintFor })
      return answer(node, version)
    },
    openData: async () => Readable.from([Buffer.alloc(10)]),
  } as unknown as NodeClient
  const view = {
    preferenceList: () => prefs,
    isUsable: () => true,
    takesData: (id: string) => !(opts.knownFull ?? []).includes(id),
    markFailed: (id: string) => failed.push(id),
    markFull: (id: string) => markedFull.push(id),
  } as unknown as MembershipView
  const writer = new WriteCoordinator({ view, nodes, log: createLogger('test', 'silent') }, { n: 3, maxObjectBytes: 1 << 30, postQuorumMs: 50, replicaTimeoutMs: 1000 })
  return { writer, failed, markedFull, written, stagedSizes }
}

const small = { bucket: 'b', key: 'k', body: Buffer.from('hello'), w: 2 }

test('a replica out of space (507) is "not this replica": a stand-in takes it with a hint, and no node is marked failed', async (t) => {
  const { writer, failed, markedFull } = harness({ refuse: (node) => (node === 'n1' ? full(node) : undefined) })
  const out = await writer.write(small)
  t.false(out.replicas_written.includes('n1'))
  t.deepEqual(out.hinted, [{ node: 'n4', for: 'n1' }])
  t.deepEqual(failed, [])
  t.deepEqual(markedFull, ['n1'], 'the full node gets no new data for a moment')
})

test('when every node is out of space the client gets 507 InsufficientStorage, not 503', async (t) => {
  const { writer, failed } = harness({ refuse: (node) => full(node) })
  const err = await t.throwsAsync(writer.write(small), { instanceOf: InsufficientStorageError })
  t.is(err?.status, 507)
  t.deepEqual(failed, [])
})

test('nodes known to be full get no data; with fewer than W left the answer is 507 at once; a tombstone still goes to them', async (t) => {
  const h = harness({ knownFull: ['n1', 'n2', 'n3'] })
  await t.throwsAsync(h.writer.write(small), { instanceOf: InsufficientStorageError })
  t.deepEqual(h.written, [], 'no node was sent the body')
  const del = await h.writer.write({ ...small, body: null })
  t.deepEqual(del.replicas_written.sort(), ['n1', 'n2', 'n3'])
  t.deepEqual(del.hinted, [])
})

test('a large upload survives one replica failing mid-body, whatever it answers, while W others take it', async (t) => {
  for (const refusal of [full('n1'), new InvalidRequestError('upload aborted')]) {
    const { writer, failed } = harness({ refuse: (node, op) => (node === 'n1' && op === 'stage' ? refusal : undefined) })
    const body = Readable.from(Array.from({ length: 8 }, () => Buffer.alloc(64 * 1024, 1)))
    const out = await writer.write({ bucket: 'b', key: 'big', body, w: 2 })
    t.deepEqual(out.replicas_written.sort(), ['n2', 'n3'], refusal.message)
    t.deepEqual(failed, [], 'the healthy replicas are not marked failed')
  }
})

test('a large upload of declared size tells the replicas its size, so one without room refuses it before it streams', async (t) => {
  const { writer, stagedSizes } = harness({})
  const body = Readable.from(Array.from({ length: 8 }, () => Buffer.alloc(64 * 1024, 1)))
  await writer.write({ bucket: 'b', key: 'big', body, size: 8 * 64 * 1024, w: 2 })
  t.deepEqual(stagedSizes, [8 * 64 * 1024, 8 * 64 * 1024, 8 * 64 * 1024])
})

test("a large upload every replica refuses as bad input is the client's error", async (t) => {
  const { writer } = harness({ refuse: (_node, op) => (op === 'stage' ? new InvalidRequestError('bad body') : undefined) })
  const body = Readable.from(Array.from({ length: 8 }, () => Buffer.alloc(64 * 1024, 1)))
  await t.throwsAsync(writer.write({ bucket: 'b', key: 'big', body, w: 2 }), { instanceOf: InvalidRequestError })
})

test('the coordinator is handed the MD5 of the bytes, small or streamed, unless the caller names the ETag; a delete has none', async (t) => {
  const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex')
  const { writer } = harness({})
  t.is((await writer.write(small)).etag, md5(small.body))
  const big = randomBytes(300_000)
  const pieces = [big.subarray(0, 1000), big.subarray(1000, 150_000), big.subarray(150_000)]
  t.is((await writer.write({ ...small, body: Readable.from(pieces) })).etag, md5(big))
  t.is((await writer.write({ ...small, body: big })).etag, md5(big))
  t.is((await writer.write({ ...small, md5: `${'a'.repeat(32)}-3` })).etag, `${'a'.repeat(32)}-3`)
  let asked = 0
  const streamed = Readable.from(pieces)
  const out = await writer.write({
    ...small,
    body: streamed,
    md5: () => {
      asked++
      t.true(streamed.readableEnded, 'asked once the body has ended')
      return 'b'.repeat(32)
    },
  })
  t.is(out.etag, 'b'.repeat(32))
  t.is(asked, 1)
  t.is((await writer.write({ ...small, body: null })).etag, undefined)
})
