/** The seeds' whole flow against a real 4-node cluster, plus the error answers of SPEC.md. */
import { request } from 'node:http'
import test from 'ava'
import { TestCluster } from '../../devtools/test-cluster.js'
import { authHeaders, createBucket, fetch, get, json, put } from '../helpers/http.js'

let cluster: TestCluster
test.before(async () => {
  cluster = await TestCluster.start(4)
})
test.after.always(async () => {
  await cluster?.teardown()
})

test('buckets: create, conflict, list, names', async (t) => {
  const u = cluster.url
  t.is((await fetch(`${u}/buckets/photos`, { method: 'POST' })).status, 201)
  const again = await fetch(`${u}/buckets/photos`, { method: 'POST' })
  t.is(again.status, 409)
  t.like(await json(again), { success: false, error: { code: 'BucketAlreadyExists' } })
  for (const bad of ['Bad_Name', 'ab', '192.168.0.1', 'a..b', 'x'.repeat(64)]) {
    const res = await fetch(`${u}/buckets/${bad}`, { method: 'POST' })
    t.is(res.status, 400, bad)
    t.like(await json(res), { error: { code: 'InvalidBucketName' } })
  }
  const list = await json(await fetch(`${u}/buckets`))
  t.true((list.buckets as { name: string }[]).some((b) => b.name === 'photos'))
})

test('multipart upload, read back, list, raw update, delete in both forms', async (t) => {
  const u = cluster.url
  await createBucket(u, 'seedflow')
  const form = new FormData()
  form.append('file', new Blob([Buffer.from('meow')], { type: 'image/jpeg' }), 'cat.jpg')
  form.append('file', new Blob([Buffer.from('woof')]), 'dog.jpg')
  const up = await fetch(`${u}/buckets/seedflow/files`, { method: 'POST', body: form })
  t.is(up.status, 201)
  const upBody = (await json(up)) as unknown as { results: { key: string; node: string; pref_list: string[]; replicas_written: string[]; vector_clocks: Record<string, unknown> }[] }
  t.deepEqual(
    upBody.results.map((r) => r.key),
    ['cat.jpg', 'dog.jpg'],
  )
  const w = upBody.results[0]!
  t.is(new Set(w.pref_list).size, 3)
  t.true(w.replicas_written.length >= 2)
  t.true(w.pref_list.includes(w.node))
  t.deepEqual(Object.keys(w.vector_clocks).sort(), [...w.replicas_written].sort())

  const read = await get(u, 'seedflow', 'cat.jpg')
  t.is(read.status, 200)
  t.is(read.headers.get('content-type'), 'image/jpeg')
  t.truthy(read.headers.get('x-context'))
  t.truthy(read.headers.get('etag'))
  t.is(typeof JSON.parse(read.headers.get('x-vector-clock') ?? 'null'), 'object')
  t.is(await read.text(), 'meow')

  const head = await fetch(`${u}/buckets/seedflow/files/cat.jpg`, { method: 'HEAD' })
  t.is(head.status, 200)
  t.is(head.headers.get('content-length'), '4')

  const listing = (await json(await fetch(`${u}/buckets/seedflow/files`))) as unknown as { files: { key: string; size: number; siblings: number }[] }
  t.deepEqual(
    listing.files.map((f) => [f.key, f.size, f.siblings]),
    [
      ['cat.jpg', 4, 1],
      ['dog.jpg', 4, 1],
    ],
  )

  const upd = await put(u, 'seedflow', 'cat.jpg', 'purr')
  t.is(upd.status, 201)
  t.is(await (await get(u, 'seedflow', 'cat.jpg')).text(), 'purr')

  t.is((await fetch(`${u}/buckets/seedflow`, { method: 'DELETE' })).status, 409)
  const del1 = await fetch(`${u}/buckets/seedflow/files/cat.jpg`, { method: 'DELETE' })
  t.is(del1.status, 200)
  t.is(typeof (await json(del1)).vector_clock, 'object')
  t.is((await fetch(`${u}/buckets/seedflow/dog.jpg`, { method: 'DELETE' })).status, 200)
  t.is((await get(u, 'seedflow', 'cat.jpg')).status, 404)
  t.is((await fetch(`${u}/buckets/seedflow/files/cat.jpg`, { method: 'DELETE' })).status, 404)
  t.is((await fetch(`${u}/buckets/seedflow`, { method: 'DELETE' })).status, 200)
  t.is((await get(u, 'seedflow', 'cat.jpg')).status, 404)
  t.like(await json(await get(u, 'seedflow', 'cat.jpg')), { error: { code: 'NoSuchBucket' } })
})

