/**
 * RPC channels during a rotation of the cluster secret: a node that accepts two secrets proves and
 * keys each channel with the secret its upgrade was signed with, so members on different but
 * accepted secrets open channels and call over them both ways; a secret the node does not hold is refused.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import type net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { InternalTransport } from '../../../shared/http/internal-transport.js'
import { MemberSigner } from '../../../shared/http/member-signer.js'
import { NodeClient, NodeUnreachableError } from '../../../shared/http/node-client.js'
import { RequestVerifier } from '../../../shared/http/request-verifier.js'
import { acceptedKeys } from '../../../shared/http/signing.js'
import { createLogger } from '../../../shared/log.js'
import { RpcClient } from '../../../shared/rpc/rpc-client.js'
import { RpcServer } from '../../../storage-node/rpc/rpc-server.js'
import { ClockOffsets } from '../../../storage-node/service/clock-offsets.js'
import { ObjectService } from '../../../storage-node/service/object-service.js'
import { BlobFiles } from '../../../storage-node/store/blobs/blob-files.js'
import { LmdbObjectStore } from '../../../storage-node/store/lmdb-object-store.js'

const OLD = 'rotation-secret-old-0123456789'
const NEW = 'rotation-secret-new-0123456789'
const THIRD = 'rotation-secret-other-01234567'
const log = createLogger('rpc-rotation-test', 'silent')

/** A node (store, object service, RPC server) that signs with `secret` and also accepts `previous`. Its plain HTTP routes all answer 404: a call that succeeds went over the channel. */
async function startNode(t: ExecutionContext, secret: string, previous?: string): Promise<{ id: string; address: string }> {
  const id = 'node-1'
  const dir = await mkdtemp(join(tmpdir(), 'rpc-rotation-'))
  const blobs = new BlobFiles({ dataDir: dir, inlineMaxBytes: 64 * 1024, maxObjectBytes: 1 << 30 })
  await blobs.start()
  const store = new LmdbObjectStore({ nodeId: id, dataDir: dir, blobs })
  const offsets = new ClockOffsets()
  const server = http.createServer((_req, res) => res.writeHead(404).end())
  const address = await new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as net.AddressInfo).port}`)))
  const verifier = new RequestVerifier(acceptedKeys(secret, previous), id, address, Date.now, offsets)
  const rpc = new RpcServer({ nodeId: id, service: new ObjectService({ nodeId: id, store, blobs }), blobs, verifier, offsets, log })
  rpc.attach(server)
  t.teardown(async () => {
    rpc.closeAll()
    await new Promise((r) => server.close(r))
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  return { id, address }
}

function client(t: ExecutionContext, secret: string, previousSecret?: string): NodeClient {
  const signer = new MemberSigner({ secret, previousSecret, selfId: 'proxy-test' })
  const c = new NodeClient(new InternalTransport({ signer }), new RpcClient({ signer, connectTimeoutMs: 1000 }))
  t.teardown(() => c.close())
  return c
}

/** A write and a read back over the channel, from a member signing with `secret` (accepting `previous`). */
async function roundTrip(t: ExecutionContext, node: { id: string; address: string }, key: string, secret: string, previous?: string): Promise<void> {
  const nodes = client(t, secret, previous)
  const body = Buffer.from(`written by a member signing with ${secret}`)
  const written = await nodes.coordinate(node, 'bucket-r', key, { contentType: 'text/plain' }, { buffer: body })
  t.true(written.stored, key)
  const read = await nodes.versionsWithData(node, 'bucket-r', key)
  t.true(read.data?.equals(body), key)
}

// Each step of docs/operations.md#rotating-the-cluster-secret: the node as restarted, the members not restarted yet (or already).
test('step 1: a node signing OLD and accepting NEW serves members on OLD, and members of step 2 (signing NEW)', async (t) => {
  const node = await startNode(t, OLD, NEW)
  await roundTrip(t, node, 'k-old', OLD)
  await roundTrip(t, node, 'k-step1', OLD, NEW)
  await roundTrip(t, node, 'k-step2', NEW, OLD)
})

test('step 2: a node signing NEW and accepting OLD serves members of step 1 (signing OLD) and those signing NEW only', async (t) => {
  const node = await startNode(t, NEW, OLD)
  // A member holding OLD alone can check only a proof made with OLD: the node keys its channel with the upgrade's secret.
  await roundTrip(t, node, 'k-old', OLD)
  await roundTrip(t, node, 'k-step1', OLD, NEW)
  await roundTrip(t, node, 'k-step2', NEW, OLD)
  await roundTrip(t, node, 'k-new', NEW)
})

test('a secret the node does not hold is refused (401), whatever else the member accepts', async (t) => {
  const rotating = await startNode(t, NEW, OLD)
  const err = await t.throwsAsync(client(t, THIRD, NEW).coordinate(rotating, 'bucket-r', 'k', {}, { buffer: Buffer.from('x') }), { instanceOf: NodeUnreachableError })
  t.regex(err?.message ?? '', /401/)
  // Why the rotation has three steps: a node on OLD alone refuses a member that already signs with NEW.
  const old = await startNode(t, OLD)
  const early = await t.throwsAsync(client(t, NEW, OLD).coordinate(old, 'bucket-r', 'k', {}, { buffer: Buffer.from('x') }), { instanceOf: NodeUnreachableError })
  t.regex(early?.message ?? '', /401/)
  // And at the end, a node on NEW alone refuses a member left on OLD.
  const done = await startNode(t, NEW)
  const late = await t.throwsAsync(client(t, OLD).coordinate(done, 'bucket-r', 'k', {}, { buffer: Buffer.from('x') }), { instanceOf: NodeUnreachableError })
  t.regex(late?.message ?? '', /401/)
})
