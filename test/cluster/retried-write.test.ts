/**
 * A write retried on another coordinator after a timeout: the slow coordinator still holds the
 * original request (in its socket) when it resumes, but the request carries the time after which it
 * must not be stored, so no second version of the write appears, and nothing comes back later as a
 * stale sibling of the writes that follow.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { runningPid } from '../../cluster-ctl/launcher.js'
import { TestCluster } from '../../devtools/test-cluster.js'
import { createBucket, get, put } from '../helpers/http.js'
import { decodeContext } from '../../shared/vclock/context-token.js'
import { contextOf, covers, versionId } from '../../shared/vclock/versions.js'
import { eventually, heldBy, internalClient, nodeRef } from '../helpers/internal.js'

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
  t.true(
    (await heldBy(cluster, written.node, 'retry', 'k')).some((v) => v.node === written.node && v.retried === true),
    "the retry's version is marked retried (a later overwrite retires its request)",
  )
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

test('the first attempt of a retried write, stored by a coordinator nobody heard from, is superseded once the retry is read and overwritten (handed back by anti-entropy, it is not a sibling)', async (t) => {
  const cluster = await TestCluster.start(4, { nodeArgs: ['--anti-entropy-interval-ms', '300', '--anti-entropy-segments', '256'] })
  t.teardown(() => cluster.teardown())
  await createBucket(cluster.url, 'twins')
  const nodes = internalClient(cluster)
  // The first attempt must stay on its coordinator until the retry has been read and overwritten:
  // that node is stopped right after it stores it. Should anti-entropy copy it out in that moment
  // (the scenario would then be an ordinary overwrite of both twins), try again on another key.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const key = `k${attempt}`
    const written = (await (await put(cluster.url, 'twins', key, 'v1')).json()) as { pref_list: string[] }
    const [a, b, c] = written.pref_list as [string, string, string]
    await eventually(async () => (await Promise.all([a, b, c].map((n) => heldBy(cluster, n, 'twins', key)))).every((h) => h.length === 1), 5000, 'v1 on every primary')
    const read1 = contextOf(await heldBy(cluster, b, 'twins', key))
    const request = { context: read1, tombstone: false, contentType: 'text/plain', writeId: `req-twin-000${attempt}` }
    // Request W on a: stored there, then a is cut off (stopped) before anyone hears of it.
    const first = await nodes.coordinate(nodeRef(cluster, a), 'twins', key, request, { buffer: Buffer.from('v2') })
    t.true(first.stored)
    const pid = runningPid(cluster.layout, a) as number
    process.kill(pid, 'SIGSTOP')
    let over: Awaited<ReturnType<typeof nodes.coordinate>>
    try {
      const escaped = (await Promise.all([b, c].map((n) => heldBy(cluster, n, 'twins', key)))).some((h) => h.some((v) => versionId(v.dot) === versionId(first.version.dot)))
      if (escaped) {
        t.log(`attempt ${attempt}: anti-entropy copied the first attempt out before ${a} stopped; again`)
        continue
      }
      // The proxy's retry of W on b (marked retried), replicated to c; the client reads b and
      // overwrites it. Straight to the internal API, so the proxy's timing plays no part.
      const retry = await nodes.coordinate(nodeRef(cluster, b), 'twins', key, { ...request, retried: true }, { buffer: Buffer.from('v2') })
      await nodes.replicate(nodeRef(cluster, c), 'twins', key, retry.version, { buffer: Buffer.from('v2') })
      const read2 = contextOf(await heldBy(cluster, b, 'twins', key))
      t.false(covers(read2, first.version.dot), 'the overwrite never saw the first attempt')
      over = await nodes.coordinate(
        nodeRef(cluster, b),
        'twins',
        key,
        { context: read2, tombstone: false, contentType: 'text/plain', writeId: `req-over-000${attempt}` },
        { buffer: Buffer.from('v3') },
      )
      t.deepEqual(over.version.retired, [request.writeId])
      await nodes.replicate(nodeRef(cluster, c), 'twins', key, over.version, { buffer: Buffer.from('v3') })
    } finally {
      process.kill(pid, 'SIGCONT')
    }
    // a is back with its copy: anti-entropy exchanges the key among a, b and c, and every primary
    // ends with the overwrite alone.
    const want = JSON.stringify([versionId(over.version.dot)])
    await eventually(
      async () => (await Promise.all([a, b, c].map((n) => heldBy(cluster, n, 'twins', key)))).every((h) => JSON.stringify(h.map((v) => versionId(v.dot))) === want),
      15_000,
      'every primary holds the overwrite alone',
    )
    const read = await get(cluster.url, 'twins', key, '?r=3')
    t.is(read.status, 200)
    t.is(read.headers.get('x-siblings'), '1')
    t.is(await read.text(), 'v3')
    return
  }
  t.fail('anti-entropy copied the first attempt out before its node stopped, three times')
})

test("a read's X-Context token carries the retried requests its versions retire, and the proxy hands them to the coordinator of the next write", async (t) => {
  const cluster = await TestCluster.start(4)
  t.teardown(() => cluster.teardown())
  await createBucket(cluster.url, 'token')
  const written = (await (await put(cluster.url, 'token', 'k', 'v1')).json()) as { pref_list: string[] }
  const nodes = internalClient(cluster)
  const [a, b, c] = written.pref_list as [string, string, string]
  await eventually(async () => (await heldBy(cluster, c, 'token', 'k')).length === 1, 5000, 'v1 on every primary')
  const retry = await nodes.coordinate(
    nodeRef(cluster, a),
    'token',
    'k',
    { context: contextOf(await heldBy(cluster, a, 'token', 'k')), tombstone: false, contentType: 'text/plain', writeId: 'req-tokn-0001', retried: true },
    { buffer: Buffer.from('v2') },
  )
  for (const n of [b, c]) await nodes.replicate(nodeRef(cluster, n), 'token', 'k', retry.version, { buffer: Buffer.from('v2') })
  const read = await get(cluster.url, 'token', 'k')
  t.is(await read.text(), 'v2')
  const token = read.headers.get('x-context') as string
  const secret = readFileSync(join(cluster.layout.runDir, 'cluster.secret'), 'utf8').trim()
  t.deepEqual(decodeContext(token, secret).retired, ['req-tokn-0001'])
  // Written to another key, whose coordinator holds nothing of that request: the ids can only come
  // from the token, through the proxy.
  const other = await put(cluster.url, 'token', 'other', 'v3', { 'x-context': token })
  t.is(other.status, 201)
  const node = ((await other.json()) as { node: string }).node
  const held = await heldBy(cluster, node, 'token', 'other')
  t.deepEqual(
    held.map((v) => v.retired),
    [['req-tokn-0001']],
  )
})
