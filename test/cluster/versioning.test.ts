/**
 * Versioning end to end: siblings through different coordinators, a delete missed by a stopped
 * replica (read repair spreads the tombstone), tombstone reaping leaving no garbage, and a wiped
 * node acting under a new clock identity (no riak kv679 lost update).
 */
import { readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { TestCluster } from '../../devtools/test-cluster.js'
import { createBucket, fetch, get, json, put } from '../helpers/http.js'
import { eventually, heldBy } from '../helpers/internal.js'

interface WriteAnswer {
  node: string
  pref_list: string[]
  replicas_written: string[]
  vector_clock: Record<string, number>
}

let cluster: TestCluster
test.before(async () => {
  // Handoff is left to a yearly schedule here, so that only read repair can bring the late replica up to date.
  cluster = await TestCluster.start(4, { nodeArgs: ['--tombstone-grace-ms', '300', '--reap-interval-ms', '300', '--handoff-schedule', '0 0 0 1 1 *'] })
  await createBucket(cluster.url, 'ver')
})
test.after.always(async () => {
  await cluster?.teardown()
})

async function write(key: string, body: string | Uint8Array, headers: Record<string, string> = {}, query = ''): Promise<WriteAnswer> {
  const res = await put(cluster.url, 'ver', key, body, headers, query)
  if (res.status !== 201) throw new Error(`PUT ${key}: ${res.status} ${await res.text()}`)
  return (await res.json()) as WriteAnswer
}

function blobFiles(): number {
  let n = 0
  for (let i = 1; i <= cluster.layout.nodePorts.length; i++) {
    const dir = join(cluster.layout.dataDir, `node-${i}`, 'blobs')
    for (const d of readdirSync(dir)) n += readdirSync(join(dir, d)).length
  }
  return n
}

test('writes over one context through two different coordinators become siblings', async (t) => {
  const first = await write('doc', 'v1', {}, '?w=3')
  const a = first.node
  const ctx = (await get(cluster.url, 'ver', 'doc')).headers.get('x-context') ?? ''
  await cluster.stop(a, 'SIGKILL')
  const x = await write('doc', 'from-b', { 'x-context': ctx })
  t.not(x.node, a)
  await cluster.restart(a)
  await cluster.waitForStatus(a, 'up')
  await new Promise((r) => setTimeout(r, 2200)) // the proxy's own failure mark on `a` expires
  const y = await write('doc', 'from-a', { 'x-context': ctx })
  t.is(y.node, a)
  const res = await get(cluster.url, 'ver', 'doc', '?r=3')
  t.is(res.status, 300)
  const body = (await res.json()) as { siblings: { version: string; node: string }[]; context: string }
  t.deepEqual(body.siblings.map((s) => s.node).sort(), [a, x.node].sort())
  const bytes = await Promise.all(body.siblings.map(async (s) => (await get(cluster.url, 'ver', 'doc', `?version=${encodeURIComponent(s.version)}`)).text()))
  t.deepEqual(bytes.sort(), ['from-a', 'from-b'])
  await write('doc', 'resolved', { 'x-context': body.context })
  t.is(await (await get(cluster.url, 'ver', 'doc', '?r=3')).text(), 'resolved')
})

test('a delete missed by a stopped replica stays deleted; read repair hands it the tombstone', async (t) => {
  const w = await write('gone', 'soon deleted', {}, '?w=3')
  const late = w.pref_list[2] as string
  await cluster.stop(late, 'SIGKILL')
  const del = await fetch(`${cluster.url}/buckets/ver/files/gone`, { method: 'DELETE' })
  t.is(del.status, 200)
  await cluster.restart(late)
  await cluster.waitForStatus(late, 'up')
  t.true(
    (await heldBy(cluster, late, 'ver', 'gone')).some((v) => !v.tombstone),
    'the late replica still holds the old version',
  )
  let started = performance.now()
  t.is((await get(cluster.url, 'ver', 'gone', '?r=3')).status, 404)
  const repairingMs = performance.now() - started
  for (let i = 0; i < 9; i++) t.is((await get(cluster.url, 'ver', 'gone', '?r=3')).status, 404)
  // The figure: a read that triggers repair against reads that do not (repair runs after the answer).
  await eventually(async () => (await heldBy(cluster, late, 'ver', 'gone')).every((v) => v.tombstone), 10_000, 'repaired')
  started = performance.now()
  for (let i = 0; i < 20; i++) await get(cluster.url, 'ver', 'gone', '?r=3')
  t.log(`read that triggered repair: ${repairingMs.toFixed(1)} ms; reads after repair: ${((performance.now() - started) / 20).toFixed(1)} ms each`)
  await eventually(async () => (await heldBy(cluster, late, 'ver', 'gone')).every((v) => v.tombstone), 10_000, 'tombstone repaired onto the late replica')
  const c = (await (await fetch(`${cluster.url}/cluster`)).json()) as { read_repairs: { repaired: number } }
  t.true(c.read_repairs.repaired >= 1)
  t.is((await get(cluster.url, 'ver', 'gone')).status, 404)
})

test('reaping: once every replica holds the tombstone it is forgotten, leaving no file or record', async (t) => {
  // Its own quiet cluster (handoff on): reaping waits while any hint is pending anywhere, and the
  // shared cluster of this file keeps undelivered hints on purpose.
  const main = cluster
  cluster = await TestCluster.start(4, { nodeArgs: ['--tombstone-grace-ms', '300', '--reap-interval-ms', '300'] })
  try {
    await createBucket(cluster.url, 'ver')
    await reapingScenario(t)
  } finally {
    await cluster.teardown()
    cluster = main
  }
})

async function reapingScenario(t: ExecutionContext): Promise<void> {
  const before = blobFiles()
  const big = Buffer.alloc(200 * 1024, 7)
  const w = await write('reap-me', big, {}, '?w=3')
  await eventually(async () => blobFiles() === before + 3, 5000, 'three replicas stored the file')
  const del = await fetch(`${cluster.url}/buckets/ver/files/reap-me?w=3`, { method: 'DELETE' })
  t.is(del.status, 200)
  t.is(blobFiles(), before, 'the tombstone dropped the bytes on every replica')
  await eventually(async () => (await Promise.all(w.pref_list.map((id) => heldBy(cluster, id, 'ver', 'reap-me')))).every((v) => v.length === 0), 15_000, 'tombstone reaped on every primary')
  t.is(blobFiles(), before)
  t.is((await get(cluster.url, 'ver', 'reap-me')).status, 404)
  // A write after the delete creates the file again.
  await write('reap-me', 'reborn')
  t.is(await (await get(cluster.url, 'ver', 'reap-me')).text(), 'reborn')
}

test('a node with a wiped disk writes under a new clock identity: its new writes are never lost', async (t) => {
  // A key coordinated by node-4, replicated everywhere.
  let key = ''
  let old: WriteAnswer | undefined
  for (let i = 0; i < 200 && !old; i++) {
    const a = await write(`wipe-${i}`, 'old value', {}, '?w=3')
    if (a.node === 'node-4') {
      key = `wipe-${i}`
      old = a
    }
  }
  if (!old) return t.fail('no key coordinated by node-4')
  for (let i = 0; i < 3; i++) old = await write(key, `old value ${i}`, {}, '?w=3')
  const oldActor = Object.keys(old.vector_clock).find((a) => a.startsWith('node-4.'))
  await cluster.stop('node-4', 'SIGKILL')
  rmSync(join(cluster.layout.dataDir, 'node-4'), { recursive: true, force: true })
  await cluster.restart('node-4')
  await cluster.waitForStatus('node-4', 'up')
  await new Promise((r) => setTimeout(r, 2200))
  const fresh = await write(key, 'new value')
  t.is(fresh.node, 'node-4')
  const newActor = Object.keys(fresh.vector_clock).find((a) => a.startsWith('node-4.'))
  t.truthy(oldActor)
  t.not(newActor, oldActor)
  const res = await get(cluster.url, 'ver', key, '?r=3')
  const values =
    res.status === 200
      ? [await res.text()]
      : await Promise.all(((await json(res)).siblings as { version: string }[]).map(async (s) => (await get(cluster.url, 'ver', key, `?version=${encodeURIComponent(s.version)}`)).text()))
  t.true(values.includes('new value'), `the new write survives: ${values.join(', ')}`)
})
