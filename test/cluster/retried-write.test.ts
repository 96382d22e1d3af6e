/**
 * A write retried on another coordinator after a timeout: the slow coordinator may still commit
 * the original request later, under its own dot. Both versions carry the request's write id, so
 * readers see one write, not two siblings, and the next write over the read's context replaces both.
 */
import test from 'ava'
import { runningPid } from '../../cluster-ctl/launcher.js'
import { TestCluster } from '../helpers/cluster.js'
import { createBucket, get, put } from '../helpers/http.js'
import { eventually, heldBy } from '../helpers/internal.js'

let cluster: TestCluster
test.before(async () => {
  cluster = await TestCluster.start(4, { proxyArgs: ['--replica-timeout-ms', '500'] })
})
test.after.always(async () => {
  await cluster?.teardown()
})

test('a coordinator paused past the replica timeout commits late: readers still see one version', async (t) => {
  await createBucket(cluster.url, 'retry')
  const first = (await (await put(cluster.url, 'retry', 'k', 'v1')).json()) as { pref_list: string[] }
  const slow = first.pref_list[0] as string
  const context = (await get(cluster.url, 'retry', 'k')).headers.get('x-context') as string
  const pid = runningPid(cluster.layout, slow) as number
  process.kill(pid, 'SIGSTOP')
  let answer: Response
  try {
    answer = await put(cluster.url, 'retry', 'k', 'v2', { 'x-context': context })
  } finally {
    process.kill(pid, 'SIGCONT')
  }
  t.is(answer.status, 201)
  const written = (await answer.json()) as { node: string }
  t.not(written.node, slow, 'coordinated elsewhere after the timeout')
  // The resumed node handles the request it had already received: a second version of the same write.
  await eventually(async () => (await heldBy(cluster, slow, 'retry', 'k')).some((v) => v.node === slow && v.size === 2), 10_000, 'late commit on the paused node')
  const versions = await heldBy(cluster, slow, 'retry', 'k')
  t.true(versions.some((v) => v.writeId !== undefined))

  // The proxy skips the node it saw fail for --local-down-ms (2 s): read once it asks it again.
  await new Promise((r) => setTimeout(r, 2500))
  const read = await get(cluster.url, 'retry', 'k', '?r=3')
  t.is(read.status, 200, 'one write, not two siblings')
  t.is(read.headers.get('x-siblings'), '1')
  t.is(await read.text(), 'v2')
  // The read's context covers both versions: the next write leaves exactly one.
  const next = await put(cluster.url, 'retry', 'k', 'v3', { 'x-context': read.headers.get('x-context') as string })
  t.is(next.status, 201)
  await eventually(async () => {
    const r = await get(cluster.url, 'retry', 'k', '?r=3')
    return r.status === 200 && (await r.text()) === 'v3'
  }, 5000)
  t.is((await heldBy(cluster, written.node, 'retry', 'k')).filter((v) => !v.tombstone).length, 1)
})
