/**
 * Sloppy quorum and hinted handoff with real processes (hint delivery every second): a write with
 * a replica down lands on a stand-in with a hint; the stand-in hands it off once the replica is
 * back, with the proxy dead; a hint survives kill -9 of its holder; two nodes down still take
 * writes and everything converges; the hint storage limit makes a node refuse to stand in.
 */
import test from 'ava'
import { TestCluster } from '../../devtools/test-cluster.js'
import { createBucket, fetch, get, put } from '../helpers/http.js'
import { eventually, heldBy, internalClient, nodeRef } from '../helpers/internal.js'

interface WriteAnswer {
  node: string
  pref_list: string[]
  replicas_written: string[]
  hinted: { node: string; for: string }[]
}

const HANDOFF_EVERY_SECOND = ['--handoff-schedule', '* * * * * *']
// Answers name every replica written (the stand-in included) even on a loaded machine.
const WAIT_FOR_ALL = ['--post-quorum-ms', '1000']

async function writeOk(base: string, bucket: string, key: string, body: string): Promise<WriteAnswer> {
  const res = await put(base, bucket, key, body)
  if (res.status !== 201) throw new Error(`PUT ${key}: ${res.status} ${await res.text()}`)
  return (await res.json()) as WriteAnswer
}

async function pendingFor(cluster: TestCluster, target: string): Promise<number> {
  const client = internalClient(cluster)
  const ids = cluster.layout.nodePorts.map((_, i) => `node-${i + 1}`).filter((id) => id !== target)
  const all = await Promise.allSettled(ids.map((id) => client.health(nodeRef(cluster, id))))
  return all.reduce((sum, h) => sum + (h.status === 'fulfilled' ? (h.value.hints[target]?.versions ?? 0) : 0), 0)
}

test.serial('a replica down: the stand-in takes a hint and hands it off with the proxy dead', async (t) => {
  const cluster = await TestCluster.start(4, { nodeArgs: HANDOFF_EVERY_SECOND, proxyArgs: WAIT_FOR_ALL })
  try {
    await createBucket(cluster.url, 'hand-1')
    const probe = await writeOk(cluster.url, 'hand-1', 'probe', 'x')
    const down = probe.pref_list[1] as string
    await cluster.stop(down, 'SIGKILL')
    await cluster.waitForStatus(down, 'down')
    const w = await writeOk(cluster.url, 'hand-1', 'probe', 'written while down')
    t.is(w.hinted.length, 1)
    const hint = w.hinted[0] as { node: string; for: string }
    t.is(hint.for, down)
    t.false(w.pref_list.includes(hint.node))
    const c = (await (await fetch(`${cluster.url}/cluster`)).json()) as { pending_hints: Record<string, { versions: number }> }
    t.true((c.pending_hints[down]?.versions ?? 0) >= 1)

    await cluster.stop('proxy', 'SIGKILL')
    await cluster.restart(down)
    await eventually(async () => (await heldBy(cluster, down, 'hand-1', 'probe')).some((v) => !v.tombstone && v.size === 'written while down'.length), 15_000, 'hint delivered')
    await eventually(async () => (await pendingFor(cluster, down)) === 0, 5000, 'hint dropped after delivery')

    // The returned replica alone serves the write: the other primaries stopped, R=1.
    await cluster.restart('proxy')
    for (const other of w.pref_list.filter((id) => id !== down)) await cluster.stop(other, 'SIGKILL')
    const res = await get(cluster.url, 'hand-1', 'probe', '?r=1')
    t.is(res.status, 200)
    t.is(await res.text(), 'written while down')
  } finally {
    await cluster.teardown()
  }
})

