/**
 * Membership changes that move data (issue 30), on one cluster in order: the node admin routes'
 * refusals; a 5th node joins under a write load and a read load (it is `joining`, placing no keys,
 * until its holders have sent it its ranges; every acknowledged write readable after, no read of an
 * earlier key missed during the move, about a fifth of the copies move, and the copies on nodes no
 * longer primaries are dropped);
 * `./dynamoctl node decommission` of a live node under a write load (every acknowledged key keeps N
 * copies on the remaining owners, and the node's data dir can be deleted); `remove` of a SIGKILLed node (N copies restored by the others, and the hints held for it
 * handed to the keys' current primaries).
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import { TestCluster } from '../../devtools/test-cluster.js'
import type { NodeListAnswer } from '../../shared/wire/node-admin.js'
import { createBucket, get, put } from '../helpers/http.js'
import { eventually, heldBy, internalClient, nodeRef } from '../helpers/internal.js'
import { type Run, runDynamoctl } from '../helpers/run-dynamoctl.js'

const N = 3

let cluster: TestCluster
test.before(async () => {
  cluster = await TestCluster.start(4)
  await createBucket(cluster.url, 'moves')
})
test.after.always(async () => {
  await cluster?.teardown()
})

function dynamoctl(args: readonly string[]): Promise<Run> {
  return runDynamoctl(['--url', cluster.url, ...args], cluster.layout.runDir)
}

async function nodeStatus(): Promise<NodeListAnswer> {
  const run = await dynamoctl(['--json', 'node', 'status'])
  if (run.code !== 0) throw new Error(`node status: ${run.code} ${run.stderr}`)
  return JSON.parse(run.stdout) as NodeListAnswer
}

/** Writes keys one after another until stopped; the keys acknowledged (201), with their bodies. */
function writeLoad(prefix: string): { stop: () => Promise<Map<string, string>> } {
  const acked = new Map<string, string>()
  let running = true
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const key = `${prefix}-${i}`
      const res = await put(cluster.url, 'moves', key, `${prefix} body ${i}`).catch(() => undefined)
      if (res?.status === 201) acked.set(key, `${prefix} body ${i}`)
      await res?.arrayBuffer().catch(() => undefined)
      await new Promise((r) => setTimeout(r, 20))
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      return acked
    },
  }
}

/** Reads `keys` (bodies `before body I`) round and round until stopped: how many answered right, and which did not. */
function readLoad(keys: readonly string[]): { stop: () => Promise<{ ok: number; missed: string[] }> } {
  let running = true
  let ok = 0
  const missed: string[] = []
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const key = keys[i % keys.length] as string
      const res = await get(cluster.url, 'moves', key).catch(() => undefined)
      const body = await res?.text().catch(() => undefined)
      if (res?.status === 200 && body === key.replace('before-', 'before body ')) ok++
      else missed.push(`${key}: ${res?.status ?? 'no answer'}`)
      await new Promise((r) => setTimeout(r, 5))
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      return { ok, missed }
    },
  }
}

/** How many of `owners` hold each key: waits until every key is on N of them. */
async function waitForCopies(keys: readonly string[], owners: readonly string[], timeoutMs: number): Promise<void> {
  const want = Math.min(N, owners.length)
  await eventually(
    async () => {
      for (const key of keys) {
        let copies = 0
        for (const o of owners) if ((await heldBy(cluster, o, 'moves', key)).length > 0) copies++
        if (copies < want) return false
      }
      return true
    },
    timeoutMs,
    `every key on ${want} of ${owners.join(', ')}`,
  )
}

test.serial('the node routes need an admin key; a live node cannot be removed without --force, nor a dead one decommissioned', async (t) => {
  for (const [method, path] of [
    ['GET', '/admin/nodes'],
    ['POST', '/admin/nodes/node-2/remove'],
    ['POST', '/admin/nodes/node-2/decommission'],
  ] as const) {
    t.is((await cluster.fetch(path, { method, anonymous: true })).status, 401, `${method} ${path} without a key`)
  }
  const created = await cluster.fetch('/admin/keys', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'plain', createBuckets: true }) })
  const key = ((await created.json()) as { key: { id: string }; secret: string }) ?? {}
  const plain = { authorization: `Basic ${Buffer.from(`${key.key.id}:${key.secret}`).toString('base64')}` }
  for (const [method, path] of [
    ['GET', '/admin/nodes'],
    ['POST', '/admin/nodes/node-2/remove'],
    ['POST', '/admin/nodes/node-2/decommission'],
  ] as const) {
    const res = await cluster.fetch(path, { method, headers: plain })
    t.is(res.status, 403, `${method} ${path} with a key that is not an admin's`)
  }
  const alive = await dynamoctl(['node', 'remove', 'node-2'])
  t.is(alive.code, 1)
  t.regex(alive.stderr, /InvalidNodeState.*node-2 is alive/)
  t.is((await dynamoctl(['node', 'decommission', 'node-9'])).code, 1)
  const status = await nodeStatus()
  t.deepEqual(
    status.nodes.map((n) => [n.id, n.ring_state, n.status]),
    ['node-1', 'node-2', 'node-3', 'node-4'].map((id) => [id, 'member', 'up']),
  )
})

