/**
 * kill -9 of a storage node: writes still reach W=2 and reads R=2; a node restarted after kill -9
 * holds every write it acknowledged (asked directly over the signed internal API).
 */
import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import { createSignedClient } from '../../shared/http/signed-client.js'
import { internalRoutes, VersionsAnswerSchema } from '../../shared/wire/internal-api.js'
import { TestCluster } from '../../devtools/test-cluster.js'
import { createBucket, get, json, put } from '../helpers/http.js'
import { clusterSecret, eventually, heldBy, testSigner } from '../helpers/internal.js'

let cluster: TestCluster
test.before(async () => {
  cluster = await TestCluster.start(4)
})
test.after.always(async () => {
  await cluster?.teardown()
})

test('writes and reads survive kill -9 of a node; the node keeps what it acknowledged', async (t) => {
  const u = cluster.url
  await createBucket(u, 'faults')
  // Writes acknowledged by node-2, then node-2 is killed right after the last acknowledgement.
  const acked: { key: string; body: string }[] = []
  for (let i = 0; acked.length < 40 && i < 400; i++) {
    const key = `k-${i}`
    const res = await put(u, 'faults', key, `value-${i}`)
    t.is(res.status, 201)
    const w = (await json(res)) as unknown as { replicas_written: string[] }
    if (w.replicas_written.includes('node-2')) acked.push({ key, body: `value-${i}` })
  }
  t.true(acked.length >= 20)
  await cluster.stop('node-2', 'SIGKILL')

  // Writes and reads with one node dead (the proxy finds out by failed requests or gossip).
  for (let i = 0; i < 30; i++) {
    const res = await put(u, 'faults', `during-${i}`, `d-${i}`)
    t.is(res.status, 201, await res.clone().text())
  }
  for (const { key, body } of acked.slice(0, 10)) t.is(await (await get(u, 'faults', key)).text(), body)
  for (let i = 0; i < 30; i++) t.is(await (await get(u, 'faults', `during-${i}`)).text(), `d-${i}`)

  await cluster.restart('node-2')
  const client = createSignedClient({ signer: testSigner(clusterSecret(cluster)) })
  const address = `127.0.0.1:${cluster.layout.nodePorts[1]}`
  for (const { key } of acked) {
    const res = await client.get(`http://${address}${internalRoutes.versions.path('faults', key)}`)
    t.is(res.statusCode, 200)
    const versions = VersionsAnswerSchema.parse(JSON.parse(res.body)).versions
    t.is(versions.filter((v) => !v.tombstone).length, 1, `node-2 lost ${key}`)
  }
  await cluster.waitForStatus('node-2', 'up')
})

test('after kill -9 and restart, a blob file no version refers to is swept in the background; referenced ones stay', async (t) => {
  const u = cluster.url
  await createBucket(u, 'orphans')
  const bodies = [0, 1, 2, 3, 4, 5].map((i) => Buffer.alloc(100 * 1024 + i, 0x41 + i))
  const onNode3: string[] = []
  for (const [i, b] of bodies.entries()) {
    const res = await put(u, 'orphans', `big-${i}`, b)
    t.is(res.status, 201)
    if (((await json(res)) as unknown as { pref_list: string[] }).pref_list.includes('node-3')) onNode3.push(`big-${i}`)
  }
  // The answer comes after W=2: node-3 may still be committing the third copy, and a kill then
  // would leave a blob no version refers to (rightly swept). Kill it only once it holds them all.
  await eventually(
    async () => {
      for (const key of onNode3) if ((await heldBy(cluster, 'node-3', 'orphans', key)).length === 0) return false
      return true
    },
    10_000,
    'node-3 committed its copies',
  )
  const blobDir = join(cluster.layout.dataDir, 'node-3', 'blobs')
  const files = () => readdirSync(blobDir).flatMap((d) => readdirSync(join(blobDir, d)))
  await cluster.stop('node-3', 'SIGKILL')
  const held = files()
  t.true(held.length >= 1, 'node-3 holds the large objects it is a replica of')
  // What a crash between a blob's rename and its commit leaves behind.
  const orphan = `ab${'0'.repeat(62)}`
  writeFileSync(join(blobDir, 'ab', orphan), 'bytes of a write that never committed')
  await cluster.restart('node-3')
  await eventually(async () => !files().includes(orphan), 10_000, 'the orphan swept')
  t.deepEqual(files().sort(), held.sort(), 'every referenced file is still there')
  for (const [i, b] of bodies.entries()) t.deepEqual(Buffer.from(await (await get(u, 'orphans', `big-${i}`)).arrayBuffer()), b)
})

test('internal API refuses unsigned and badly signed requests', async (t) => {
  const address = `127.0.0.1:${cluster.layout.nodePorts[0]}`
  const unsigned = await fetch(`http://${address}${internalRoutes.versions.path('faults', 'k-1')}`)
  t.is(unsigned.status, 401)
  const wrong = createSignedClient({ signer: testSigner('not-the-cluster-secret-at-all') })
  t.is((await wrong.get(`http://${address}${internalRoutes.versions.path('faults', 'k-1')}`)).statusCode, 401)
  const open = await fetch(`http://${address}/membership`)
  t.is(open.status, 200)
  const m = (await open.json()) as { node: string; members: { id: string; status: string }[] }
  t.is(m.node, 'node-1')
  t.is(m.members.length, 4)
})

test('two of four nodes down: writes still reach W=2 through stand-ins; three down: 503 QuorumNotReached', async (t) => {
  const u = cluster.url
  await cluster.stop('node-3', 'SIGKILL')
  await cluster.stop('node-4', 'SIGKILL')
  await cluster.waitForStatus('node-3', 'down')
  await cluster.waitForStatus('node-4', 'down')
  let hinted = 0
  for (let i = 0; i < 40; i++) {
    const res = await put(u, 'faults', `two-down-${i}`, 'x')
    t.is(res.status, 201)
    const w = (await json(res)) as unknown as { hinted: { node: string; for: string }[] }
    hinted += w.hinted.length
  }
  t.true(hinted > 0)
  await cluster.stop('node-2', 'SIGKILL')
  await cluster.waitForStatus('node-2', 'down')
  const res = await put(u, 'faults', 'three-down', 'x')
  t.is(res.status, 503)
  t.like(await json(res), { success: false, error: { code: 'QuorumNotReached', needed: 2 } })
  await cluster.restart('node-2')
  await cluster.restart('node-3')
  await cluster.restart('node-4')
})
