/** Metadata kept with a version (x-amz-meta-*, Content-Encoding, Disposition, Language, Cache-Control, Expires): stored once, answered by every replica. */
import test from 'ava'
import { TestCluster } from '../../devtools/test-cluster.js'

let cluster: TestCluster

test.before(async () => {
  cluster = await TestCluster.start(4)
  if ((await cluster.fetch('/buckets/meta', { method: 'POST' })).status !== 201) throw new Error('bucket')
})
test.after.always(async () => {
  await cluster?.teardown()
})

const headers = {
  'content-type': 'text/plain',
  'x-amz-meta-color': 'blue',
  'x-amz-meta-Owner-Name': 'Ada',
  // Not one fetch decodes (gzip, br, deflate): the bytes are not encoded.
  'content-encoding': 'x-custom',
  'content-language': 'fr',
  'cache-control': 'max-age=60',
  expires: 'Wed, 21 Oct 2026 07:28:00 GMT',
}

test.serial('metadata sent with a PUT comes back on GET and HEAD, from any replica', async (t) => {
  for (const size of [5, 100_000]) {
    const put = await cluster.fetch(`/buckets/meta/files/k${size}`, { method: 'PUT', body: Buffer.alloc(size, 1), headers })
    t.is(put.status, 201)
    const { pref_list: prefs } = (await put.json()) as { pref_list: string[] }
    for (const method of ['GET', 'HEAD']) {
      const res = await cluster.fetch(`/buckets/meta/files/k${size}`, { method })
      await res.arrayBuffer()
      t.is(res.headers.get('x-amz-meta-color'), 'blue')
      t.is(res.headers.get('x-amz-meta-owner-name'), 'Ada', 'names are kept lower-cased, as HTTP headers are')
      t.is(res.headers.get('content-encoding'), 'x-custom')
      t.is(res.headers.get('content-language'), 'fr')
      t.is(res.headers.get('cache-control'), 'max-age=60')
      t.is(res.headers.get('expires'), headers.expires)
    }
    // The coordinator gone, another replica answers with the same metadata.
    await cluster.stop(prefs[0] as string)
    await cluster.waitForStatus(prefs[0] as string, 'down')
    const res = await cluster.fetch(`/buckets/meta/files/k${size}?r=1`)
    await res.arrayBuffer()
    t.is(res.headers.get('x-amz-meta-color'), 'blue')
    await cluster.restart(prefs[0] as string)
    await cluster.waitForStatus(prefs[0] as string, 'up')
  }
})

test.serial('user metadata past 2 KiB is refused and nothing is stored; an active type stays a download whatever disposition it was stored with', async (t) => {
  const big = await cluster.fetch('/buckets/meta/files/big-meta', { method: 'PUT', body: 'x', headers: { 'x-amz-meta-a': 'v'.repeat(2100) } })
  t.is(big.status, 400)
  t.is(((await big.json()) as { error: { code: string } }).error.code, 'MetadataTooLarge')
  t.is((await cluster.fetch('/buckets/meta/files/big-meta')).status, 404)
  t.is((await cluster.fetch('/buckets/meta/files/page.html', { method: 'PUT', body: '<p>x</p>', headers: { 'content-type': 'text/html', 'content-disposition': 'inline' } })).status, 201)
  const res = await cluster.fetch('/buckets/meta/files/page.html')
  await res.arrayBuffer()
  t.regex(res.headers.get('content-disposition') ?? '', /^attachment/)
})
