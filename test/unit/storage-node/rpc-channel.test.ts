/**
 * The internal RPC channel end to end on real sockets: a node's RpcServer (on a plain HTTP server,
 * over a real LMDB store) and the NodeClient with an RpcClient, plus raw peers that misbehave.
 */
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { BadDigestError, InvalidBucketNameError } from '../../../shared/errors.js'
import { InternalTransport } from '../../../shared/http/internal-transport.js'
import { NodeClient, NodeUnreachableError } from '../../../shared/http/node-client.js'
import { MemberSigner } from '../../../shared/http/member-signer.js'
import { memberKeys } from '../../../shared/http/signing.js'
import { channelProof, channelSealers, type RecordSealer, SealedFrameReader } from '../../../shared/rpc/channel-auth.js'
import { createLogger } from '../../../shared/log.js'
import { encodeFrame, FrameKind } from '../../../shared/rpc/frames.js'
import { RpcClient } from '../../../shared/rpc/rpc-client.js'
import { contextOf, versionId } from '../../../shared/vclock/versions.js'
import { HEADER_CHANNEL_NONCE, HEADER_CHANNEL_PROOF } from '../../../shared/wire/headers.js'
import { RPC_PROTOCOL, RPC_UPGRADE_PATH } from '../../../shared/wire/rpc.js'
import { PROTOCOL_VERSION } from '../../../shared/wire/protocol.js'
import { RequestVerifier } from '../../../shared/http/request-verifier.js'
import { RpcServer } from '../../../storage-node/rpc/rpc-server.js'
import { ClockOffsets } from '../../../storage-node/service/clock-offsets.js'
import { ObjectService } from '../../../storage-node/service/object-service.js'
import { BlobFiles } from '../../../storage-node/store/blobs/blob-files.js'
import { LmdbObjectStore } from '../../../storage-node/store/lmdb-object-store.js'

const SECRET = 'rpc-channel-test-secret-0123456789'
const log = createLogger('rpc-test', 'silent')

function listen(server: net.Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as net.AddressInfo).port}`)))
}

/** A node: store + object service + RPC server on a real HTTP server; stopped after the test. `clockMs`: its clock, ahead of the test's by that much. */
async function startNode(t: ExecutionContext, opts: { id?: string; clockMs?: number } = {}): Promise<{ address: string; rpc: RpcServer }> {
  const id = opts.id ?? 'node-1'
  const dir = await mkdtemp(join(tmpdir(), 'rpc-channel-'))
  const blobs = new BlobFiles({ dataDir: dir, inlineMaxBytes: 64 * 1024, maxObjectBytes: 1 << 30 })
  await blobs.start()
  const store = new LmdbObjectStore({ nodeId: id, dataDir: dir, blobs })
  const service = new ObjectService({ nodeId: id, store, blobs })
  const offsets = new ClockOffsets()
  const server = http.createServer((_req, res) => res.writeHead(404).end())
  const address = await listen(server)
  const verifier = new RequestVerifier([memberKeys(SECRET)], id, address, () => Date.now() + (opts.clockMs ?? 0), offsets)
  const rpc = new RpcServer({ nodeId: id, service, blobs, verifier, offsets, log })
  rpc.attach(server)
  t.teardown(async () => {
    rpc.closeAll()
    await new Promise((r) => server.close(r))
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  return { address, rpc }
}

function client(t: ExecutionContext, secret = SECRET, connectTimeoutMs = 1000, rpc?: RpcClient): NodeClient {
  const signer = new MemberSigner({ secret, selfId: 'proxy-test' })
  const c = new NodeClient(new InternalTransport({ signer }), rpc ?? new RpcClient({ signer, connectTimeoutMs }))
  t.teardown(() => c.close())
  return c
}

/** The headers of a raw HTTP request, lower-cased. */
function headersOf(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\r\n').slice(1)) {
    const colon = line.indexOf(':')
    if (colon > 0) out[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
  }
  return out
}

/** A raw TCP peer that holds the secret, accepts the upgrade (with a valid proof) and then does what `after` says with the socket. */
async function rawPeer(t: ExecutionContext, after: (socket: net.Socket) => void): Promise<{ address: string; connections: () => number }> {
  let connections = 0
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    connections++
    sockets.add(socket)
    socket.once('data', (chunk: Buffer) => {
      const h = headersOf(chunk.toString('latin1'))
      const parties = { clientNonce: h['x-store-nonce'] ?? '', serverNonce: 'raw-peer-nonce', from: h['x-store-from'] ?? '', target: h['x-store-target'] ?? '' }
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${RPC_PROTOCOL}\r\nConnection: Upgrade\r\n` +
          `${HEADER_CHANNEL_NONCE}: ${parties.serverNonce}\r\n${HEADER_CHANNEL_PROOF}: ${channelProof(memberKeys(SECRET), parties)}\r\n\r\n`,
      )
      after(socket)
    })
    socket.on('error', () => undefined)
  })
  const address = await listen(server)
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  return { address, connections: () => connections }
}

