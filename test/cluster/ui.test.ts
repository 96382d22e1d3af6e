/**
 * The cluster page at /ui: its static files are open, typed, revalidated by ETag and under a strict
 * Content-Security-Policy, and no path under /ui reaches anything but them; its data
 * (GET /cluster/status) needs an admin key. Then in headless Chromium (Debian's `chromium`, driven by
 * playwright-core; skipped, saying why, when it is missing): the page asks for a key, shows 4 nodes
 * up, a node killed with SIGKILL down within a few seconds and up again after its restart, the hints
 * pending for it and a conflict, with no console error. Screenshots go to test/output/ (gitignored).
 */
import { existsSync, mkdirSync } from 'node:fs'
import { request } from 'node:http'
import { resolve } from 'node:path'
import test from 'ava'
import type { Locator } from 'playwright-core'
import { TestCluster } from '../../devtools/test-cluster.js'
import { UI_FILES } from '../../proxy/ui/static-files.js'
import { ClusterStatusSchema } from '../../shared/wire/cluster-status.js'
import { createBucket, get, put } from '../helpers/http.js'

const OUTPUT = resolve(import.meta.dirname, '../output')
const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => p !== undefined && p !== '' && existsSync(p))
const BUCKET = 'uipagebucket'

let cluster: TestCluster

test.before(async () => {
  cluster = await TestCluster.start(4)
})
test.after.always(async () => {
  await cluster?.teardown()
})

const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` })

/** Wait until `locator` matches `n` elements (polled from here: the page's CSP forbids the string evaluation waitForFunction uses). */
async function waitForCount(locator: Locator, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while ((await locator.count()) !== n) {
    if (Date.now() > deadline) throw new Error(`${String(locator)}: not ${n} within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** GET `path` exactly as written (fetch would resolve `..` before sending it). */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  const { port } = new URL(cluster.url)
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => {
        body += c
      })
      res.on('end', () => done({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', fail)
    req.end()
  })
}

