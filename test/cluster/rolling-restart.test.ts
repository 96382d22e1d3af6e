/**
 * A rolling restart under load with real processes and real SIGTERMs: every node in turn is stopped
 * gracefully (it announces its leave and keeps serving while the proxy routes around it, then
 * closes) and started again, while clients write new keys and read acknowledged ones through the
 * proxy. No request may fail, and every acknowledged write reads back afterwards.
 */
import test from 'ava'
import { TestCluster } from '../../devtools/test-cluster.js'

let cluster: TestCluster

test.before(async () => {
  cluster = await TestCluster.start(4)
})
test.after.always(async () => {
  await cluster?.teardown()
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('every node restarted with SIGTERM, one at a time, under writes and reads: no request fails, nothing acknowledged is lost', async (t) => {
  t.timeout(180_000)
  t.is((await cluster.fetch('/buckets/rolling', { method: 'POST' })).status, 201)
  const acked = new Map<string, string>()
  const failures: string[] = []
  let requests = 0
  let running = true
  const client = async (c: number) => {
    for (let i = 0; running; i++) {
      const key = `c${c}-${i}`
      const body = `value of ${key}`
      requests++
      try {
        const put = await cluster.fetch(`/buckets/rolling/files/${key}`, { method: 'PUT', body })
        await put.arrayBuffer()
        if (put.status === 201) acked.set(key, body)
        else failures.push(`PUT ${key}: ${put.status}`)
        const old = `c${c}-${Math.floor(i / 2)}`
        const want = acked.get(old)
        if (want === undefined) continue
        requests++
        const get = await cluster.fetch(`/buckets/rolling/files/${old}`)
        const text = await get.text()
        if (get.status !== 200 || text !== want) failures.push(`GET ${old}: ${get.status} ${text.slice(0, 80)}`)
      } catch (err) {
        failures.push(`${key}: ${String(err)}`)
      }
    }
  }
  const clients = [0, 1, 2, 3].map(client)
  try {
    await sleep(500)
    for (const node of ['node-1', 'node-2', 'node-3', 'node-4']) {
      await cluster.stop(node, 'SIGTERM')
      await cluster.restart(node)
      await cluster.waitForStatus(node, 'up')
      await sleep(500)
    }
  } finally {
    running = false
    await Promise.all(clients)
  }
  t.log(`${requests} requests, ${acked.size} writes acknowledged, ${failures.length} failed`)
  t.deepEqual(failures, [])
  t.true(acked.size > 20)
  for (const [key, body] of acked) t.is(await (await cluster.fetch(`/buckets/rolling/files/${key}`)).text(), body, key)
})
