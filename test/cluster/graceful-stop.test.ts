/**
 * A proxy's graceful stop with real processes and a real SIGTERM (proxy/lifecycle/graceful-stop.ts):
 * /health answers 503 at once while requests are still served, then no new connection is accepted,
 * an upload in flight still completes (its object reads back whole through another proxy), and the
 * process exits by itself.
 */
import { request } from 'node:http'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import test from 'ava'
import { isAlive, runningPid } from '../../cluster-ctl/launcher.js'
import { basicAuthHeaders } from '../../devtools/proxy-credentials.js'
import { TestCluster } from '../../devtools/test-cluster.js'

let cluster: TestCluster
const DRAIN_MS = 1500

test.before(async () => {
  cluster = await TestCluster.start(3, { proxyArgs: ['--drain-ms', String(DRAIN_MS), '--stop-timeout-ms', '20000'] })
})
test.after.always(async () => {
  await cluster?.teardown()
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A PUT whose body trickles in over about `ms`: still in flight when the proxy is told to stop. */
function slowPut(url: string, body: Buffer, ms: number, authorization: string): Promise<number> {
  const chunks = 20
  const size = Math.ceil(body.length / chunks)
  async function* trickle() {
    for (let i = 0; i < chunks; i++) {
      yield body.subarray(i * size, (i + 1) * size)
      await sleep(ms / chunks)
    }
  }
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers: { 'content-length': String(body.length), authorization } }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    Readable.from(trickle()).pipe(req)
  })
}

test('SIGTERM: /health 503 first while requests are served, then no new connections, the upload in flight completes, the proxy exits', async (t) => {
  const auth = basicAuthHeaders(cluster.url)
  if (!auth.authorization) throw new Error('no admin key')
  t.is((await cluster.fetch('/buckets/drain', { method: 'POST' })).status, 201)
  const other = await cluster.startProxy('proxy-2')
  const pid = runningPid(cluster.layout, 'proxy')
  if (pid === undefined) throw new Error('no proxy pid')

  const body = randomBytes(4 * 1024 * 1024)
  const upload = slowPut(`${cluster.url}/buckets/drain/files/in-flight`, body, DRAIN_MS + 1500, auth.authorization)
  await sleep(300)
  process.kill(pid, 'SIGTERM')
  await sleep(100)

  // Draining: the balancer's check fails, but a request that still arrives is answered.
  const health = await fetch(`${cluster.url}/health`)
  t.is(health.status, 503)
  t.deepEqual(await health.json(), { status: 'stopping' })
  t.is((await cluster.fetch('/buckets/drain/files/nothing-here')).status, 404)

  // After the drain: refused at connect.
  await sleep(DRAIN_MS + 300)
  const refused = await fetch(`${cluster.url}/health`).then(
    () => 'answered',
    (err: Error) => String((err.cause as { code?: string } | undefined)?.code ?? err),
  )
  t.is(refused, 'ECONNREFUSED')

  // The upload that was in flight all along completes, and is stored whole.
  t.is(await upload, 201)
  const back = await fetch(`${other}/buckets/drain/files/in-flight`, { headers: auth })
  t.is(back.status, 200)
  t.true(Buffer.from(await back.arrayBuffer()).equals(body))

  const deadline = Date.now() + 10_000
  while (isAlive(pid) && Date.now() < deadline) await sleep(50)
  t.false(isAlive(pid), 'the proxy exited by itself')
})
