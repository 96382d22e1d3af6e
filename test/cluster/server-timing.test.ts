/**
 * `Server-Timing` on native answers (total, quorum wait, each replica call with node and status)
 * and `?trace=1` on writes, with real processes.
 */
import test from 'ava'
import { TestCluster } from '../../devtools/test-cluster.js'
import { TraceSchema } from '../../shared/wire/trace.js'

let cluster: TestCluster

test.before(async () => {
  cluster = await TestCluster.start(4, { proxyArgs: ['--server-timing', 'on'] })
})
test.after.always(async () => {
  await cluster?.teardown()
})

/** The header's entries as [name, params]. */
function entries(header: string | null): { name: string; desc?: string; dur: number }[] {
  return (header ?? '').split(', ').map((part) => {
    const [name, ...params] = part.split(';')
    const desc = params.find((p) => p.startsWith('desc='))?.slice(6, -1)
    const dur = Number(params.find((p) => p.startsWith('dur='))?.slice(4))
    return { name: name as string, dur, ...(desc === undefined ? {} : { desc }) }
  })
}

test.serial('a PUT and a GET name total, quorum and each replica call; ?trace=1 gives the same as JSON', async (t) => {
  t.is((await cluster.fetch('/buckets/timed', { method: 'POST' })).status, 201)
  const put = await cluster.fetch('/buckets/timed/files/a?trace=1', { method: 'PUT', body: 'hello' })
  t.is(put.status, 201)
  const header = entries(put.headers.get('server-timing'))
  t.is(header[0]?.name, 'total')
  t.is(header[1]?.name, 'quorum')
  const replicas = header.filter((e) => e.name === 'replica')
  t.true(replicas.length >= 2, put.headers.get('server-timing') ?? '')
  for (const r of replicas) {
    t.regex(r.desc ?? '', /^node-\d+ (200|201)$/)
    t.true(r.dur >= 0)
  }
  const body = (await put.json()) as { trace: unknown; pref_list: string[] }
  const trace = TraceSchema.parse(body.trace)
  t.true(trace.quorums >= 1)
  t.true(trace.total_ms >= trace.quorum_ms)
  t.true(trace.replicas.length >= 2)
  t.true(trace.replicas.every((r) => body.pref_list.includes(r.node)))

  const get = await cluster.fetch('/buckets/timed/files/a')
  t.is(await get.text(), 'hello')
  const read = entries(get.headers.get('server-timing'))
  t.true(read.filter((e) => e.name === 'replica').length >= 2)
  // Without ?trace=1 a write's answer has no trace; errors carry the header too.
  t.false('trace' in ((await (await cluster.fetch('/buckets/timed/files/b', { method: 'PUT', body: 'x' })).json()) as object))
  const missing = await cluster.fetch('/buckets/timed/files/none')
  t.is(missing.status, 404)
  t.is(entries(missing.headers.get('server-timing'))[0]?.name, 'total')
})

test.serial('a replica down shows as status 0 in the trace', async (t) => {
  // A proxy that learns membership only at start still believes the node up after it is killed, so it sends the node the write: that call fails.
  // --local-down-ms 0: the proxy's own background calls (the access catalog's refresh) may fail on the node first, and must not take it off the write's list.
  const stale = await cluster.startProxy('proxy-stale-view', ['--membership-poll-ms', '60000', '--local-down-ms', '0', '--server-timing', 'on'])
  const probe = (await (await cluster.fetch(`${stale}/buckets/timed/files/probe`, { method: 'PUT', body: 'x' })).json()) as { pref_list: string[] }
  const down = probe.pref_list[1] as string
  await cluster.stop(down)
  // W=3: the answer waits for the down replica's call to fail (and for the stand-in that replaces it), so the trace always holds it.
  const res = await cluster.fetch(`${stale}/buckets/timed/files/probe?trace=1&w=3`, { method: 'PUT', body: 'y' })
  t.is(res.status, 201)
  const trace = TraceSchema.parse(((await res.json()) as { trace: unknown }).trace)
  const calls = trace.replicas.filter((r) => r.node === down)
  t.true(calls.length >= 1 && calls.every((c) => c.status === 0), JSON.stringify(trace))
})

test.serial('a proxy without --server-timing sends no Server-Timing and refuses ?trace=1 with the reason', async (t) => {
  const base = await cluster.startProxy('proxy-untimed')
  const res = await cluster.fetch(`${base}/buckets`)
  await res.arrayBuffer()
  t.is(res.status, 200)
  t.is(res.headers.get('server-timing'), null)
  const traced = await cluster.fetch(`${base}/buckets/untimed-bucket?trace=1`, { method: 'POST' })
  t.is(traced.status, 400)
  t.regex(await traced.text(), /--server-timing on/)
})
