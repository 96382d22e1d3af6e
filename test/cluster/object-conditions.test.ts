/**
 * Object semantics of the native API through the proxy: the ETag is the MD5 of the bytes (the
 * SHA-256 in x-content-sha256), Range reads (206, 416) of inline and file-backed objects, and
 * conditional GET, HEAD and PUT (412, 304).
 */
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { TestCluster } from '../../devtools/test-cluster.js'
import { versionId } from '../../shared/vclock/versions.js'
import { createBucket, json } from '../helpers/http.js'
import { heldBy, internalClient, nodeRef } from '../helpers/internal.js'

let cluster: TestCluster
test.before(async () => {
  cluster = await TestCluster.start(4)
  await createBucket(cluster.url, 'cond')
})
test.after.always(async () => {
  await cluster?.teardown()
})

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex')
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
const path = (key: string) => `/buckets/cond/files/${encodeURIComponent(key)}`
const putBytes = (key: string, body: Uint8Array, headers: Record<string, string> = {}) => cluster.fetch(path(key), { method: 'PUT', body, headers })
const getWith = (key: string, headers: Record<string, string>, method = 'GET') => cluster.fetch(path(key), { method, headers })

test('the ETag is the MD5 of the bytes, the SHA-256 is in x-content-sha256; the write answer and the listing say the same', async (t) => {
  const body = randomBytes(5000)
  const put = await putBytes('small.bin', body)
  t.is(put.status, 201)
  t.is((await json(put)).etag, md5(body))
  for (const method of ['GET', 'HEAD']) {
    const res = await getWith('small.bin', {}, method)
    t.is(res.status, 200)
    t.is(res.headers.get('etag'), `"${md5(body)}"`)
    t.is(res.headers.get('x-content-sha256'), sha256(body))
    t.is(res.headers.get('accept-ranges'), 'bytes')
    await res.arrayBuffer()
  }
  const list = await json(await cluster.fetch('/buckets/cond/files?prefix=small'))
  t.deepEqual(
    (list.files as { key: string; etag: string }[]).map((f) => [f.key, f.etag]),
    [['small.bin', md5(body)]],
  )
})