test.serial('a 5th node joins under writes and reads: no read misses during the move, every acknowledged write is readable after, about a fifth of the copies move to it', async (t) => {
  const before: string[] = []
  for (let i = 0; i < 300; i++) {
    const res = await put(cluster.url, 'moves', `before-${i}`, `before body ${i}`)
    t.is(res.status, 201)
    before.push(`before-${i}`)
  }
  const load = writeLoad('join')
  const reads = readLoad(before)
  const joinedAt = Date.now()
  t.is(await cluster.addNode({ waitJoined: false }), 'node-5')
  await cluster.waitForStatus('node-5', 'up')
  const owners = ['node-1', 'node-2', 'node-3', 'node-4', 'node-5']
  // node-5 joins: its holders stream its ranges to it while reads and writes still go to them; it
  // takes reads once every holder says it sent its share. What it held then is all it owns of the earlier keys.
  let sawJoining: NodeListAnswer['nodes'][number] | undefined
  await eventually(
    async () => {
      const node5 = (await nodeStatus()).nodes.find((n) => n.id === 'node-5')
      if (node5?.ring_state === 'joining') sawJoining ??= node5
      return node5?.ring_state === 'member'
    },
    30_000,
    'node-5 a member',
  )
  const heldAtJoin = new Set<string>()
  for (const key of before) if ((await heldBy(cluster, 'node-5', 'moves', key)).length > 0) heldAtJoin.add(key)
  t.log(`join: node-5 a member ${Date.now() - joinedAt} ms after it started, holding ${heldAtJoin.size} earlier keys`)
  t.truthy(sawJoining, 'node status showed node-5 joining')
  t.is(sawJoining?.ownership, 0, 'a joining node places no keys')
  await new Promise((r) => setTimeout(r, 1000))
  const acked = await load.stop()
  await waitForCopies(before, owners, 60_000)
  t.log(`join: every earlier key on N owners ${Date.now() - joinedAt} ms after node-5 started`)
  // The old owners' copies of the keys they lost are dropped once every primary holds them: N copies in all.
  await eventually(
    async () => {
      for (const key of before) {
        let copies = 0
        for (const o of owners) if ((await heldBy(cluster, o, 'moves', key)).length > 0) copies++
        if (copies !== N) return false
      }
      return true
    },
    30_000,
    'every earlier key on exactly N nodes (the copies on nodes no longer its primaries dropped)',
  )
  t.log(`join: every earlier key on exactly N nodes ${Date.now() - joinedAt} ms after node-5 started`)
  // Reads of earlier keys all through the move: node-5 answers for ranges it does not hold yet, and
  // an empty answer must not pass for "no such key" (the coordinator asks the others first).
  const read = await reads.stop()
  t.log(`join: ${read.ok} reads of earlier keys during the move, ${read.missed.length} missed`)
  t.true(read.ok > 0)
  t.deepEqual(read.missed, [])
  // The transfers' progress: pace and time left in node status, bytes sent in the senders' metrics.
  const status = await nodeStatus()
  const passes = status.nodes.flatMap((n) => (n.transfer && n.transfer.keys_total > 0 ? [n.transfer] : []))
  t.true(passes.length > 0, 'the old owners report their transfer passes')
  for (const p of passes) t.true(p.bytes_per_s !== undefined && p.eta_s !== undefined && (p.ranges ?? 0) > 0, JSON.stringify(p))
  let sentBytes = 0
  for (const id of ['node-1', 'node-2', 'node-3', 'node-4']) {
    const text = await (await fetch(`${cluster.nodeUrl(id)}/metrics`)).text()
    sentBytes += Number(/^dynamo_node_transfer_sent_bytes (\S+)$/m.exec(text)?.[1] ?? 0)
  }
  t.true(sentBytes > 0, 'dynamo_node_transfer_sent_bytes counts what the old owners sent node-5')
  const onNewKeys = new Set<string>()
  for (const key of before) if ((await heldBy(cluster, 'node-5', 'moves', key)).length > 0) onNewKeys.add(key)
  const onNew = onNewKeys.size
  t.log(`join: node-5 holds ${onNew} of ${before.length} earlier keys: ${((onNew / (N * before.length)) * 100).toFixed(1)} % of the copies moved (ideal 1/5 = 20 %)`)
  t.true(onNew / (N * before.length) > 0.1 && onNew / (N * before.length) < 0.3)
  const lateArrivals = before.filter((k) => !heldAtJoin.has(k)).filter((k) => onNewKeys.has(k))
  t.deepEqual(lateArrivals, [], 'every earlier key node-5 owns was on it when it began to take reads')
  for (const [key, body] of [...acked, ...before.map((k) => [k, k.replace('before-', 'before body ')] as const)]) {
    const res = await get(cluster.url, 'moves', key)
    t.is(res.status, 200, key)
    t.is(await res.text(), body)
  }
  t.log(`join: ${acked.size} writes acknowledged during the join, all readable`)
})

