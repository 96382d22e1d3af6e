/**
 * Bit rot: a stored object whose bytes no longer match their SHA-256 is detected on read and
 * never served; the read is answered from another replica, the bad copy is quarantined, and read
 * repair hands that replica a good copy again.
 */
import { createHash, randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import { RemoteError } from '../../shared/http/node-client.js'
import { TestCluster } from '../../devtools/test-cluster.js'
import { createBucket, get, put } from '../helpers/http.js'
import { eventually, heldBy, internalClient, nodeRef } from '../helpers/internal.js'

let cluster: TestCluster
test.before(async () => {
  cluster = await TestCluster.start(4)
  await createBucket(cluster.url, 'rot')
})
test.after.always(async () => {
  await cluster?.teardown()
})

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

/** Flip one byte of the blob file holding `etag` on node `id`. */
function corrupt(id: string, etag: string): void {
  const dir = join(cluster.layout.dataDir, id, 'blobs')
  for (const sub of readdirSync(dir)) {
    for (const f of readdirSync(join(dir, sub))) {
      const path = join(dir, sub, f)
      const bytes = readFileSync(path)
      if (sha(bytes) !== etag) continue
      bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0xff
      writeFileSync(path, bytes)
      return
    }
  }
  throw new Error(`no blob with ${etag} on ${id}`)
}

async function write(key: string, body: Buffer): Promise<string[]> {
  const res = await put(cluster.url, 'rot', key, body, {}, '?w=3')
  if (res.status !== 201) throw new Error(`PUT ${key}: ${res.status}`)
  return ((await res.json()) as { pref_list: string[] }).pref_list
}

async function fetchDirect(id: string, key: string): Promise<Buffer> {
  const [v] = (await heldBy(cluster, id, 'rot', key)).filter((x) => !x.tombstone)
  if (!v) throw new Error(`${id} holds no version of ${key}`)
  const stream = await internalClient(cluster).openData(nodeRef(cluster, id), 'rot', key, `${v.dot.actor}.${v.dot.counter}`)
  const chunks: Buffer[] = []
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c)
  return Buffer.concat(chunks)
}

test('reads never serve corrupt bytes: another replica answers', async (t) => {
  const body = randomBytes(300 * 1024)
  const prefs = await write('served', body)
  for (const id of prefs.slice(0, 2)) corrupt(id, sha(body))
  for (let i = 0; i < 5; i++) {
    const res = await get(cluster.url, 'rot', 'served', '?r=3')
    t.is(res.status, 200)
    t.is(sha(Buffer.from(await res.arrayBuffer())), sha(body))
  }
})

test('a corrupt copy is quarantined and repaired from a good replica', async (t) => {
  const body = randomBytes(200 * 1024)
  const prefs = await write('repaired', body)
  const [a, b] = prefs as [string, string]
  corrupt(a, sha(body))
  corrupt(b, sha(body))
  for (const id of [a, b]) {
    const err = await t.throwsAsync(() => fetchDirect(id, 'repaired'))
    t.true(err instanceof RemoteError && err.code === 'CorruptReplica', String(err))
    t.is((await heldBy(cluster, id, 'rot', 'repaired')).length, 0, `${id} quarantined its copy`)
    t.is(readdirSync(join(cluster.layout.dataDir, id, 'quarantine')).length >= 1, true)
  }
  const res = await get(cluster.url, 'rot', 'repaired', '?r=3')
  t.is(res.status, 200)
  t.is(sha(Buffer.from(await res.arrayBuffer())), sha(body))
  for (const id of [a, b]) {
    await eventually(async () => sha(await fetchDirect(id, 'repaired')) === sha(body), 10_000, `${id} repaired`)
  }
})
