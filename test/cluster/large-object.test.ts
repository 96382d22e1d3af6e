/**
 * A file larger than 100 MB streams up and down byte-identical through the proxy; a replica killed
 * while a large body streams to it is replaced by a stand-in holding a hint, and gets its copy back.
 */
import { createHash } from 'node:crypto'
import { request } from 'node:http'
import { Readable } from 'node:stream'
import test from 'ava'
import { TestCluster } from '../../devtools/test-cluster.js'
import { authHeaders, createBucket, fetch, put } from '../helpers/http.js'
import { eventually, heldBy } from '../helpers/internal.js'

let cluster: TestCluster
test.before(async () => {
  cluster = await TestCluster.start(4)
})
test.after.always(async () => {
  await cluster?.teardown()
})

/** PUT a streamed body; resolves with the status and the answer's text. */
function upload(url: string, body: Readable, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers: { ...authHeaders(url), ...headers } }, (res) => {
      let text = ''
      res.on('data', (d: Buffer) => {
        text += d
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
    })
    req.on('error', reject)
    body.pipe(req)
  })
}

/** Deterministic pseudo-random bytes, generated chunk by chunk (never the whole object in memory). */
function* chunks(totalBytes: number): Generator<Buffer> {
  let seed = 42
  const chunk = 1024 * 1024
  for (let sent = 0; sent < totalBytes; sent += chunk) {
    const b = Buffer.allocUnsafe(Math.min(chunk, totalBytes - sent))
    for (let i = 0; i < b.length; i += 4) {
      seed = (seed * 1664525 + 1013904223) >>> 0
      b.writeUInt32LE(seed, i)
    }
    yield b
  }
}

test('150 MB upload and download are byte-identical', async (t) => {
  const size = 150 * 1024 * 1024
  await createBucket(cluster.url, 'large')
  const sent = createHash('sha256')
  const sentMd5 = createHash('md5')
  const body = Readable.from(chunks(size)).on('data', (c: Buffer) => {
    sent.update(c)
    sentMd5.update(c)
  })
  const up = await upload(`${cluster.url}/buckets/large/files/big.bin`, body, { 'transfer-encoding': 'chunked' })
  t.is(up.status, 201, up.text)
  const written = JSON.parse(up.text) as { replicas_written: string[] }
  t.true(written.replicas_written.length >= 2)

  const res = await fetch(`${cluster.url}/buckets/large/files/big.bin`)
  t.is(res.status, 200)
  t.is(res.headers.get('content-length'), String(size))
  const got = createHash('sha256')
  let received = 0
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
    got.update(c)
    received += c.length
  }
  t.is(received, size)
  const digest = got.digest('hex')
  t.is(digest, sent.digest('hex'))
  t.is(res.headers.get('x-content-sha256'), digest)
  t.is(res.headers.get('etag'), `"${sentMd5.digest('hex')}"`, 'the ETag is the MD5 of the bytes')
})

test('a replica killed -9 mid-upload: the write succeeds, a stand-in keeps a hint, the replica gets its copy after restart', async (t) => {
  await createBucket(cluster.url, 'midway')
  const probe = (await (await put(cluster.url, 'midway', 'big', 'probe')).json()) as { pref_list: string[] }
  const victim = probe.pref_list[2] as string
  const size = 24 * 1024 * 1024
  let streamed = 0
  // 1 MiB every 40 ms: the upload is still streaming when the replica dies.
  const body = Readable.from(
    (async function* () {
      for (const c of chunks(size)) {
        await new Promise((r) => setTimeout(r, 40))
        streamed += c.length
        yield c
      }
    })(),
  )
  const up = upload(`${cluster.url}/buckets/midway/files/big`, body, { 'content-length': String(size) })
  await eventually(async () => streamed >= 4 * 1024 * 1024, 10_000, 'upload under way')
  await cluster.stop(victim, 'SIGKILL')
  const answer = await up
  t.is(answer.status, 201, answer.text)
  const written = JSON.parse(answer.text) as { replicas_written: string[] }
  t.false(written.replicas_written.includes(victim))
  await eventually(
    async () => {
      const c = (await (await fetch(`${cluster.url}/cluster`)).json()) as { pending_hints: Record<string, { versions: number }> }
      return (c.pending_hints[victim]?.versions ?? 0) >= 1
    },
    10_000,
    'a stand-in holds a hint for the killed replica',
  )
  await cluster.restart(victim)
  await eventually(async () => (await heldBy(cluster, victim, 'midway', 'big')).some((v) => v.size === size), 30_000, 'the restarted replica holds the upload')
  const res = await fetch(`${cluster.url}/buckets/midway/files/big`)
  t.true(res.status === 200 || res.status === 300, `status ${res.status}`)
  await res.arrayBuffer()
})
