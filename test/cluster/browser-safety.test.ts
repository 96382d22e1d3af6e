/**
 * What a browser, or a client that lies, meets at the proxy: stored active content never runs in
 * the proxy's origin, CORS only for configured origins, multipart keys keep their slashes, bucket
 * listings page, and a request id that is not plain is never reflected.
 */
import { connect } from 'node:net'
import test from 'ava'
import { TestCluster } from '../../devtools/test-cluster.js'
import { createBucket, fetch, get, json, put } from '../helpers/http.js'

const LISTED_ORIGIN = 'https://app.example.com'
const OTHER_ORIGIN = 'https://evil.example.net'

let cluster: TestCluster
/** A second proxy on the same nodes, started with --cors-origins. */
let corsUrl: string

test.before(async () => {
  cluster = await TestCluster.start(4)
  corsUrl = await cluster.startProxy('proxy-cors', ['--membership-poll-ms', '200', '--cors-origins', `${LISTED_ORIGIN},http://localhost:3000`])
  await createBucket(cluster.url, 'web')
})
test.after.always(async () => {
  await cluster?.teardown()
})

function accessControlHeaders(res: Response): string[] {
  return [...res.headers.keys()].filter((h) => h.startsWith('access-control-'))
}

test('stored HTML and SVG are served with nosniff, as a sandboxed download', async (t) => {
  for (const [key, type] of [
    ['page.html', 'text/html'],
    ['dir/pic.svg', 'image/svg+xml'],
    ['app.js', 'Application/JavaScript; charset=utf-8'],
    ['feed', 'application/rss+xml'],
  ] as const) {
    t.is((await put(cluster.url, 'web', key, '<svg onload="alert(1)"><script>alert(1)</script></svg>', { 'content-type': type })).status, 201)
    for (const method of ['GET', 'HEAD']) {
      const res = await fetch(`${cluster.url}/buckets/web/files/${key}`, { method })
      await res.arrayBuffer()
      t.is(res.status, 200, `${method} ${key}`)
      t.is(res.headers.get('x-content-type-options'), 'nosniff', `${method} ${key}`)
      t.regex(res.headers.get('content-disposition') ?? '', /^attachment; filename="[^"]+"/, `${method} ${key}`)
      t.is(res.headers.get('content-security-policy'), 'sandbox', `${method} ${key}`)
    }
  }
})

test('?inline=true shows active content inline, still nosniff and sandboxed; a bad ?inline= is a 400', async (t) => {
  await put(cluster.url, 'web', 'inline.html', '<p>hello</p>', { 'content-type': 'text/html' })
  const res = await get(cluster.url, 'web', 'inline.html', '?inline=true')
  t.is(await res.text(), '<p>hello</p>')
  t.is(res.headers.get('content-disposition'), null)
  t.is(res.headers.get('x-content-type-options'), 'nosniff')
  t.is(res.headers.get('content-security-policy'), 'sandbox')
  const bad = await get(cluster.url, 'web', 'inline.html', '?inline=yes')
  t.is(bad.status, 400)
  t.is(((await json(bad)).error as { code: string }).code, 'InvalidArgument')
})

test('passive types stay inline, with nosniff', async (t) => {
  await put(cluster.url, 'web', 'note.txt', 'just text', { 'content-type': 'text/plain' })
  const res = await get(cluster.url, 'web', 'note.txt')
  t.is(await res.text(), 'just text')
  t.is(res.headers.get('x-content-type-options'), 'nosniff')
  t.is(res.headers.get('content-disposition'), null)
})

test('a sibling read by ?version= is a download too, and the 300 and error answers carry nosniff', async (t) => {
  await put(cluster.url, 'web', 'twins.html', 'first', { 'content-type': 'text/html' })
  const ctx = (await get(cluster.url, 'web', 'twins.html')).headers.get('x-context') as string
  await put(cluster.url, 'web', 'twins.html', '<b>a</b>', { 'content-type': 'text/html', 'x-context': ctx })
  await put(cluster.url, 'web', 'twins.html', '<b>b</b>', { 'content-type': 'text/html', 'x-context': ctx })
  const many = await get(cluster.url, 'web', 'twins.html')
  t.is(many.status, 300)
  t.is(many.headers.get('x-content-type-options'), 'nosniff')
  const { siblings } = (await many.json()) as { siblings: { version: string }[] }
  const one = await get(cluster.url, 'web', 'twins.html', `?version=${siblings[0]?.version}`)
  t.is(one.status, 200)
  t.is(one.headers.get('x-content-type-options'), 'nosniff')
  t.regex(one.headers.get('content-disposition') ?? '', /^attachment; filename="twins.html"/)
  const missing = await get(cluster.url, 'web', 'nothing-here.html')
  t.is(missing.status, 404)
  t.is(missing.headers.get('x-content-type-options'), 'nosniff')
})

