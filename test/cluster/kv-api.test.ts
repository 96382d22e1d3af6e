/** Seed 002's key-value API on the replicated store: the seed's documented requests and answers, mixed batches, binary round trips, and a batch during a node outage. */
import { randomBytes } from 'node:crypto'
import test from 'ava'
import { TestCluster } from '../../devtools/test-cluster.js'

let cluster: TestCluster
test.before(async () => {
  cluster = await TestCluster.start(4)
})
test.after.always(async () => {
  await cluster?.teardown()
})

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown; headers: Headers }> {
  const res = await cluster.fetch(path, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' } })
  return { status: res.status, json: await res.json(), headers: res.headers }
}

const s = (data: string) => ({ encoding: 'string', data })
const b = (buf: Buffer) => ({ encoding: 'binary', data: buf.toString('base64') })

test('the seed README requests and answers', async (t) => {
  const set = await call('PUT', '/set', [{ key: s('key1'), value: s('data1') }])
  t.is(set.status, 200)
  t.deepEqual(set.json, [{ keys_added: 1, keys_failed: [] }])
  const fetched = (await call('POST', '/fetch', [s('key1')])).json as { key: unknown; value: unknown; vector_clock: unknown; context: string }[]
  t.is(fetched.length, 1)
  t.deepEqual(fetched[0]?.key, s('key1'))
  t.deepEqual(fetched[0]?.value, s('data1'))
  t.is(typeof fetched[0]?.vector_clock, 'object')
  t.truthy(fetched[0]?.context)
  t.deepEqual((await call('POST', '/query', [s('key1'), s('key2')])).json, [
    { key: s('key1'), value: true },
    { key: s('key2'), value: false },
  ])
  const all = (await call('GET', '/fetch')).json as { key: unknown; value: unknown }[]
  t.true(all.some((p) => JSON.stringify(p.key) === JSON.stringify(s('key1')) && JSON.stringify(p.value) === JSON.stringify(s('data1'))))
})

test('a mixed batch fails only its bad keys; binary values round-trip byte for byte', async (t) => {
  const blobs = Array.from({ length: 20 }, (_, i) => randomBytes(4 + i * 200))
  const batch: unknown[] = blobs.map((v, i) => ({ key: b(Buffer.from([0, 1, 2, i])), value: b(v) }))
  batch.push({ key: { encoding: 'hex', data: 'ff' }, value: s('x') }, { key: s('ok'), value: { encoding: 'binary', data: '%%%' } }, { key: s(''), value: s('x') }, { value: s('no key') }, 'garbage')
  const set = (await call('PUT', '/set', batch)).json as { keys_added: number; keys_failed: { reason: string }[] }[]
  t.is(set[0]?.keys_added, 20)
  t.is(set[0]?.keys_failed.length, 5)
  const got = (
    await call(
      'POST',
      '/fetch',
      blobs.map((_, i) => b(Buffer.from([0, 1, 2, i]))),
    )
  ).json as { value: { encoding: string; data: string } }[]
  got.forEach((p, i) => {
    t.deepEqual(Buffer.from(p.value.data, 'base64'), blobs[i])
  })
})

test('batches past the bound are 413; non-arrays and bad JSON are 400', async (t) => {
  const big = Array.from({ length: 1001 }, (_, i) => ({ key: s(`k${i}`), value: s('v') }))
  t.is((await call('PUT', '/set', big)).status, 413)
  t.is((await call('PUT', '/set', { key: s('k'), value: s('v') })).status, 400)
  const res = await cluster.fetch('/set', { method: 'PUT', body: '[{"key": ' })
  t.is(res.status, 400)
})

test('GET /fetch pages with ?limit= and X-Next-Cursor', async (t) => {
  await call(
    'PUT',
    '/set',
    Array.from({ length: 30 }, (_, i) => ({ key: s(`page-${String(i).padStart(2, '0')}`), value: s(`v${i}`) })),
  )
  const seen = new Set<string>()
  let cursor = ''
  for (let i = 0; i < 50; i++) {
    const page = await call('GET', `/fetch?limit=7${cursor ? `&cursor=${cursor}` : ''}`)
    for (const p of page.json as { key: { data: string } }[]) seen.add(p.key.data)
    cursor = page.headers.get('x-next-cursor') ?? ''
    if (!cursor) break
  }
  for (let i = 0; i < 30; i++) t.true(seen.has(`page-${String(i).padStart(2, '0')}`))
})

test('a batch during a node outage still succeeds with W=2', async (t) => {
  await cluster.stop('node-2', 'SIGKILL')
  await cluster.waitForStatus('node-2', 'down')
  const set = (
    await call(
      'PUT',
      '/set',
      Array.from({ length: 100 }, (_, i) => ({ key: s(`outage-${i}`), value: s(`v${i}`) })),
    )
  ).json as { keys_added: number }[]
  t.is(set[0]?.keys_added, 100)
  const got = (
    await call(
      'POST',
      '/fetch',
      Array.from({ length: 100 }, (_, i) => s(`outage-${i}`)),
    )
  ).json as { value: { data: string } }[]
  got.forEach((p, i) => {
    t.is(p.value.data, `v${i}`)
  })
  await cluster.restart('node-2')
})