const bytes = Buffer.from('hello, rpc')
const etag = createHash('sha256').update(bytes).digest('hex')

test('coordinate, replicate and versions (with the bytes) over one channel', async (t) => {
  const { address } = await startNode(t)
  const nodes = client(t)
  const node = { id: 'node-1', address }
  const written = await nodes.coordinate(node, 'bucket-a', 'k1', { contentType: 'text/plain', writeId: 'write-id-0001' }, { buffer: bytes })
  t.is(written.node, 'node-1')
  t.true(written.stored)
  t.is(written.version.etag, etag)
  // The same version replicated into the hint space for another node, then a tombstone over it.
  const hinted = await nodes.replicate(node, 'bucket-a', 'k1', written.version, { buffer: bytes }, { hintFor: 'node-9' })
  t.true(hinted.stored)
  const read = await nodes.versionsWithData(node, 'bucket-a', 'k1')
  t.is(read.versions.length, 1)
  t.true(read.data?.equals(bytes))
  const hints = await nodes.versions(node, 'bucket-a', 'k1', { hintFor: 'node-9' })
  t.deepEqual(
    hints.versions.map((v) => versionId(v.dot)),
    [versionId(written.version.dot)],
  )
  const deleted = await nodes.coordinate(node, 'bucket-a', 'k1', { tombstone: true, context: contextOf([written.version]) }, null)
  t.true(deleted.version.tombstone)
  const after = await nodes.versionsWithData(node, 'bucket-a', 'k1')
  t.is(after.data, undefined)
  t.true(after.versions.every((v) => v.tombstone))
  // Many calls in flight at once on the one channel, answered by id.
  const many = await Promise.all(Array.from({ length: 200 }, (_, i) => nodes.coordinate(node, 'bucket-a', `many-${i}`, {}, { buffer: Buffer.from(String(i)) })))
  t.deepEqual(
    many.map((m) => m.version.size),
    Array.from({ length: 200 }, (_, i) => String(i).length),
  )
})

test('error answers become the same errors as over HTTP, and nothing is stored', async (t) => {
  const { address } = await startNode(t)
  const nodes = client(t)
  const node = { id: 'node-1', address }
  await t.throwsAsync(nodes.coordinate(node, 'Bad_Bucket', 'k', {}, { buffer: bytes }), { instanceOf: InvalidBucketNameError })
  const v = (await nodes.coordinate(node, 'bucket-b', 'k', {}, { buffer: bytes })).version
  await t.throwsAsync(nodes.replicate(node, 'bucket-b', 'k2', v, { buffer: Buffer.from('other bytes') }), { instanceOf: BadDigestError })
  t.deepEqual((await nodes.versions(node, 'bucket-b', 'k2')).versions, [])
})

/** The headers of an upgrade signed by member 'proxy-test' for `target`, on a clock `skewMs` behind the node's. */
function upgradeHeaders(address: string, opts: { target?: string; skewMs?: number; secret?: string } = {}): { headers: Record<string, string>; nonce: string } {
  const signer = new MemberSigner({ secret: opts.secret ?? SECRET, selfId: 'proxy-test' })
  const now = Date.now()
  if (opts.skewMs) signer.clocks.sample(address, now - opts.skewMs, now, now, true)
  const signed = signer.sign('GET', RPC_UPGRADE_PATH, address, opts.target ?? 'node-1', { connection: 'Upgrade', upgrade: RPC_PROTOCOL })
  return { headers: signed.headers, nonce: signed.nonce }
}

