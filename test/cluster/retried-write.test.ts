/**
 * A write retried on another coordinator after a timeout: the slow coordinator still holds the
 * original request (in its socket) when it resumes, but the request carries the time after which it
 * must not be stored, so no second version of the write appears, and nothing comes back later as a
 * stale sibling of the writes that follow.
 */
import test, { type ExecutionContext } from 'ava'
import { runningPid } from '../../cluster-ctl/launcher.js'
import { TestCluster } from '../helpers/cluster.js'
import { createBucket, get, put } from '../helpers/http.js'
import { versionId } from '../../shared/vclock/versions.js'
import { eventually, heldBy } from '../helpers/internal.js'

for (const transport of ['rpc', 'http'] as const) {
  test(`a coordinator paused past the replica timeout does not store the write late: readers see one version (${transport})`, async (t) => {
    const off = transport === 'http' ? ['--internal-rpc', 'off'] : []
    const cluster = await TestCluster.start(4, { nodeArgs: off, proxyArgs: ['--replica-timeout-ms', '500', ...off] })
    t.teardown(() => cluster.teardown())
    await retriedWrite(t, cluster)
  })
}

async function retriedWrite(t: ExecutionContext, cluster: TestCluster): Promise<void> {
  await createBucket(cluster.url, 'retry')
  // Signed requests first, so the nodes have learned the proxy's clock before one of them is paused.
  for (let i = 0; i < 5; i++) await get(cluster.url, 'retry', `warm-${i}`)
  const first = (await (await put(cluster.url, 'retry', 'k', 'v1')).json()) as { pref_list: string[] }
  const slow = first.pref_list[0] as string
  const context = (await get(cluster.url, 'retry', 'k')).headers.get('x-context') as string
  const before = new Set((await heldBy(cluster, slow, 'retry', 'k')).map((v) => versionId(v.dot)))
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
  // The resumed node handles the request it had already received, past its expiry: refused, not stored.
  await new Promise((r) => setTimeout(r, 1000))
  const late = (await heldBy(cluster, slow, 'retry', 'k')).filter((v) => v.node === slow && !before.has(versionId(v.dot)))
  t.deepEqual(late, [], 'no late commit of the expired write on the paused node')

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
}
