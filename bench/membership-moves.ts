/**
 * `make bench-membership`: what a membership change moves and how long it takes (issue 30's
 * figures), on a 4-node loopback cluster (test timings: T_gossip 200 ms) with the default transfer
 * bound (--transfer-max-bytes-per-s 64 MiB). Writes `--keys` 4 KiB objects (16,667 by default: about
 * 12,500 copies per node on 4 nodes, 10,000 on 5 at N=3), then
 *  1. a 5th node joins: time until it is a member (its holders sent it its ranges) and until every
 *     transfer is idle and every key is on exactly N nodes again; keys and bytes sent, against the
 *     ideal (a fifth of the copies);
 *  2. one of the first four is decommissioned: the keys it held (its pass's total) and the time until
 *     its transfer says done (drain of 2 T_fail + 5 s included, as an operator waits for it).
 * Every key is read back at the end. One run; the figures go to docs/benchmarks.md by hand.
 *
 *   node --import=tsx bench/membership-moves.ts [--keys 16667] [--concurrency 32]
 */
import { parseArgs } from 'node:util'
import { TestCluster } from '../devtools/test-cluster.js'
import type { NodeListAnswer } from '../shared/wire/node-admin.js'

const N = 3
const { values } = parseArgs({ options: { keys: { type: 'string', default: '16667' }, concurrency: { type: 'string', default: '32' } } })
const KEYS = Number(values.keys)
const CONCURRENCY = Number(values.concurrency)
const BODY = Buffer.alloc(4096, 'm')
const BUCKET = 'moves'

async function nodes(cluster: TestCluster): Promise<NodeListAnswer['nodes']> {
  const res = await cluster.fetch('/admin/nodes')
  if (res.status !== 200) throw new Error(`GET /admin/nodes: ${res.status}`)
  return ((await res.json()) as NodeListAnswer).nodes
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now()
  while (!(await check().catch(() => false))) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
  return Date.now() - started
}

async function forEachKey(work: (key: string) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < KEYS) await work(`k-${next++}`)
    }),
  )
}

/** Versions and bytes sent so far by every node, and keys sent per receiver (their transfers' counters). */
function sent(list: NodeListAnswer['nodes']): { versions: number; bytes: number; to: Record<string, number> } {
  const out = { versions: 0, bytes: 0, to: {} as Record<string, number> }
  for (const n of list) {
    if (!n.transfer) continue
    out.versions += n.transfer.versions_sent
    out.bytes += n.transfer.bytes_sent
    for (const [to, k] of Object.entries(n.transfer.to)) out.to[to] = (out.to[to] ?? 0) + k
  }
  return out
}

const cluster = await TestCluster.start(4)
try {
  const created = await cluster.fetch(`/buckets/${BUCKET}`, { method: 'POST' })
  if (created.status !== 201) throw new Error(`create bucket: ${created.status}`)
  const writeStarted = Date.now()
  await forEachKey(async (key) => {
    const res = await cluster.fetch(`/buckets/${BUCKET}/files/${key}`, { method: 'PUT', body: BODY })
    await res.arrayBuffer()
    if (res.status !== 201) throw new Error(`PUT ${key}: ${res.status}`)
  })
  console.log(`wrote ${KEYS} keys of 4 KiB in ${((Date.now() - writeStarted) / 1000).toFixed(1)} s`)

  // 1. Join.
  const joinStarted = Date.now()
  const joined = await cluster.addNode({ waitJoined: false })
  let sawJoining = false
  const toMember = await until(`${joined} a member`, 600_000, async () => {
    const me = (await nodes(cluster)).find((n) => n.id === joined)
    if (me?.ring_state === 'joining') sawJoining = true
    return me?.ring_state === 'member'
  })
  const toIdle = await until('every transfer idle', 600_000, async () => (await nodes(cluster)).every((n) => n.transfer?.phase !== 'moving'))
  const afterJoin = sent(await nodes(cluster))
  // The counters start over at a change of owners: what they say now is what the join sent.
  const keysMoved = afterJoin.to[joined] ?? 0
  const bytesMoved = afterJoin.bytes
  const ideal = (KEYS * N) / 5
  console.log(
    `join: ${joined} ${sawJoining ? 'was seen joining, ' : ''}member after ${(toMember / 1000).toFixed(1)} s, every transfer idle after ${((Date.now() - joinStarted) / 1000).toFixed(1)} s (${(toIdle / 1000).toFixed(1)} s after the switch)`,
  )
  console.log(
    `join: ${keysMoved} keys sent to ${joined} (${((keysMoved / (KEYS * N)) * 100).toFixed(1)} % of ${KEYS * N} copies; ideal 1/5 = ${ideal.toFixed(0)}), ${(bytesMoved / 1048576).toFixed(1)} MiB sent in all`,
  )

  // 2. Decommission node-2.
  const leaving = 'node-2'
  const decStarted = Date.now()
  const res = await cluster.fetch(`/admin/nodes/${leaving}/decommission`, { method: 'POST' })
  if (res.status !== 200) throw new Error(`decommission: ${res.status} ${await res.text()}`)
  let held = 0
  let removedAt = 0
  await until(`${leaving} done`, 900_000, async () => {
    const me = (await nodes(cluster)).find((n) => n.id === leaving)
    if (me?.transfer?.kind === 'decommission') held = Math.max(held, me.transfer.keys_total)
    if (me?.ring_state === 'removed' && removedAt === 0) removedAt = Date.now()
    return me?.transfer?.phase === 'done'
  })
  console.log(
    `decommission: ${leaving} held ${held} keys; every key with its next owners (removed from the ring) after ${((removedAt - decStarted) / 1000).toFixed(1)} s, done (drain included) after ${((Date.now() - decStarted) / 1000).toFixed(1)} s`,
  )

  // Nothing lost.
  let missing = 0
  await forEachKey(async (key) => {
    const r = await cluster.fetch(`/buckets/${BUCKET}/files/${key}`)
    const body = Buffer.from(await r.arrayBuffer())
    if (r.status !== 200 || !body.equals(BODY)) missing++
  })
  console.log(`read back: ${KEYS - missing} of ${KEYS} keys`)
  if (missing > 0) process.exitCode = 1
} finally {
  await cluster.teardown()
}
