/**
 * A rolling restart under load with real processes and real SIGTERMs: every node in turn is stopped
 * gracefully (it announces its leave and keeps serving while the proxy routes around it, then
 * closes) and started again, while clients write new keys and read acknowledged ones through the
 * proxy. No request may fail, and every acknowledged write reads back afterwards.
 */
import test from 'ava'
import { PhaseLoad } from '../../devtools/phase-load.js'
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
  const load = new PhaseLoad({ fetch: (path, init) => cluster.fetch(path, init) }, 4, 'rolling restart', 'rolling')
  try {
    await sleep(500)
    for (const node of ['node-1', 'node-2', 'node-3', 'node-4']) {
      await cluster.stop(node, 'SIGTERM')
      await cluster.restart(node)
      await cluster.waitForStatus(node, 'up')
      await sleep(500)
    }
  } finally {
    await load.stop()
  }
  const [phase] = load.phases
  t.log(`${phase?.requests} requests, ${load.acked.size} writes acknowledged, ${phase?.failed} failed`)
  t.is(phase?.failed, 0, phase?.failures.join('; '))
  t.true(load.acked.size > 20)
  for (const [key, body] of load.acked) t.is(await (await cluster.fetch(`/buckets/rolling/files/${key}`)).text(), body, key)
})
