/**
 * Gossip membership among real nodes (fast timings: T_gossip 200 ms, T_fail 1 s): a killed node is
 * marked down everywhere and comes back up; a leaving node is down at once; a new node joins and
 * takes writes for its ranges; a restarted proxy rebuilds its view from the nodes.
 */
import test from 'ava'
import { TestCluster } from '../../devtools/test-cluster.js'
import { createBucket, put } from '../helpers/http.js'
import { eventually, heldBy } from '../helpers/internal.js'

let cluster: TestCluster
test.before(async () => {
  cluster = await TestCluster.start(4)
})
test.after.always(async () => {
  await cluster?.teardown()
})

async function statusEverywhere(observers: string[], target: string): Promise<string[]> {
  return Promise.all(
    observers.map(async (o) => {
      const m = (await (await fetch(`${cluster.nodeUrl(o)}/membership`)).json()) as { members: { id: string; status: string }[] }
      return m.members.find((x) => x.id === target)?.status ?? 'unknown'
    }),
  )
}

test('kill -9: every other node marks the node down within T_fail + a few rounds, then up after restart', async (t) => {
  const detections: number[] = []
  for (const victim of ['node-3', 'node-1', 'node-4']) {
    const others = ['node-1', 'node-2', 'node-3', 'node-4'].filter((id) => id !== victim)
    await eventually(async () => (await statusEverywhere(others, victim)).every((s) => s === 'up'), 5000, 'all up')
    const killedAt = Date.now()
    await cluster.stop(victim, 'SIGKILL')
    await eventually(async () => (await statusEverywhere(others, victim)).every((s) => s === 'down'), 5000, `${victim} down everywhere`)
    const downAfter = Date.now() - killedAt
    detections.push(downAfter)
    t.true(downAfter < 1000 + 5 * 200 + 1000)
    await cluster.restart(victim)
    const restartedAt = Date.now()
    await eventually(async () => (await statusEverywhere(others, victim)).every((s) => s === 'up'), 5000, `${victim} up everywhere`)
    t.log(`${victim}: down everywhere ${downAfter} ms after kill -9, up everywhere ${Date.now() - restartedAt} ms after restart`)
  }
  const median = [...detections].sort((a, b) => a - b)[1]
  t.log(`median detection ${median} ms over ${detections.length} kills (T_fail 1000 ms, T_gossip 200 ms)`)
})

test('SIGTERM: a leaving node announces it and is down everywhere before T_fail', async (t) => {
  const others = ['node-1', 'node-3', 'node-4']
  await eventually(async () => (await statusEverywhere(others, 'node-2')).every((s) => s === 'up'), 5000, 'all up')
  const at = Date.now()
  await cluster.stop('node-2', 'SIGTERM')
  await eventually(async () => (await statusEverywhere(others, 'node-2')).every((s) => s === 'down'), 5000, 'node-2 down everywhere')
  t.log(`node-2 down everywhere ${Date.now() - at} ms after SIGTERM`)
  await cluster.restart('node-2')
  await eventually(async () => (await statusEverywhere(others, 'node-2')).every((s) => s === 'up'), 5000, 'node-2 up again')
  t.pass()
})

test('a 5th node joins through its seeds, appears everywhere and receives writes for its ranges', async (t) => {
  const joinedAt = Date.now()
  const id = await cluster.addNode()
  t.is(id, 'node-5')
  const all = ['node-1', 'node-2', 'node-3', 'node-4', 'node-5']
  await eventually(
    async () => (await Promise.all(all.map((o) => statusEverywhere([o], 'node-5')))).flat().every((s) => s === 'up'),
    5000,
    'node-5 known everywhere',
  )
  t.log(`node-5 up in every view ${Date.now() - joinedAt} ms after start`)
  await cluster.waitForStatus('node-5', 'up')
  await createBucket(cluster.url, 'joined')
  let onNew = 0
  for (let i = 0; i < 60; i++) {
    const res = await put(cluster.url, 'joined', `k-${i}`, 'x')
    t.is(res.status, 201)
    const w = (await res.json()) as { pref_list: string[]; replicas_written: string[] }
    if (w.pref_list.includes('node-5')) {
      await eventually(async () => (await heldBy(cluster, 'node-5', 'joined', `k-${i}`)).length === 1, 5000, `node-5 holds k-${i}`)
      onNew++
    }
  }
  t.true(onNew > 10, `node-5 is a replica of ${onNew} of 60 new keys`)
})

test('a proxy restarted mid-run rebuilds its view from the nodes within a second or two', async (t) => {
  await cluster.stop('proxy', 'SIGKILL')
  const at = Date.now()
  await cluster.restart('proxy')
  const c = (await (await fetch(`${cluster.url}/cluster`)).json()) as { nodes: { id: string; status: string }[] }
  t.log(`proxy serving ${Date.now() - at} ms after restart, knowing ${c.nodes.length} nodes`)
  t.true(c.nodes.length >= 4)
  t.true(c.nodes.filter((n) => n.status === 'up').length >= 4)
})
