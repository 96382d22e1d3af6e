/**
 * GET /metrics on the proxy and on every node: the Prometheus text format (checked by promtool when
 * installed), the families an operator needs, counters that move as a scripted sequence expects (a
 * conflict and its resolution, a read repair, hints delivered, S3 requests), no bucket or key name
 * anywhere, --metrics-token (401 without the bearer token, 200 with it) and --metrics off (404).
 */
import { spawnSync } from 'node:child_process'
import test from 'ava'
import { TestCluster } from '../../devtools/test-cluster.js'
import { createBucket, get, put } from '../helpers/http.js'
import { eventually, heldBy, internalClient, nodeRef } from '../helpers/internal.js'

const TOKEN = 'metrics-test-token-4b1d'
const BUCKET = 'zqmetricsbucket'
const KEY = 'zqmetricskey'
let cluster: TestCluster

test.before(async () => {
  cluster = await TestCluster.start(4, { nodeArgs: ['--metrics-token', TOKEN], proxyArgs: ['--metrics-token', TOKEN] })
})
test.after.always(async () => {
  await cluster?.teardown()
})

const nodeIds = () => cluster.layout.nodePorts.map((_p, i) => `node-${i + 1}`)

/** `token` null: no Authorization header. */
async function scrape(url: string, token: string | null = TOKEN): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(`${url}/metrics`, token === null ? {} : { headers: { authorization: `Bearer ${token}` } })
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() }
}

/** The value of one sample (`name{labels}` as printed), summed over the lines that start with it. */
function value(text: string, prefix: string): number {
  let sum = 0
  for (const line of text.split('\n')) if (line.startsWith(prefix)) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  return sum
}

/** `prefix`'s value summed over every node. */
async function onNodes(prefix: string): Promise<number> {
  let sum = 0
  for (const id of nodeIds()) sum += value((await scrape(cluster.nodeUrl(id))).text, prefix)
  return sum
}

function families(text: string): Set<string> {
  return new Set(text.split('\n').flatMap((l) => (l.startsWith('# TYPE ') ? [l.split(' ')[2] as string] : [])))
}

function promtool(t: { log(...s: string[]): void; is(a: unknown, b: unknown, m?: string): void }, what: string, text: string): void {
  const res = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  if (res.error) {
    t.log(`promtool not run (${String(res.error.message)}): install the Debian package prometheus to check the format`)
    return
  }
  t.is(res.status, 0, `promtool check metrics on ${what}: ${res.stdout}${res.stderr}`)
}

test.serial('without the bearer token /metrics is refused (401) on the proxy and every node; with it, 200', async (t) => {
  for (const url of [cluster.url, ...nodeIds().map((id) => cluster.nodeUrl(id))]) {
    const anon = await scrape(url, null)
    t.is(anon.status, 401, url)
    t.is((await scrape(url, 'wrong-token')).status, 401, url)
    const ok = await scrape(url)
    t.is(ok.status, 200, url)
    t.regex(ok.type, /^text\/plain; version=0\.0\.4/)
  }
  // An access key is no metrics token.
  t.is((await cluster.fetch('/metrics')).status, 401)
})