test('siblings from one stale context, resolved with the 300 context; forged context refused', async (t) => {
  const u = cluster.url
  await createBucket(u, 'conflicts')
  await put(u, 'conflicts', 'doc', 'v1')
  const ctx1 = (await get(u, 'conflicts', 'doc')).headers.get('x-context') ?? ''
  t.is((await put(u, 'conflicts', 'doc', 'alice', { 'x-context': ctx1 })).status, 201)
  t.is((await put(u, 'conflicts', 'doc', 'bob', { 'x-context': ctx1 })).status, 201)
  const conflict = await get(u, 'conflicts', 'doc')
  t.is(conflict.status, 300)
  const body = (await conflict.json()) as { siblings: { version: string; vector_clock: Record<string, number> }[]; context: string }
  t.is(body.siblings.length, 2)
  const bytes = await Promise.all(body.siblings.map(async (s) => (await get(u, 'conflicts', 'doc', `?version=${encodeURIComponent(s.version)}`)).text()))
  t.deepEqual(bytes.sort(), ['alice', 'bob'])
  t.is((await put(u, 'conflicts', 'doc', 'merged', { 'x-context': body.context })).status, 201)
  const resolved = await get(u, 'conflicts', 'doc')
  t.is(resolved.status, 200)
  t.is(await resolved.text(), 'merged')

  const forged = await put(u, 'conflicts', 'doc', 'x', { 'x-context': 'forged' })
  t.is(forged.status, 400)
  t.like(await json(forged), { error: { code: 'InvalidContext' } })
  const tampered = `${body.context.slice(0, -3)}AAA`
  t.is((await put(u, 'conflicts', 'doc', 'x', { 'x-context': tampered })).status, 400)
  t.is(await (await get(u, 'conflicts', 'doc')).text(), 'merged')
})

test('bad input: keys, quorum knobs, sizes, cursors, multipart; nothing stored is harmed', async (t) => {
  const u = cluster.url
  await createBucket(u, 'badinput')
  await put(u, 'badinput', '../../etc/passwd', 'just a key')
  t.is(await (await get(u, 'badinput', '../../etc/passwd')).text(), 'just a key')
  t.is((await put(u, 'badinput', 'a\u0001b', 'x')).status, 400)
  t.is((await put(u, 'badinput', 'k'.repeat(1025), 'x')).status, 400)
  t.is((await put(u, 'badinput', 'k', 'x', {}, '?w=0')).status, 400)
  t.is((await put(u, 'badinput', 'k', 'x', {}, '?w=4')).status, 400)
  t.is((await get(u, 'badinput', 'k', '?r=abc')).status, 400)
  t.is((await fetch(`${u}/buckets/badinput/files?limit=0`)).status, 400)
  t.is((await fetch(`${u}/buckets/badinput/files?cursor=!!`)).status, 400)
  t.is((await fetch(`${u}/buckets/badinput/files`, { method: 'POST', body: 'not a form', headers: { 'content-type': 'text/plain' } })).status, 400)
  const truncated = await fetch(`${u}/buckets/badinput/files`, {
    method: 'POST',
    body: '--XYZ\r\nContent-Disposition: form-data; name="file"; filename="t.txt"\r\n\r\nhalf a fi',
    headers: { 'content-type': 'multipart/form-data; boundary=XYZ' },
  })
  t.is(truncated.status, 400)
  t.is((await get(u, 'badinput', 't.txt')).status, 404)
  const tooLarge = await new Promise<number>((resolve, reject) => {
    const req = request(`${u}/buckets/badinput/files/huge`, { method: 'PUT', headers: { ...authHeaders(u), 'content-length': String(6 * 1024 ** 3) } }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
    req.write(Buffer.alloc(1024))
  })
  t.is(tooLarge, 413)
  t.is((await get(u, 'badinput', 'huge')).status, 404)
  t.is((await fetch(`${u}/nowhere`)).status, 404)
  t.is(await (await get(u, 'badinput', '../../etc/passwd')).text(), 'just a key')
})

test('listing paginates with a cursor and a prefix', async (t) => {
  const u = cluster.url
  await createBucket(u, 'paging')
  const keys = Array.from({ length: 25 }, (_, i) => `p/${String(i).padStart(3, '0')}`)
  for (const k of keys) await put(u, 'paging', k, k)
  await put(u, 'paging', 'other', 'x')
  const seen: string[] = []
  let cursor = ''
  for (let pages = 0; pages < 10; pages++) {
    const page = (await json(await fetch(`${u}/buckets/paging/files?prefix=p/&limit=7&cursor=${cursor}`))) as unknown as { files: { key: string }[]; next_cursor: string | null }
    seen.push(...page.files.map((f) => f.key))
    if (!page.next_cursor) break
    cursor = page.next_cursor
  }
  t.deepEqual(seen, keys)
})
