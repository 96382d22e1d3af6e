/**
 * Bad input beyond the seed flow: bodies that lie about their size, oversized headers, corrupt
 * gossip, stale signatures. Each gets a clear 4xx and nothing already stored is harmed.
 */
import { request } from 'node:http'
import { connect } from 'node:net'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import { memberKeys, newNonce, signatureHeaders } from '../../shared/http/signing.js'
import { internalRoutes } from '../../shared/wire/internal-api.js'
import { TestCluster } from '../../devtools/test-cluster.js'
import { authHeaders, authLine, createBucket, get, put } from '../helpers/http.js'

let cluster: TestCluster
test.before(async () => {
  cluster = await TestCluster.start(4, {
    proxyArgs: ['--max-object-bytes', String(1024 * 1024), '--slow-body-window-ms', '1500', '--min-body-bytes-per-s', '200'],
    nodeArgs: ['--max-object-bytes', String(1024 * 1024)],
  })
  await createBucket(cluster.url, 'bad')
  await put(cluster.url, 'bad', 'keep', 'precious')
})
test.after.always(async () => {
  await cluster?.teardown()
})

/** Send raw bytes, read the status line of the answer. */
function raw(port: number, bytes: Buffer | string, endAfterWrite = true): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(bytes)
      if (endAfterWrite) s.end()
    })
    let text = ''
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1')
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text)
      if (m) {
        s.destroy()
        resolve(Number(m[1]))
      }
    })
    s.on('error', reject)
    s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)))
  })
}

test('a chunked body over the limit is refused mid-stream with 413 and stores nothing', async (t) => {
  const status = await new Promise<number>((resolve) => {
    const req = request(`${cluster.url}/buckets/bad/files/too-big`, { method: 'PUT', headers: { ...authHeaders(cluster.url), 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    // The proxy may answer 413 and close while we are still sending: the answer counts, a write error alone does not.
    req.on('error', () => setTimeout(() => resolve(-1), 2000))
    let sent = 0
    const pump = () => {
      while (sent < 3 * 1024 * 1024) {
        sent += 64 * 1024
        if (!req.write(Buffer.alloc(64 * 1024, 1))) return void req.once('drain', pump)
      }
      req.end()
    }
    pump()
  })
  t.is(status, 413)
  t.is((await get(cluster.url, 'bad', 'too-big')).status, 404)
})

test('a body shorter than its Content-Length never becomes a version', async (t) => {
  const port = cluster.layout.proxyPort
  const status = await raw(port, `PUT /buckets/bad/files/short HTTP/1.1\r\nHost: x\r\n${authLine(cluster.url)}Content-Length: 100000\r\n\r\n${'x'.repeat(70_000)}`)
  t.true(status === 0 || (status >= 400 && status < 500), `status ${status}`)
  t.is((await get(cluster.url, 'bad', 'short')).status, 404)
})

test('a client trickling its body is cut with 408 and does not hold the proxy; nothing is stored', async (t) => {
  const port = cluster.layout.proxyPort
  const started = Date.now()
  const answer = new Promise<{ status: number; ms: number }>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(`PUT /buckets/bad/files/trickle HTTP/1.1\r\nHost: x\r\n${authLine(cluster.url)}Content-Length: 100000\r\n\r\n`))
    // 10 bytes every 250 ms = 40 bytes/s, under the 200 bytes/s the proxy was started with.
    const drip = setInterval(() => s.writable && s.write('x'.repeat(10)), 250)
    let text = ''
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1')
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text)
      if (m) resolve({ status: Number(m[1]), ms: Date.now() - started })
    })
    s.on('close', () => {
      clearInterval(drip)
      resolve({ status: 0, ms: Date.now() - started })
    })
    s.on('error', reject)
    setTimeout(() => s.destroy(), 15_000).unref()
  })
  // While it trickles, the proxy serves others as usual.
  t.is((await get(cluster.url, 'bad', 'keep')).status, 200)
  const { status, ms } = await answer
  t.is(status, 408, `answered ${status} after ${ms} ms`)
  t.true(ms < 10_000, `cut after ${ms} ms`)
  t.is((await get(cluster.url, 'bad', 'trickle')).status, 404)
  t.is(await (await get(cluster.url, 'bad', 'keep')).text(), 'precious')
})