test.serial('decommission under a write load: the node hands every key over, leaves the ring, and its data dir can be deleted with nothing lost', async (t) => {
  const load = writeLoad('decom')
  await new Promise((r) => setTimeout(r, 500))
  const started = Date.now()
  const run = await dynamoctl(['node', 'decommission', 'node-2'])
  t.is(run.code, 0, run.stderr)
  t.regex(run.stdout, /node-2 is leaving/)
  let sawTransfer = false
  await eventually(
    async () => {
      const two = (await nodeStatus()).nodes.find((n) => n.id === 'node-2')
      if (two?.transfer && two.transfer.kind === 'decommission') sawTransfer = true
      return two?.transfer?.phase === 'done'
    },
    60_000,
    'node-2 done',
  )
  const tookMs = Date.now() - started
  const acked = await load.stop()
  t.true(sawTransfer)
  const status = await nodeStatus()
  const two = status.nodes.find((n) => n.id === 'node-2')
  t.is(two?.ring_state, 'removed')
  t.log(`decommission: node-2 done ${tookMs} ms after the command (drain included), sent ${two?.transfer?.versions_sent} versions; ${acked.size} writes acknowledged meanwhile`)
  await cluster.stop('node-2', 'SIGKILL')
  rmSync(join(cluster.layout.dataDir, 'node-2'), { recursive: true, force: true })
  const owners = ['node-1', 'node-3', 'node-4', 'node-5']
  const keys = [...acked.keys(), ...Array.from({ length: 300 }, (_, i) => `before-${i}`)]
  await waitForCopies(keys, owners, 30_000)
  for (const [key, body] of acked) {
    const res = await get(cluster.url, 'moves', key)
    t.is(res.status, 200, key)
    t.is(await res.text(), body)
  }
})

test.serial('remove of a SIGKILLed node: the others copy its keys to the next owners, so every key has N copies again', async (t) => {
  await cluster.stop('node-4', 'SIGKILL')
  await cluster.waitForStatus('node-4', 'down')
  // Writes while it is down: stand-ins hold hints for it, which it will never come back for.
  const whileDown = Array.from({ length: 60 }, (_, i) => `while-down-${i}`)
  for (const key of whileDown) t.is((await put(cluster.url, 'moves', key, `body of ${key}`)).status, 201)
  const hintsFor4 = async () => {
    let sum = 0
    for (const id of ['node-1', 'node-3', 'node-5']) sum += (await internalClient(cluster).health(nodeRef(cluster, id))).hints['node-4']?.versions ?? 0
    return sum
  }
  t.true((await hintsFor4()) > 0, 'the writes left hints for node-4')
  const dead = await dynamoctl(['node', 'decommission', 'node-4'])
  t.is(dead.code, 1)
  t.regex(dead.stderr, /node-4 is down/)
  const started = Date.now()
  const run = await dynamoctl(['node', 'remove', 'node-4'])
  t.is(run.code, 0, run.stderr)
  t.regex(run.stdout, /node-4 is removed/)
  const keys = Array.from({ length: 300 }, (_, i) => `before-${i}`)
  await waitForCopies(keys, ['node-1', 'node-3', 'node-5'], 60_000)
  t.log(`remove: every key on N=3 of the 3 owners left ${Date.now() - started} ms after the command`)
  // Its hints are handed to the keys' current primaries, not kept for it (nor dropped).
  await waitForCopies(whileDown, ['node-1', 'node-3', 'node-5'], 30_000)
  await eventually(async () => (await hintsFor4()) === 0, 30_000, 'no hints left for the removed node-4')
  for (const key of whileDown) t.is(await (await get(cluster.url, 'moves', key)).text(), `body of ${key}`)
  const table = await dynamoctl(['node', 'status'])
  t.regex(table.stdout, /node-4 +\S+ +removed/)
})