function upgradeStatus(address: string, headers: Record<string, string>): Promise<number> {
  const [host, port] = address.split(':') as [string, string]
  return new Promise<number>((resolve, reject) => {
    const req = http.request({ host, port: Number(port), path: RPC_UPGRADE_PATH, headers, agent: false })
    req.once('upgrade', (res, socket) => {
      socket.destroy()
      resolve(res.statusCode ?? 0)
    })
    req.once('response', (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.once('error', reject)
    req.end()
  })
}

test('a wrong secret or a replayed upgrade is refused (401) and no call runs', async (t) => {
  const { address } = await startNode(t)
  const err = await t.throwsAsync(client(t, 'another-secret-entirely-0000').coordinate({ id: 'node-1', address }, 'bucket-c', 'k', {}, { buffer: bytes }), {
    instanceOf: NodeUnreachableError,
  })
  t.regex(err?.message ?? '', /401/)
  // The same signed upgrade sent twice: the second is a replay.
  const { headers } = upgradeHeaders(address)
  t.is(await upgradeStatus(address, headers), 101)
  t.is(await upgradeStatus(address, headers), 401)
})

test('an upgrade signed for one node is refused by another (a captured upgrade cannot be replayed elsewhere)', async (t) => {
  const one = await startNode(t, { id: 'node-1' })
  const two = await startNode(t, { id: 'node-2' })
  const { headers } = upgradeHeaders(one.address, { target: 'node-1' })
  t.is(await upgradeStatus(two.address, headers), 401)
  t.is(await upgradeStatus(one.address, headers), 101, 'the same upgrade is good for the node it was signed for')
})

test("a member whose clock is 10 minutes off opens channels and writes: the refusal teaches it the node's clock", async (t) => {
  for (const clockMs of [600_000, -600_000]) {
    const { address } = await startNode(t, { clockMs })
    const nodes = client(t, SECRET, 10_000) // two upgrades (refused, then on the node's clock): 1 s was short on a loaded machine
    const node = { id: 'node-1', address }
    const w = await nodes.coordinate(node, 'bucket-s', 'k', {}, { buffer: bytes })
    t.is(w.node, 'node-1')
    t.true(w.stored)
    t.is((await nodes.versions(node, 'bucket-s', 'k')).versions.length, 1)
  }
})

test('a silent peer: the call fails at its timeout and the next call dials again', async (t) => {
  const peer = await rawPeer(t, () => undefined)
  const nodes = client(t)
  const node = { id: 'node-x', address: peer.address }
  const started = Date.now()
  await t.throwsAsync(nodes.coordinate(node, 'bucket-d', 'k', {}, { buffer: bytes }, { timeoutMs: 300 }), { instanceOf: NodeUnreachableError })
  t.true(Date.now() - started < 2000)
  await t.throwsAsync(nodes.coordinate(node, 'bucket-d', 'k', {}, { buffer: bytes }, { timeoutMs: 300 }), { instanceOf: NodeUnreachableError })
  t.is(peer.connections(), 2)
})

test('a peer closing the channel fails the calls on it at once', async (t) => {
  const peer = await rawPeer(t, (socket) => setTimeout(() => socket.destroy(), 50))
  const nodes = client(t)
  const started = Date.now()
  await t.throwsAsync(nodes.coordinate({ id: 'node-y', address: peer.address }, 'bucket-e', 'k', {}, { buffer: bytes }, { timeoutMs: 10_000 }), {
    instanceOf: NodeUnreachableError,
  })
  t.true(Date.now() - started < 5000)
})

/** A raw channel opened by hand: the upgrade (signed unless `signed` is false), then sealed frames both ways. */
function rawChannel(address: string, opts: { signed?: boolean; skewMs?: number } = {}) {
  const [host, port] = address.split(':') as [string, string]
  const socket = net.connect(Number(port), host)
  socket.on('error', () => undefined)
  const up = upgradeHeaders(address, { skewMs: opts.skewMs ?? 0 })
  const auth =
    opts.signed === false
      ? ''
      : Object.entries(up.headers)
          .filter(([k]) => k !== 'connection' && k !== 'upgrade')
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join('')
  socket.write(`GET ${RPC_UPGRADE_PATH} HTTP/1.1\r\nHost: ${address}\r\nConnection: Upgrade\r\nUpgrade: ${RPC_PROTOCOL}\r\n${auth}\r\n`)
  let sealers: { send: RecordSealer; receive: RecordSealer } | undefined
  let reader: SealedFrameReader | undefined
  let pending = Buffer.alloc(0)
  const waiting: ((head: Record<string, unknown>) => void)[] = []
  const opened = new Promise<string>((resolve) =>
    socket.on('data', (chunk: Buffer) => {
      if (!reader) {
        pending = Buffer.concat([pending, chunk])
        const end = pending.indexOf('\r\n\r\n')
        if (end < 0) return
        const head = pending.toString('latin1', 0, end)
        const h = headersOf(head)
        const parties = { clientNonce: up.nonce, serverNonce: h[HEADER_CHANNEL_NONCE] ?? '', from: 'proxy-test', target: 'node-1' }
        sealers = channelSealers(memberKeys(SECRET), parties, 'client')
        reader = new SealedFrameReader(sealers.receive, 1 << 20)
        chunk = pending.subarray(end + 4)
        resolve(head)
      }
      for (const f of reader.push(chunk)) {
        const parsed = JSON.parse(f.head) as Record<string, unknown>
        waiting.shift()?.(parsed)
      }
    }),
  )
  /** One frame as a record of its own: length, frame, tag. */
  const seal = (head: unknown, body?: Buffer, id = 1) => {
    const frame = encodeFrame(id, FrameKind.Request, typeof head === 'string' ? head : JSON.stringify(head), body)
    const { prefix, tag } = (sealers as { send: RecordSealer }).send.seal(frame)
    return Buffer.concat([prefix, ...frame, tag])
  }
  const next = () => new Promise<Record<string, unknown>>((resolve) => waiting.push(resolve))
  return {
    socket,
    opened,
    /** A request frame sealed as a record, not sent (it takes the next place in the channel). */
    seal,
    /** The next answer. */
    next,
    /** Send one sealed request frame and wait for its answer. */
    call(head: unknown, body?: Buffer, id = 1): Promise<Record<string, unknown>> {
      const answer = next()
      socket.write(seal(head, body, id))
      return answer
    },
  }
}

test('a request that is not JSON gets a 400 answer; a malformed frame closes the channel; the node serves others', async (t) => {
  const { address } = await startNode(t)
  const ch = rawChannel(address)
  t.regex(await ch.opened, /^HTTP\/1.1 101/)
  t.like(await ch.call('not json', undefined, 42), { ok: false, error: { status: 400, code: 'InvalidRequest' } })
  const huge = Buffer.alloc(8)
  huge.writeUInt32BE(0xffff_fff0, 0)
  ch.socket.write(huge)
  await new Promise((r) => ch.socket.once('close', r))
  t.true(ch.socket.destroyed)
  const nodes = client(t)
  t.is((await nodes.coordinate({ id: 'node-1', address }, 'bucket-f', 'k', {}, { buffer: bytes })).node, 'node-1')
})

test('a record that fails its check (a bare frame, altered, or replayed) closes the channel and runs nothing', async (t) => {
  const { address } = await startNode(t)
  const head = { op: 'coordinate', bucket: 'bucket-t', key: 'k', write: {} }
  // Unsealed: a frame sent bare, not in a record.
  let ch = rawChannel(address)
  await ch.opened
  const bare = Buffer.concat(encodeFrame(1, FrameKind.Request, JSON.stringify(head), bytes))
  ch.socket.write(Buffer.concat([bare, bare]))
  t.true(await closedWithin(ch.socket, 2000), 'unsealed')
  // Altered: one byte of the body flipped after sealing.
  ch = rawChannel(address)
  await ch.opened
  const altered = ch.seal(head, bytes)
  altered[altered.length - 20] = (altered[altered.length - 20] as number) ^ 1
  ch.socket.write(altered)
  t.true(await closedWithin(ch.socket, 2000), 'altered')
  // Replayed: a good frame, answered, then sent again.
  ch = rawChannel(address)
  await ch.opened
  const frame = ch.seal({ op: 'versions', bucket: 'bucket-t', key: 'k', inline: false })
  const answered = ch.next()
  ch.socket.write(frame)
  t.like(await answered, { ok: true })
  ch.socket.write(frame)
  t.true(await closedWithin(ch.socket, 2000), 'replayed')
  const nodes = client(t)
  t.deepEqual((await nodes.versions({ id: 'node-1', address }, 'bucket-t', 'k')).versions, [], 'no frame that failed its check was run')
})

/** Open a raw socket to `address` and send an upgrade request (signed unless `signed` is false). */
function rawUpgrade(address: string, signed = true): net.Socket {
  return rawChannel(address, { signed }).socket
}

function closedWithin(socket: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(true)
    const timer = setTimeout(() => resolve(false), ms)
    socket.once('close', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

test('a peer ending its side of a channel gets the channel closed (no half-open sockets left on the node)', async (t) => {
  const { address } = await startNode(t)
  const socket = rawUpgrade(address)
  await new Promise((r) => socket.once('data', r))
  socket.end()
  t.true(await closedWithin(socket, 2000))
})

test('a refused upgrade is closed by the node even when the peer keeps its side open', async (t) => {
  const { address } = await startNode(t)
  const socket = rawUpgrade(address, false)
  const answer = await new Promise<string>((r) => socket.once('data', (c: Buffer) => r(c.toString('latin1'))))
  t.regex(answer, /^HTTP\/1.1 401/)
  t.true(await closedWithin(socket, 3000))
})

test('at shutdown the node closes its channels and refuses new ones', async (t) => {
  const { address, rpc } = await startNode(t)
  const nodes = client(t)
  const node = { id: 'node-1', address }
  await nodes.coordinate(node, 'bucket-g', 'k', {}, { buffer: bytes })
  rpc.closeAll()
  const err = await t.throwsAsync(nodes.coordinate(node, 'bucket-g', 'k2', {}, { buffer: bytes }), { instanceOf: NodeUnreachableError })
  t.regex(err?.message ?? '', /closed|503/)
  const again = await t.throwsAsync(nodes.coordinate(node, 'bucket-g', 'k3', {}, { buffer: bytes }), { instanceOf: NodeUnreachableError })
  t.regex(again?.message ?? '', /503/)
})

/** A hand-made channel whose sender clock runs `skewMs` behind the node's: upgrade signed with that clock, then one call at a time. */
async function skewedChannel(t: ExecutionContext, address: string, skewMs: number): Promise<(head: unknown, body?: Buffer) => Promise<Record<string, unknown>>> {
  const ch = rawChannel(address, { skewMs })
  t.teardown(() => ch.socket.destroy())
  await ch.opened
  let id = 0
  return (head, body) => ch.call(head, body, ++id)
}

test('write expiry is read on the sender clock learned from its upgrade and calls: a skewed proxy is not refused, a late write is', async (t) => {
  const { address } = await startNode(t)
  const skew = 10_000
  const call = await skewedChannel(t, address, skew)
  const senderNow = () => Date.now() - skew
  // 10 s behind: an expiry 1 s ahead on the sender's clock is 9 s in the past on the node's.
  const fresh = await call({ op: 'coordinate', bucket: 'bucket-h', key: 'k', sentAt: senderNow(), write: { expiresAt: senderNow() + 1000 } }, bytes)
  t.like(fresh, { ok: true })
  // A call stamped 5 s before it arrived (it waited somewhere): its own sample does not move the estimate.
  const delayed = await call({ op: 'coordinate', bucket: 'bucket-h', key: 'delayed', sentAt: senderNow() - 5000, write: { expiresAt: senderNow() - 4000 } }, bytes)
  t.like(delayed, { ok: false, error: { code: 'WriteExpired', status: 503 } })
  const late = await call({ op: 'coordinate', bucket: 'bucket-h', key: 'late', sentAt: senderNow(), write: { expiresAt: senderNow() - 50 } }, bytes)
  t.like(late, { ok: false, error: { code: 'WriteExpired', status: 503 } })
  const held = await call({ op: 'versions', bucket: 'bucket-h', key: 'late', inline: false })
  t.like(held, { ok: true, answer: { versions: [] } })
})

test('both ends announce their protocol version on the upgrade: a channel to a node of this build speaks it', async (t) => {
  const { address } = await startNode(t)
  const rpc = new RpcClient({ signer: new MemberSigner({ secret: SECRET, selfId: 'proxy-test' }), connectTimeoutMs: 1000 })
  const nodes = client(t, SECRET, 1000, rpc)
  t.is(rpc.protocolOf('node-1', address), undefined, 'no channel yet')
  await nodes.versions({ id: 'node-1', address }, 'bucket-a', 'k1')
  t.is(rpc.protocolOf('node-1', address), PROTOCOL_VERSION)
})