test('a slow but steady body above the minimum rate is not cut', async (t) => {
  const body = Buffer.alloc(3000, 0x79)
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: cluster.layout.proxyPort, method: 'PUT', path: '/buckets/bad/files/steady', headers: { ...authHeaders(cluster.url), 'content-length': body.length }, agent: false },
      (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      },
    )
    req.on('error', reject)
    // 300 bytes every 250 ms = 1,200 bytes/s for 2.5 s: slower than a window, faster than the minimum.
    let sent = 0
    const drip = setInterval(() => {
      req.write(body.subarray(sent, sent + 300))
      sent += 300
      if (sent >= body.length) {
        clearInterval(drip)
        req.end()
      }
    }, 250)
  })
  t.is(status, 201)
  t.is((await (await get(cluster.url, 'bad', 'steady')).arrayBuffer()).byteLength, 3000)
})

test('headers over 16 KB get 431', async (t) => {
  const status = await raw(cluster.layout.proxyPort, `GET /buckets/bad/files/keep HTTP/1.1\r\nHost: x\r\n${authLine(cluster.url)}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
  t.is(status, 431)
})

test('nodes refuse stale, foreign, missing and replayed signatures, and corrupt gossip', async (t) => {
  const keys = memberKeys(readFileSync(join(cluster.layout.runDir, 'cluster.secret'), 'utf8').trim())
  const port = cluster.layout.nodePorts[0] as number
  const path = internalRoutes.versions.path('bad', 'keep')
  const headers = (ts: number, p = path, method = 'GET', extra: Record<string, string> = {}, target = 'node-1') => ({
    ...extra,
    ...signatureHeaders(keys, { method, path: p, timestampMs: ts, nonce: newNonce(), from: 'test-client', target, headers: (h) => extra[h] }),
  })
  const call = (h: Record<string, string>, method = 'GET', p = path, body?: string) => fetch(`http://127.0.0.1:${port}${p}`, { method, headers: h, body })
  const stale = await call(headers(Date.now() - 120_000))
  t.is(stale.status, 401, 'stale (replayed later) signature')
  t.truthy(stale.headers.get('x-store-time-proof'), "a well-signed stale request learns the node's time")
  const now = Date.now()
  t.is((await call(headers(now, internalRoutes.versions.path('bad', 'other')))).status, 401, 'signature of another path')
  t.is((await call(headers(now, path, 'GET', {}, 'node-2'))).status, 401, 'signature for another node')
  t.is((await call({ 'x-store-timestamp': 'soon', 'x-store-nonce': newNonce(), 'x-store-signature': 'x', 'x-store-from': 'a', 'x-store-target': 'node-1' })).status, 401)
  const { 'x-store-nonce': _, ...noNonce } = headers(now)
  t.is((await call(noNonce)).status, 401, 'no nonce')
  const unsigned = await call({})
  t.is(unsigned.status, 401)
  t.is(unsigned.headers.get('x-store-time-proof'), null, 'an unsigned request learns nothing')
  const fresh = headers(now)
  t.is((await call(fresh)).status, 200, 'a fresh signature works')
  const replay = await call(fresh)
  t.is(replay.status, 401, 'the same signed request a second time (within the 30 s window) is refused')
  t.regex(await replay.text(), /replayed/)
  const gossip = internalRoutes.gossip.path()
  const body = JSON.stringify({ from: 'test-client', members: [{ id: 'node-9', address: 'nowhere', generation: -1, heartbeat: 'many' }] })
  const extra = { 'content-type': 'application/json', 'x-store-content-sha256': createHash('sha256').update(body).digest('hex') }
  const bad = await call(headers(Date.now(), gossip, 'POST', extra), 'POST', gossip, body)
  t.is(bad.status, 400)
  const m = (await (await fetch(`http://127.0.0.1:${port}/membership`)).json()) as { members: { id: string }[] }
  t.false(
    m.members.some((x) => x.id === 'node-9'),
    'a corrupt gossip message is not merged',
  )
  t.is(await (await get(cluster.url, 'bad', 'keep')).text(), 'precious')
})