test.serial('the static files are open, typed, under a strict CSP and revalidated by ETag', async (t) => {
  const paths = ['/ui', '/ui/', ...Object.keys(UI_FILES).map((f) => `/ui/${f}`)]
  for (const path of paths) {
    const res = await cluster.fetch(path, { anonymous: true })
    t.is(res.status, 200, path)
    const file = path.startsWith('/ui/') && path.length > 4 ? path.slice(4) : 'index.html'
    t.is(res.headers.get('content-type'), UI_FILES[file] as string, path)
    const csp = res.headers.get('content-security-policy') ?? ''
    t.regex(csp, /default-src 'none'/, path)
    t.regex(csp, /script-src 'self'(;|$)/, path)
    t.notRegex(csp, /unsafe-inline|unsafe-eval/, path)
    t.regex(csp, /frame-ancestors 'none'/, path)
    t.is(res.headers.get('x-content-type-options'), 'nosniff', path)
    t.is(res.headers.get('cache-control'), 'no-cache', path)
    const etag = res.headers.get('etag') ?? ''
    t.regex(etag, /^"[\w-]+"$/, path)
    const text = await res.text()
    const again = await cluster.fetch(path, { anonymous: true, headers: { 'if-none-match': etag } })
    t.is(again.status, 304, `${path} revalidated`)
    if (file === 'index.html') {
      t.notRegex(text, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline script')
      t.notRegex(text, /\s(on\w+|style)=/i, 'no inline handler or style attribute')
    }
  }
})

test.serial('no path under /ui reaches anything but the listed files', async (t) => {
  for (const path of [
    '/ui/../cluster',
    '/ui/%2e%2e/cluster',
    '/ui/..%2fcluster/status',
    '/ui/%2e%2e%2f%2e%2e%2fpackage.json',
    '/ui/static-files.ts',
    '/ui/static/index.html',
    '/ui//etc/passwd',
    '/ui/index.html/',
    '/ui/nope.js',
    '/ui/INDEX.HTML',
  ]) {
    const res = await rawGet(path)
    t.true(res.status === 404 || res.status === 400, `${path}: ${res.status}`)
    t.false(res.body.includes('"nodes"') || res.body.includes('dependencies') || res.body.includes('root:'), `${path} leaks nothing`)
  }
})

test.serial('GET /cluster/status: 401 without a key, 403 for a key that is not admin, the status with an admin key', async (t) => {
  const anon = await cluster.fetch('/cluster/status', { anonymous: true })
  t.is(anon.status, 401)
  t.falsy(anon.headers.get('www-authenticate')?.toLowerCase().startsWith('basic'), 'never WWW-Authenticate: Basic (browsers would prompt)')
  const made = await cluster.fetch('/admin/keys', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ui-reader', createBuckets: true }) })
  t.is(made.status, 201)
  const { key, secret } = (await made.json()) as { key: { id: string }; secret: string }
  const plain = await cluster.fetch('/cluster/status', { headers: basic(key.id, secret) })
  t.is(plain.status, 403)
  t.is(((await plain.json()) as { error: { code: string } }).error.code, 'AccessDenied')
  t.is((await cluster.fetch('/cluster/status', { headers: basic(key.id, `${secret}x`) })).status, 403, 'a wrong secret')

  const res = await cluster.fetch('/cluster/status')
  t.is(res.status, 200)
  t.is(res.headers.get('cache-control'), 'no-store')
  const s = ClusterStatusSchema.parse(await res.json())
  t.deepEqual(
    s.nodes.map((n) => [n.id, n.status, n.answered]),
    ['node-1', 'node-2', 'node-3', 'node-4'].map((id) => [id, 'up', true]),
  )
  for (const n of s.nodes) {
    t.true((n.disk?.free_bytes ?? 0) > 0, `${n.id} free disk`)
    t.true((n.memory?.rss_bytes ?? 0) > 0, `${n.id} memory`)
  }
  t.is(new Set(s.ring.arcs.map((a) => a.node)).size, 4)
  t.is(
    s.ring.arcs.reduce((sum, a) => sum + ((a.end - a.start + 2 ** 32) % 2 ** 32), 0),
    2 ** 32,
    'the arcs cover the ring',
  )
  t.true((s.requests?.total ?? 0) >= 3, 'the requests above are counted')
})

test.serial('in headless Chromium: 4 nodes up, a node killed shows down within seconds and up after its restart, no console error', async (t) => {
  if (!CHROMIUM) {
    t.log('skipped: no Chromium (apt-get install chromium, or set CHROMIUM_PATH)')
    t.pass()
    return
  }
  const creds = cluster.credentials
  if (!creds) throw new Error('the launcher made no admin key')
  const { chromium } = await import('playwright-core')
  mkdirSync(OUTPUT, { recursive: true })
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'] })
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const problems: string[] = []
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`)
    })
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
    // A poll in flight when the page reloads is aborted by the browser: that is no failure.
    page.on('requestfailed', (r) => {
      if (r.failure()?.errorText !== 'net::ERR_ABORTED') problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`)
    })

    await page.goto(`${cluster.url}/ui`)
    await page.locator('#key-form').waitFor({ state: 'visible' })
    await page.fill('#key-id', creds.accessKeyId)
    await page.fill('#key-secret', creds.secretAccessKey)
    await page.click('#key-form button[type=submit]')
    const upRows = page.locator('#nodes tbody tr[data-status="up"]')
    await waitForCount(upRows, 4, 15_000)
    t.is(await upRows.count(), 4)
    t.is((await page.locator('#ring g[data-node] path').count()) > 4, true, 'the ring is drawn with arcs')
    t.is(await page.locator('#ring-legend li').count(), 4)

    // A conflict: two writes from one context, then a read that finds both.
    await createBucket(cluster.url, BUCKET)
    t.is((await put(cluster.url, BUCKET, 'both', 'one')).status, 201)
    const context = (await get(cluster.url, BUCKET, 'both')).headers.get('x-context') ?? ''
    t.is((await put(cluster.url, BUCKET, 'both', 'two', { 'x-context': context })).status, 201)
    t.is((await put(cluster.url, BUCKET, 'both', 'three', { 'x-context': context })).status, 201)
    t.is((await get(cluster.url, BUCKET, 'both')).status, 300)
    await page.locator('#conflicts li', { hasText: `${BUCKET}/both` }).waitFor({ timeout: 10_000 })

    const killedAt = Date.now()
    await cluster.stop('node-3', 'SIGKILL')
    await page.locator('#nodes tbody tr[data-node="node-3"][data-status="down"]').waitFor({ timeout: 15_000 })
    const downAfterMs = Date.now() - killedAt
    t.log(`node-3 shown down ${downAfterMs} ms after SIGKILL`)
    t.true(downAfterMs < 8000, `shown down within a few seconds (${downAfterMs} ms)`)
    t.is(await upRows.count(), 3)
    t.is(await page.locator('#ring g[data-node="node-3"]').getAttribute('class'), 'node-arcs state-down')

    // Writes while it is down leave hints for it, which the page lists by target.
    for (let i = 0; i < 12; i++) t.is((await put(cluster.url, BUCKET, `while-down-${i}`, `hinted ${i}`)).status, 201)
    await page.locator('#hints tbody tr[data-node="node-3"]').waitFor({ timeout: 10_000 })
    await page.screenshot({ path: resolve(OUTPUT, 'ui-node-down.png'), fullPage: true })

    const restartedAt = Date.now()
    await cluster.restart('node-3')
    await waitForCount(upRows, 4, 30_000)
    t.log(`node-3 shown up again ${Date.now() - restartedAt} ms after its restart began`)

    // The key is asked once: a reload in the same tab goes straight to the cluster.
    await page.reload()
    await waitForCount(upRows, 4, 15_000)
    t.true(await page.locator('#key-form').isHidden())
    // Two polls, so the request rate has two answers to compare.
    // A few seconds of traffic, for the request rate (the page compares two answers' counters).
    for (let i = 0; i < 30; i++) {
      t.is((await put(cluster.url, BUCKET, `traffic-${i % 5}`, `x${i}`)).status, 201)
      await (await get(cluster.url, BUCKET, `traffic-${i % 5}`)).arrayBuffer()
      await new Promise((r) => setTimeout(r, 80))
    }
    await page.locator('#rate-chart polyline').waitFor({ state: 'attached', timeout: 10_000 })
    t.notRegex((await page.locator('#rate-now').textContent()) ?? '', /^(0|…)/, 'a request rate is shown')
    await page.screenshot({ path: resolve(OUTPUT, 'ui.png'), fullPage: true })
    t.log(`screenshots: ${resolve(OUTPUT, 'ui.png')}, ${resolve(OUTPUT, 'ui-node-down.png')}`)
    t.deepEqual(problems, [], 'no console error or warning, no failed request')
  } finally {
    await browser.close()
  }
})