test('the key-value API answers with nosniff', async (t) => {
  const pair = { key: { encoding: 'string', data: 'html-value' }, value: { encoding: 'string', data: '<script>alert(1)</script>' } }
  t.is((await fetch(`${cluster.url}/set`, { method: 'PUT', body: JSON.stringify([pair]) })).status, 200)
  for (const res of [await fetch(`${cluster.url}/fetch`, { method: 'POST', body: JSON.stringify([pair.key]) }), await fetch(`${cluster.url}/fetch?limit=10`), await fetch(`${cluster.url}/fetch`)]) {
    await res.arrayBuffer()
    t.is(res.status, 200)
    t.is(res.headers.get('x-content-type-options'), 'nosniff')
  }
})

test('without --cors-origins no Access-Control-* header is sent, and a preflight is refused', async (t) => {
  await put(cluster.url, 'web', 'plain.txt', 'x')
  const read = await fetch(`${cluster.url}/buckets/web/files/plain.txt`, { headers: { origin: OTHER_ORIGIN } })
  await read.arrayBuffer()
  t.is(read.status, 200)
  t.deepEqual(accessControlHeaders(read), [])
  for (const path of ['/buckets/web/files/plain.txt', '/buckets', '/set']) {
    // A preflight is what a browser sends on its own, before any credentials: it carries none.
    const pre = await fetch(`${cluster.url}${path}`, {
      anonymous: true,
      method: 'OPTIONS',
      headers: { origin: OTHER_ORIGIN, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-context' },
    })
    await pre.arrayBuffer()
    t.is(pre.status, 403, path)
    t.deepEqual(accessControlHeaders(pre), [], path)
  }
})

test('with --cors-origins a listed origin is answered, another is not', async (t) => {
  await put(corsUrl, 'web', 'shared.txt', 'for the app')
  const listed = await fetch(`${corsUrl}/buckets/web/files/shared.txt`, { headers: { origin: LISTED_ORIGIN } })
  t.is(await listed.text(), 'for the app')
  t.is(listed.headers.get('access-control-allow-origin'), LISTED_ORIGIN)
  t.regex(listed.headers.get('access-control-expose-headers') ?? '', /x-context/)
  t.regex(listed.headers.get('vary') ?? '', /origin/i)
  t.is(listed.headers.get('access-control-allow-credentials'), null)

  const pre = await fetch(`${corsUrl}/buckets/web/files/shared.txt`, { anonymous: true, method: 'OPTIONS', headers: { origin: LISTED_ORIGIN, 'access-control-request-method': 'PUT' } })
  t.is(pre.status, 204)
  t.is(pre.headers.get('access-control-allow-origin'), LISTED_ORIGIN)
  t.regex(pre.headers.get('access-control-allow-methods') ?? '', /PUT/)

  const other = await fetch(`${corsUrl}/buckets/web/files/shared.txt`, { headers: { origin: OTHER_ORIGIN } })
  t.is(await other.text(), 'for the app')
  t.deepEqual(accessControlHeaders(other), [])
  t.regex(other.headers.get('vary') ?? '', /origin/i)
  const otherPre = await fetch(`${corsUrl}/buckets/web/files/shared.txt`, { anonymous: true, method: 'OPTIONS', headers: { origin: OTHER_ORIGIN, 'access-control-request-method': 'PUT' } })
  await otherPre.arrayBuffer()
  t.is(otherPre.status, 403)
  t.deepEqual(accessControlHeaders(otherPre), [])
  // A near miss is another origin: origins match exactly.
  const near = await fetch(`${corsUrl}/buckets`, { headers: { origin: 'https://app.example.com.evil.net' } })
  await near.arrayBuffer()
  t.deepEqual(accessControlHeaders(near), [])
})

test('a multipart file name keeps its slashes: a/b.txt is stored at key a/b.txt', async (t) => {
  await createBucket(cluster.url, 'forms')
  const form = new FormData()
  form.append('file', new Blob(['nested']), 'a/b.txt')
  form.append('file', new Blob(['not a path']), '../../etc/passwd')
  form.append('file', new Blob(['utf-8 name']), 'dossier/été.txt')
  const res = await fetch(`${cluster.url}/buckets/forms/files`, { method: 'POST', body: form })
  t.is(res.status, 201)
  const { results } = (await res.json()) as { results: { key: string }[] }
  t.deepEqual(
    results.map((r) => r.key),
    ['a/b.txt', '../../etc/passwd', 'dossier/été.txt'],
  )
  t.is(await (await get(cluster.url, 'forms', 'a/b.txt')).text(), 'nested')
  t.is((await get(cluster.url, 'forms', 'b.txt')).status, 404)
  t.is(await (await get(cluster.url, 'forms', '../../etc/passwd')).text(), 'not a path')
  t.is(await (await get(cluster.url, 'forms', 'dossier/été.txt')).text(), 'utf-8 name')
})

test('GET /buckets pages with limit and cursor, and every bucket is seen exactly once', async (t) => {
  const mine = Array.from({ length: 7 }, (_, i) => `page-${i}-${Math.random().toString(36).slice(2, 8)}`)
  for (const b of mine) await createBucket(cluster.url, b)
  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const res: Response = await fetch(`${cluster.url}/buckets?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
    t.is(res.status, 200)
    const page = (await res.json()) as { buckets: { name: string; created: string }[]; next_cursor: string | null; truncated: boolean }
    t.true(page.buckets.length <= 2)
    t.is(page.truncated, page.next_cursor !== null)
    seen.push(...page.buckets.map((b) => b.name))
    cursor = page.next_cursor
    pages++
  } while (cursor !== null && pages < 100)
  t.true(pages >= 4, `${pages} pages`)
  t.is(new Set(seen).size, seen.length, 'no bucket twice')
  for (const b of mine) t.true(seen.includes(b), b)
  t.deepEqual(seen, [...seen].sort(), 'in name order')

  // Without parameters: still a list (the first page), saying there is no next page here.
  const all = (await (await fetch(`${cluster.url}/buckets`)).json()) as { success: boolean; buckets: { name: string }[]; next_cursor: string | null; truncated: boolean }
  t.true(all.success)
  for (const b of mine)
    t.true(
      all.buckets.some((x) => x.name === b),
      b,
    )
  t.is(all.next_cursor, null)
  t.false(all.truncated)

  const prefixed = (await (await fetch(`${cluster.url}/buckets?prefix=page-3-`)).json()) as { buckets: { name: string }[] }
  t.deepEqual(
    prefixed.buckets.map((b) => b.name),
    [mine[3]],
  )
  for (const bad of ['?limit=0', '?limit=x', '?limit=100001', '?cursor=%%%', '?cursor=not*base64']) {
    const res = await fetch(`${cluster.url}/buckets${bad}`)
    t.is(res.status, 400, bad)
    t.is(((await json(res)).error as { code: string }).code, 'InvalidArgument', bad)
  }
})

/** Send a raw request, return the head of the answer (status line and headers). */
function rawHead(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(request))
    let text = ''
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1')
    })
    s.on('error', reject)
    s.on('close', () => resolve(text.split('\r\n\r\n')[0] ?? ''))
  })
}

test('X-Request-Id is echoed only when plain; anything else gets a fresh id and is never reflected', async (t) => {
  const ok = await fetch(`${cluster.url}/health`, { headers: { 'x-request-id': 'trace-42:span.7' } })
  t.is(ok.headers.get('x-request-id'), 'trace-42:span.7')

  for (const bad of ['x'.repeat(500), '<script>alert(1)</script>', 'a b', 'two, ids']) {
    const res = await fetch(`${cluster.url}/health`, { headers: { 'x-request-id': bad } })
    const echoed = res.headers.get('x-request-id') ?? ''
    t.not(echoed, bad)
    t.regex(echoed, /^[A-Za-z0-9._:-]{1,128}$/)
  }

  // Line breaks cannot reach the app as part of a value; folded or LF-split attempts must not come back as headers.
  const port = cluster.layout.proxyPort
  for (const attempt of ['abc\r\n Set-Cookie: evil=1', 'abc\nSet-Cookie: evil=1', 'abc\rSet-Cookie: evil=1']) {
    const head = await rawHead(port, `GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-Id: ${attempt}\r\n\r\n`)
    t.notRegex(head, /set-cookie/i, JSON.stringify(attempt))
    t.notRegex(head, /evil/, JSON.stringify(attempt))
  }
})