test.serial('after traffic, the proxy and the nodes export their families, counters moved, and no bucket or key name appears', async (t) => {
  await createBucket(cluster.url, BUCKET)
  const first = await put(cluster.url, BUCKET, KEY, 'one')
  t.is(first.status, 201)
  const read = await get(cluster.url, BUCKET, KEY)
  t.is(read.status, 200)
  const context = read.headers.get('x-context') ?? ''
  await read.arrayBuffer()
  // Two writers with the same context: siblings, which the next read shows (300).
  t.is((await put(cluster.url, BUCKET, KEY, 'two', { 'x-context': context })).status, 201)
  t.is((await put(cluster.url, BUCKET, KEY, 'three', { 'x-context': context })).status, 201)
  const siblings = await get(cluster.url, BUCKET, KEY)
  t.is(siblings.status, 300)
  const siblingContext = siblings.headers.get('x-context') ?? ''
  await siblings.arrayBuffer()
  t.true((await onNodes('dynamo_node_siblings_created_total')) >= 1, 'the second write over the same context created a sibling on its coordinator')
  const resolvedBefore = await onNodes('dynamo_node_siblings_resolved_total')
  t.is((await put(cluster.url, BUCKET, KEY, 'resolved', { 'x-context': siblingContext })).status, 201)
  t.is(await onNodes('dynamo_node_siblings_resolved_total'), resolvedBefore + 1, 'a write over the context of both siblings resolved them')
  const after = await get(cluster.url, BUCKET, KEY)
  t.is(after.status, 200)
  await after.arrayBuffer()
  t.is((await get(cluster.url, BUCKET, 'zqmetricsmissing')).status, 404)

  // A node down: writes leave hints for it, delivered once it is back.
  await cluster.stop('node-2')
  await cluster.waitForStatus('node-2', 'down')
  for (let i = 0; i < 12; i++) t.is((await put(cluster.url, BUCKET, `${KEY}-${i}`, `hinted ${i}`)).status, 201)
  await cluster.restart('node-2')
  await cluster.waitForStatus('node-2', 'up')
  await eventually(
    async () => {
      let delivered = 0
      for (const id of nodeIds()) delivered += value((await scrape(cluster.nodeUrl(id))).text, 'dynamo_node_hints_delivered_total{target="node-2"}')
      return delivered > 0
    },
    30_000,
    'hints delivered to node-2',
  )
  await eventually(async () => (await onNodes('dynamo_node_hints_pending{target="node-2"}')) === 0, 30_000, 'every hint for node-2 delivered')
  // Each key's hint went to node-2's stand-in and, node-2 back, all of it was handed off.
  const deliveredBytes = await onNodes('dynamo_node_hints_delivered_bytes_total{target="node-2"}')
  t.true(deliveredBytes > 0)
  t.is(deliveredBytes, await onNodes('dynamo_node_hints_stored_bytes_total{target="node-2"}'), 'the bytes stored as hints for node-2 are the bytes delivered to it')

  const proxy = await scrape(cluster.url)
  t.is(proxy.status, 200)
  const pf = families(proxy.text)
  for (const f of [
    'dynamo_proxy_requests_total',
    'dynamo_proxy_request_duration_seconds',
    'dynamo_proxy_quorum_failures_total',
    'dynamo_proxy_read_repairs_total',
    'dynamo_proxy_sibling_reads_total',
    'dynamo_proxy_node_state',
    'dynamo_proxy_access_catalog_age_seconds',
    'process_resident_memory_bytes',
    'nodejs_eventloop_lag_seconds',
  ]) {
    t.true(pf.has(f), `proxy exports ${f}`)
  }
  t.true(value(proxy.text, 'dynamo_proxy_requests_total{route="/buckets/:bucket/files/') >= 15, 'object requests counted under their route template')
  t.true(value(proxy.text, 'dynamo_proxy_sibling_reads_total') >= 1, 'the 300 read counted as a sibling read')
  t.true(value(proxy.text, 'dynamo_proxy_requests_total{route="/buckets/:bucket/files/*key",method="GET",status="300"}') >= 1, 'the 300 counted by status')
  t.regex(proxy.text, /dynamo_proxy_request_duration_seconds_bucket\{le="0\.001",route="[^"]+",method="PUT"\}/)
  t.regex(proxy.text, /dynamo_proxy_request_duration_seconds_bucket\{le="10",/)
  t.is(value(proxy.text, 'dynamo_proxy_node_state{node="node-2",state="up"}'), 1)
  t.false(proxy.text.includes('zqmetrics'), 'no bucket or key name in the proxy metrics')
  promtool(t, 'the proxy', proxy.text)

  for (const id of nodeIds()) {
    const node = await scrape(cluster.nodeUrl(id))
    t.is(node.status, 200)
    const nf = families(node.text)
    for (const f of [
      'dynamo_node_gossip_rounds_total',
      'dynamo_node_members',
      'dynamo_node_hints_pending',
      'dynamo_node_hints_pending_bytes',
      'dynamo_node_hints_stored_total',
      'dynamo_node_hints_delivered_total',
      'dynamo_node_hints_delivered_bytes_total',
      'dynamo_node_siblings_created_total',
      'dynamo_node_siblings_resolved_total',
      'dynamo_node_store_bytes',
      'dynamo_node_store_blob_files',
      'dynamo_node_anti_entropy_exchanges_total',
      'dynamo_node_anti_entropy_keys_repaired_total',
      'dynamo_node_disk_free_bytes',
      'dynamo_node_journal_group_commits_total',
      'dynamo_node_journal_append_seconds',
      'dynamo_node_tombstones_reaped_total',
      'dynamo_node_transfer_active',
      'dynamo_node_transfer_keys_left',
      'dynamo_node_transfer_bytes_left',
      'dynamo_node_transfer_rate_bytes_per_second',
      'dynamo_node_transfer_eta_seconds',
      'dynamo_node_transfer_sent_bytes',
      'dynamo_node_hints_redirected_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
    ]) {
      t.true(nf.has(f), `${id} exports ${f}`)
    }
    t.true(value(node.text, 'dynamo_node_gossip_rounds_total') > 0, `${id} gossiped`)
    t.true(value(node.text, 'dynamo_node_journal_group_commits_total') > 0, `${id} committed`)
    t.true(value(node.text, 'dynamo_node_journal_append_seconds_count') > 0, `${id} timed its journal appends`)
    t.true(value(node.text, 'dynamo_node_disk_free_bytes') > 0)
    t.true(value(node.text, 'dynamo_node_store_bytes{part="metadata"}') > 0, `${id} measured its metadata`)
    t.false(node.text.includes('zqmetrics'), `no bucket or key name in ${id}'s metrics`)
    promtool(t, id, node.text)
  }
})

test.serial('a proxy without --metrics-token serves /metrics to anyone', async (t) => {
  const open = await cluster.startProxy('proxy-open')
  const res = await scrape(open, null)
  t.is(res.status, 200)
  t.true(families(res.text).has('dynamo_proxy_requests_total'))
})

test.serial('a replica left stale is repaired by the next read, and the read-repair counter moves', async (t) => {
  const key = 'zqmetricsrepair'
  const first = await put(cluster.url, BUCKET, key, 'old', {}, '?w=3')
  t.is(first.status, 201)
  const prefList = ((await first.json()) as { pref_list: string[] }).pref_list
  const fresh = prefList[0] as string
  // A newer version on one replica only, made through its internal API: the other two are stale.
  const held = await heldBy(cluster, fresh, BUCKET, key)
  const context = { vv: {}, dots: held.map((v) => v.dot) }
  await internalClient(cluster).coordinate(nodeRef(cluster, fresh), BUCKET, key, { context, tombstone: false, contentType: 'text/plain' }, { buffer: Buffer.from('new') })
  const before = value((await scrape(cluster.url)).text, 'dynamo_proxy_read_repairs_total')
  const read = await get(cluster.url, BUCKET, key, '?r=3')
  t.is(await read.text(), 'new')
  for (const id of prefList) {
    await eventually(async () => (await heldBy(cluster, id, BUCKET, key)).length === 1, 10_000, `${id} repaired`)
  }
  const after = value((await scrape(cluster.url)).text, 'dynamo_proxy_read_repairs_total')
  // At least one by the read: under load anti-entropy may repair the other stale replica first.
  t.true(after >= before + 1, `the read's repairs counted (${before} -> ${after})`)
})

test.serial('the S3 port counts requests by operation, method and status, never by bucket or key', async (t) => {
  // Unsigned: refused (403), which is enough to see them counted under their operation.
  for (const [method, path] of [
    ['GET', '/'],
    ['GET', `/${BUCKET}/zqmetricss3key`],
    ['PUT', `/${BUCKET}/zqmetricss3key`],
    ['GET', `/${BUCKET}?list-type=2`],
  ] as const) {
    const res = await fetch(`${cluster.s3Url}${path}`, { method, ...(method === 'PUT' ? { body: 'x' } : {}) })
    t.is(res.status, 403, `${method} ${path}`)
    await res.arrayBuffer()
  }
  const text = (await scrape(cluster.url)).text
  for (const op of ['ListBuckets', 'GetObject', 'PutObject', 'ListObjectsV2']) {
    t.true(value(text, `dynamo_proxy_s3_requests_total{operation="${op}",`) >= 1, `${op} counted`)
    t.regex(text, new RegExp(`dynamo_proxy_s3_request_duration_seconds_count\\{operation="${op}"\\} [1-9]`))
  }
  t.is(value(text, 'dynamo_proxy_s3_requests_total{operation="GetObject",method="GET",status="403"}'), 1)
  t.false(text.includes('zqmetrics'), 'no bucket or key name in the S3 metrics')
  promtool(t, 'the proxy after S3 requests', text)
})

test.serial('with --metrics off, /metrics answers 404 on a proxy and a node, which serve as before', async (t) => {
  const off = await cluster.startProxy('proxy-metrics-off', ['--membership-poll-ms', '200', '--metrics', 'off'])
  t.is((await scrape(off, null)).status, 404)
  t.is((await scrape(off)).status, 404)
  const read = await cluster.fetch(`${off}/buckets/${BUCKET}/files/${KEY}`)
  t.is(await read.text(), 'resolved')
  const nodeArgs = cluster.layout.nodeArgs
  cluster.layout = { ...cluster.layout, nodeArgs: [...(nodeArgs ?? []), '--metrics', 'off'] }
  try {
    await cluster.stop('node-4', 'SIGTERM')
    await cluster.restart('node-4')
  } finally {
    cluster.layout = { ...cluster.layout, nodeArgs }
  }
  t.is((await scrape(cluster.nodeUrl('node-4'))).status, 404)
  t.is((await fetch(`${cluster.nodeUrl('node-4')}/health`)).status, 200)
})