test.serial('the hint holder is killed -9 before delivery: after its restart the hint is still delivered', async (t) => {
  const cluster = await TestCluster.start(4, { nodeArgs: HANDOFF_EVERY_SECOND, proxyArgs: WAIT_FOR_ALL })
  try {
    await createBucket(cluster.url, 'hand-2')
    await cluster.stop('node-2', 'SIGKILL')
    await cluster.waitForStatus('node-2', 'down')
    const hinted: { key: string; holder: string }[] = []
    for (let i = 0; i < 30; i++) {
      const w = await writeOk(cluster.url, 'hand-2', `k-${i}`, `v-${i}`)
      for (const h of w.hinted) hinted.push({ key: `k-${i}`, holder: h.node })
    }
    t.true(hinted.length > 0)
    const holders = [...new Set(hinted.map((h) => h.holder))]
    for (const h of holders) await cluster.stop(h, 'SIGKILL')
    await cluster.restart('node-2')
    for (const { key } of hinted) t.is((await heldBy(cluster, 'node-2', 'hand-2', key)).length, 0)
    for (const h of holders) await cluster.restart(h)
    await eventually(
      async () => (await Promise.all(hinted.map(({ key }) => heldBy(cluster, 'node-2', 'hand-2', key)))).every((v) => v.length === 1),
      20_000,
      'hints delivered after the holder restarted',
    )
  } finally {
    await cluster.teardown()
  }
})

test.serial('two of four nodes down: every write succeeds, and all replicas converge after both return; 1,000 hints delivered', async (t) => {
  const cluster = await TestCluster.start(4, { nodeArgs: HANDOFF_EVERY_SECOND, proxyArgs: WAIT_FOR_ALL })
  try {
    await createBucket(cluster.url, 'hand-3')
    await cluster.stop('node-3', 'SIGKILL')
    await cluster.stop('node-4', 'SIGKILL')
    await cluster.waitForStatus('node-3', 'down')
    await cluster.waitForStatus('node-4', 'down')
    const written: { key: string; prefs: string[] }[] = []
    for (let i = 0; i < 40; i++) {
      const w = await writeOk(cluster.url, 'hand-3', `k-${i}`, `v-${i}`)
      written.push({ key: `k-${i}`, prefs: w.pref_list })
    }
    await cluster.restart('node-3')
    await cluster.restart('node-4')
    await eventually(
      async () => {
        for (const { key, prefs } of written) for (const id of prefs) if ((await heldBy(cluster, id, 'hand-3', key)).length !== 1) return false
        return true
      },
      20_000,
      'every primary holds every key',
    )
    t.pass()

    // The figure: time from a replica's return to delivery of 1,000 hinted objects.
    await cluster.stop('node-1', 'SIGKILL')
    await cluster.waitForStatus('node-1', 'down')
    let hints = 0
    for (let i = 0; hints < 1000 && i < 3000; i++) hints += (await writeOk(cluster.url, 'hand-3', `bulk-${i}`, `b-${i}`)).hinted.length
    t.true(hints >= 1000)
    const back = Date.now()
    await cluster.restart('node-1')
    await eventually(async () => (await pendingFor(cluster, 'node-1')) === 0, 60_000, 'all hints for node-1 delivered')
    t.log(`${hints} hinted objects delivered ${Date.now() - back} ms after node-1 was restarted (handoff every 1 s)`)
  } finally {
    await cluster.teardown()
  }
})

test.serial('at the hint storage limit a node refuses to stand in; writes still reach W with the live primaries', async (t) => {
  const cluster = await TestCluster.start(4, { nodeArgs: [...HANDOFF_EVERY_SECOND, '--max-hint-bytes', '20000'], proxyArgs: WAIT_FOR_ALL })
  try {
    await createBucket(cluster.url, 'hand-4')
    await cluster.stop('node-4', 'SIGKILL')
    await cluster.waitForStatus('node-4', 'down')
    let hinted = 0
    let unhinted = 0
    for (let i = 0; i < 40; i++) {
      const w = await writeOk(cluster.url, 'hand-4', `k-${i}`, 'x'.repeat(4096))
      if (!w.pref_list.includes('node-4')) continue
      if (w.hinted.length > 0) hinted++
      else {
        unhinted++
        t.is(w.replicas_written.length, 2)
      }
    }
    t.true(hinted > 0 && hinted <= 3 * 4, `hinted ${hinted}`)
    t.true(unhinted > 0, 'writes past the limit are answered without a stand-in')
    const client = internalClient(cluster)
    for (const id of ['node-1', 'node-2', 'node-3']) t.true(((await client.health(nodeRef(cluster, id))).hints['node-4']?.bytes ?? 0) <= 20_000)
  } finally {
    await cluster.teardown()
  }
})