test('a 10 MiB upload: its ETag equals md5sum of the bytes', async (t) => {
  const body = randomBytes(10 * 1024 * 1024)
  const dir = mkdtempSync(join(tmpdir(), 'md5sum-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'f'), body)
  const md5sum = execFileSync('md5sum', [join(dir, 'f')], { encoding: 'utf8' }).split(' ')[0]
  // Streamed without a declared length too: the MD5 is taken while the body passes.
  const put = await cluster.fetch(path('ten.bin'), { method: 'PUT', body: new Blob([body]).stream(), duplex: 'half' } as RequestInit)
  t.is(put.status, 201, await put.clone().text())
  t.is((await json(put)).etag, md5sum)
  const res = await getWith('ten.bin', {}, 'HEAD')
  t.is(res.headers.get('etag'), `"${md5sum}"`)
  t.is(res.headers.get('x-content-sha256'), sha256(body))
  // Over 8 MiB: the node reads the span from the file without reading (or verifying) the rest.
  for (const [start, end] of [
    [9_000_001, 9_500_000],
    [0, 4095],
    [body.length - 10, body.length - 1],
  ] as const) {
    const part = await getWith('ten.bin', { range: `bytes=${start}-${end}` })
    t.is(part.status, 206)
    t.true(Buffer.from(await part.arrayBuffer()).equals(body.subarray(start, end + 1)), `${start}-${end}`)
  }
})

for (const [label, size] of [
  ['inline', 3000],
  ['file-backed', 200 * 1024 + 77],
] as const) {
  test(`Range on a ${label} object: exact bytes, 206 with Content-Range, 416 past the end, HEAD too`, async (t) => {
    const key = `range-${label}.bin`
    const body = randomBytes(size)
    t.is((await putBytes(key, body)).status, 201)
    const cases: [string, number, number][] = [
      ['bytes=0-0', 0, 0],
      ['bytes=10-99', 10, 99],
      [`bytes=${size - 100}-`, size - 100, size - 1],
      ['bytes=-17', size - 17, size - 1],
      [`bytes=5-${size + 1000}`, 5, size - 1],
      [`bytes=${65536 - 3}-${65536 + 3}`, 65536 - 3, Math.min(size - 1, 65536 + 3)],
    ]
    for (const [range, start, end] of cases) {
      if (start >= size) continue
      const res = await getWith(key, { range })
      t.is(res.status, 206, range)
      t.is(res.headers.get('content-range'), `bytes ${start}-${end}/${size}`, range)
      t.is(res.headers.get('content-length'), String(end - start + 1), range)
      t.true(Buffer.from(await res.arrayBuffer()).equals(body.subarray(start, end + 1)), range)
      const head = await getWith(key, { range }, 'HEAD')
      t.is(head.status, 206)
      t.is(head.headers.get('content-length'), String(end - start + 1))
    }
    const past = await getWith(key, { range: `bytes=${size}-` })
    t.is(past.status, 416)
    t.is(past.headers.get('content-range'), `bytes */${size}`)
    t.is(((await json(past)).error as { code: string }).code, 'InvalidRange')
    // Several ranges, or a malformed one: the whole object.
    for (const range of ['bytes=0-1,5-6', 'bytes=9-2', 'lines=1-2']) {
      const whole = await getWith(key, { range })
      t.is(whole.status, 200, range)
      t.is((await whole.arrayBuffer()).byteLength, size)
    }
    // If-Range with a stale tag serves the whole object; with the current one, the range.
    const etag = (await getWith(key, {}, 'HEAD')).headers.get('etag') as string
    t.is((await getWith(key, { range: 'bytes=0-9', 'if-range': '"0123456789abcdef0123456789abcdef"' })).status, 200)
    t.is((await getWith(key, { range: 'bytes=0-9', 'if-range': etag })).status, 206)
  })
}

test('a node serves only the range asked of its data route (206), from a file', async (t) => {
  const body = randomBytes(300 * 1024)
  t.is((await putBytes('node-range.bin', body)).status, 201)
  const nodes = internalClient(cluster)
  for (const id of ['node-1', 'node-2', 'node-3', 'node-4']) {
    const held = await heldBy(cluster, id, 'cond', 'node-range.bin')
    const v = held[0]
    if (!v) continue
    const stream = await nodes.openData(nodeRef(cluster, id), 'cond', 'node-range.bin', versionId(v.dot), { range: { start: 100_000, end: 200_000 } })
    t.is((stream as { statusCode?: number }).statusCode, 206, 'the node cut the range, not the client')
    const chunks: Buffer[] = []
    for await (const c of stream) chunks.push(c as Buffer)
    t.true(Buffer.concat(chunks).equals(body.subarray(100_000, 200_001)))
    t.is(v.md5, md5(body))
  }
})

test('conditional GET and HEAD: If-Match / If-Unmodified-Since 412, If-None-Match / If-Modified-Since 304 without a body', async (t) => {
  const body = Buffer.from('conditional body')
  t.is((await putBytes('c.txt', body)).status, 201)
  const head = await getWith('c.txt', {}, 'HEAD')
  const etag = head.headers.get('etag') as string
  const lastModified = head.headers.get('last-modified') as string
  const earlier = new Date(Date.parse(lastModified) - 60_000).toUTCString()
  for (const method of ['GET', 'HEAD']) {
    t.is((await getWith('c.txt', { 'if-match': etag }, method)).status, 200)
    t.is((await getWith('c.txt', { 'if-match': '"nope"' }, method)).status, 412)
    t.is((await getWith('c.txt', { 'if-unmodified-since': earlier }, method)).status, 412)
    t.is((await getWith('c.txt', { 'if-match': etag, 'if-unmodified-since': earlier }, method)).status, 200, 'If-Match wins')
    const notModified = await getWith('c.txt', { 'if-none-match': `W/${etag}` }, method)
    t.is(notModified.status, 304)
    t.is(notModified.headers.get('etag'), etag)
    t.is((await notModified.arrayBuffer()).byteLength, 0)
    t.is((await getWith('c.txt', { 'if-modified-since': lastModified }, method)).status, 304)
    t.is((await getWith('c.txt', { 'if-modified-since': earlier }, method)).status, 200)
    t.is((await getWith('c.txt', { 'if-none-match': '"other"', 'if-modified-since': lastModified }, method)).status, 200, 'If-None-Match wins')
  }
  const failed = await getWith('c.txt', { 'if-match': '"nope"' })
  t.is(((await json(failed)).error as { code: string }).code, 'PreconditionFailed')
})

test('conditional PUT: If-None-Match * only creates, If-Match only replaces the version it names', async (t) => {
  t.is((await putBytes('p.txt', Buffer.from('one'), { 'if-none-match': '*' })).status, 201)
  const again = await putBytes('p.txt', Buffer.from('two'), { 'if-none-match': '*' })
  t.is(again.status, 412)
  t.is(((await json(again)).error as { code: string }).code, 'PreconditionFailed')
  t.is(await (await getWith('p.txt', {})).text(), 'one')
  t.is((await putBytes('p.txt', Buffer.from('three'), { 'if-match': `"${md5(Buffer.from('two'))}"` })).status, 412)
  t.is((await putBytes('p.txt', Buffer.from('three'), { 'if-match': `"${md5(Buffer.from('one'))}"` })).status, 201)
  const now = await getWith('p.txt', {})
  t.is(now.status, 200)
  t.is(await now.text(), 'three')
  t.is((await putBytes('absent.txt', Buffer.from('x'), { 'if-match': '*' })).status, 412)
  // A DELETE takes If-Match too; a deleted key has no live version: If-None-Match * creates it again.
  t.is((await cluster.fetch(path('p.txt'), { method: 'DELETE', headers: { 'if-match': '"0123456789abcdef0123456789abcdef"' } })).status, 412)
  t.is((await cluster.fetch(path('p.txt'), { method: 'DELETE', headers: { 'if-match': `"${md5(Buffer.from('three'))}"` } })).status, 200)
  t.is((await putBytes('p.txt', Buffer.from('four'), { 'if-none-match': '*' })).status, 201)
})

test('siblings: GET answers 300 with each sibling MD5; If-Match holds for any sibling', async (t) => {
  t.is((await putBytes('s.txt', Buffer.from('base'))).status, 201)
  const context = (await getWith('s.txt', {}, 'HEAD')).headers.get('x-context') as string
  t.is((await putBytes('s.txt', Buffer.from('left'), { 'x-context': context })).status, 201)
  t.is((await putBytes('s.txt', Buffer.from('right'), { 'x-context': context })).status, 201)
  const res = await getWith('s.txt', {})
  t.is(res.status, 300)
  const siblings = (await json(res)).siblings as { etag: string; content_sha256: string }[]
  t.deepEqual(siblings.map((s) => s.etag).sort(), [md5(Buffer.from('left')), md5(Buffer.from('right'))].sort())
  t.is((await getWith('s.txt', { 'if-match': `"${md5(Buffer.from('left'))}"` })).status, 300)
  t.is((await getWith('s.txt', { 'if-match': `"${md5(Buffer.from('base'))}"` })).status, 412)
  t.is((await getWith('s.txt', { 'if-none-match': `"${md5(Buffer.from('left'))}"` })).status, 300, 'no 304 for siblings')
  t.is((await putBytes('s.txt', Buffer.from('nope'), { 'if-none-match': '*' })).status, 412)
  // A conditional PUT without a context is made over what the condition saw: it resolves the siblings.
  t.is((await putBytes('s.txt', Buffer.from('merged'), { 'if-match': `"${md5(Buffer.from('right'))}"` })).status, 201)
  const merged = await getWith('s.txt', {})
  t.is(merged.status, 200)
  t.is(await merged.text(), 'merged')
})
