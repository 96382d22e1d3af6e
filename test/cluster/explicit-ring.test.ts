/**
 * The ring is explicit and durable (issue 30, item 1): a node down longer than T_cleanup (here 2 s)
 * keeps its ranges (writes for them go to stand-ins with hints, handed over when it returns),
 * every node and the proxy keep it in their views with how long it has been down, and each node
 * keeps the ring record in its data dir.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import { TestCluster } from '../../devtools/test-cluster.js'
import { createBucket, fetch, put } from '../helpers/http.js'
import { eventually, heldBy } from '../helpers/internal.js'

const T_CLEANUP_MS = 2000

let cluster: TestCluster
test.before(async () => {
  cluster = await TestCluster.start(4, { nodeArgs: ['--cleanup-after-ms', String(T_CLEANUP_MS)] })
})
test.after.always(async () => {
  await cluster?.teardown()
})

interface ClusterAnswer {
  nodes: { id: string; status: string; ring_state?: string; down_for_s?: number }[]
  ring: { version: number; nodes: number; ownership: Record<string, number>; entries: { id: string; state: string; version: number }[] }
}

test('each node keeps the ring record in its data dir: every member, each with its state and version', async (t) => {
  await eventually(
    async () => {
      const saved = JSON.parse(readFileSync(join(cluster.layout.dataDir, 'node-1', 'ring.json'), 'utf8')) as { ring: { id: string; state: string }[] }
      return saved.ring.filter((e) => e.state === 'member').length === 4
    },
    10_000,
    'node-1 saved a ring of 4 members',
  )
  const c = (await (await cluster.fetch('/cluster')).json()) as ClusterAnswer
  t.is(c.ring.nodes, 4)
  t.deepEqual(
    c.ring.entries.map((e) => [e.id, e.state]),
    ['node-1', 'node-2', 'node-3', 'node-4'].map((id) => [id, 'member']),
  )
})

test('a node down for longer than T_cleanup keeps its ranges: it stays in every view, writes for it are hinted, and it gets them back', async (t) => {
  await createBucket(cluster.url, 'kept')
  await cluster.stop('node-4', 'SIGKILL')
  await cluster.waitForStatus('node-4', 'down')
  await new Promise((r) => setTimeout(r, 2 * T_CLEANUP_MS + 500))
  for (const observer of ['node-1', 'node-2', 'node-3']) {
    const m = (await (await fetch(`${cluster.nodeUrl(observer)}/membership`)).json()) as { members: { id: string; status: string }[]; ring: { id: string; state: string }[] }
    t.is(m.members.find((x) => x.id === 'node-4')?.status, 'down', `${observer} still knows node-4, as down`)
    t.is(m.ring.find((x) => x.id === 'node-4')?.state, 'member', `${observer}'s ring keeps node-4`)
  }
  const c = (await (await cluster.fetch('/cluster')).json()) as ClusterAnswer
  const four = c.nodes.find((n) => n.id === 'node-4')
  t.like(four, { status: 'down', ring_state: 'member' })
  t.true((four?.down_for_s ?? 0) >= (2 * T_CLEANUP_MS) / 1000, `down for ${four?.down_for_s} s`)
  t.is(c.ring.nodes, 4)
  t.true((c.ring.ownership['node-4'] ?? 0) > 0.1)
  // Keys of node-4's ranges still name it as a primary: a stand-in takes each with a hint for it.
  const mine: string[] = []
  for (let i = 0; i < 40; i++) {
    const res = await put(cluster.url, 'kept', `k-${i}`, `v-${i}`)
    t.is(res.status, 201)
    const w = (await res.json()) as { pref_list: string[]; hinted: { node: string; for: string }[] }
    if (w.pref_list.includes('node-4')) {
      mine.push(`k-${i}`)
      t.true(
        w.hinted.some((h) => h.for === 'node-4'),
        `k-${i} hinted for node-4`,
      )
    }
  }
  t.true(mine.length >= 10, `${mine.length} of 40 keys are node-4's`)
  await cluster.restart('node-4')
  await eventually(
    async () => {
      for (const key of mine) if ((await heldBy(cluster, 'node-4', 'kept', key)).length === 0) return false
      return true
    },
    20_000,
    'node-4 holds its keys again',
  )
  t.pass()
})
