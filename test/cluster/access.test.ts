/**
 * Access keys against real processes (issue 27): every route refuses an anonymous caller (walked
 * from the proxy's own router), bad keys and secrets are refused, grants are honoured, a revoke
 * reaches a second proxy within 5 s, keys survive a proxy restart, and no refused request stores
 * or deletes anything.
 */
import Router from '@koa/router'
import test from 'ava'
import { createProxyRouter, type ProxyAppComponents, type ProxyAppConfig } from '../../proxy/app.js'
import { routeNeeds } from '../../proxy/access/guarded-router.js'
import { proxySpec, startProcess, stopProcesses, waitHealthy, freePorts } from '../../cluster-ctl/launcher.js'
import { TestCluster } from '../../devtools/test-cluster.js'
import { presignUrl, signHeaders } from '../../shared/sigv4/signer.js'
import type { Credentials } from '../../shared/config/credentials-file.js'

let cluster: TestCluster
let admin: Credentials

test.before(async () => {
  cluster = await TestCluster.start(4)
  if (!cluster.credentials) throw new Error('the launcher made no admin key')
  admin = cluster.credentials
})
test.after.always(async () => {
  await cluster?.teardown()
})

/** The secret with its last character changed (to another one, whatever it was). */
const wrongSecret = (secret: string) => `${secret.slice(0, 39)}${secret.endsWith('x') ? 'y' : 'x'}`

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`

async function makeKey(name: string, flags: { admin?: boolean; createBuckets?: boolean } = {}): Promise<{ id: string; secret: string }> {
  const res = await cluster.fetch('/admin/keys', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, ...flags }) })
  const body = (await res.json()) as { key: { id: string }; secret: string }
  if (res.status !== 201) throw new Error(`key create: ${res.status} ${JSON.stringify(body)}`)
  return { id: body.key.id, secret: body.secret }
}

async function allow(bucket: string, id: string, allowed: string[], deny: string[] = []): Promise<void> {
  const res = await cluster.fetch(`/admin/buckets/${bucket}/grants/${id}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ allow: allowed, deny }) })
  if (res.status !== 200) throw new Error(`grant: ${res.status} ${await res.text()}`)
}

async function code(res: Response): Promise<string> {
  const text = await res.text()
  try {
    return (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? ''
  } catch {
    return text
  }
}

const as = (k: { id: string; secret: string }) => ({ authorization: basic(k.id, k.secret) })

test.serial('an anonymous request is refused with 401 on every route but health, and stores nothing', async (t) => {
  t.is((await cluster.fetch('/buckets/walk', { method: 'POST' })).status, 201)
  t.is((await cluster.fetch('/buckets/walk/files/kept', { method: 'PUT', body: 'kept' })).status, 201)
  const router = createProxyRouter({ catalog: {} } as unknown as ProxyAppComponents, { kv: {}, corsOrigins: [] } as unknown as ProxyAppConfig)
  t.true(router instanceof Router)
  const routes = routeNeeds(router)
  t.true(routes.length >= 20, `${routes.length} routes`)
  let tried = 0
  for (const r of routes) {
    const path = r.path.replace(':bucket', 'walk').replace('*key', 'probe').replace(':id', 'DKAAAAAAAAAAAAAAAAAA')
    for (const method of r.methods) {
      const res = await cluster.fetch(path, { method, anonymous: true, ...(method === 'GET' || method === 'HEAD' ? {} : { body: 'x' }) })
      tried++
      if ('open' in (r.need ?? {})) t.is(res.status, 200, `${method} ${path}`)
      else {
        t.is(res.status, 401, `${method} ${path}`)
        t.falsy(res.headers.get('www-authenticate')?.toLowerCase().startsWith('basic'), 'never WWW-Authenticate: Basic')
        if (method !== 'HEAD') t.regex(await res.text(), /aws-sigv4/, 'the message says how to authenticate')
      }
    }
  }
  t.log(`${tried} anonymous requests over ${routes.length} routes`)
  t.is((await cluster.fetch('/buckets/walk/files/probe')).status, 404, 'nothing was stored')
  t.is(await (await cluster.fetch('/buckets/walk/files/kept')).text(), 'kept', 'nothing was deleted')
  t.is((await cluster.fetch('/health', { anonymous: true })).status, 200)
})

test.serial('unknown key ids, wrong secrets, old and expired signatures are refused', async (t) => {
  const bogus = { accessKeyId: 'DKZZZZZZZZZZZZZZZZZZ', secretAccessKey: admin.secretAccessKey, region: 'us-east-1' }
  t.is(await code(await cluster.fetch('/buckets', { headers: { authorization: basic(bogus.accessKeyId, bogus.secretAccessKey) } })), 'InvalidAccessKeyId')
  t.is(await code(await cluster.fetch('/buckets', { headers: { authorization: basic(admin.accessKeyId, wrongSecret(admin.secretAccessKey)) } })), 'SignatureDoesNotMatch')
  const url = new URL(`${cluster.url}/buckets`)
  const signed = signHeaders({ ...admin }, { method: 'GET', url })
  t.is((await cluster.fetch(url.href, { headers: signed })).status, 200, 'SigV4 in the header')
  const wrong = signHeaders({ ...admin, secretAccessKey: wrongSecret(admin.secretAccessKey) }, { method: 'GET', url })
  t.is(await code(await cluster.fetch(url.href, { headers: wrong })), 'SignatureDoesNotMatch')
  const old = signHeaders({ ...admin }, { method: 'GET', url }, new Date(Date.now() - 16 * 60_000))
  t.is(await code(await cluster.fetch(url.href, { headers: old })), 'RequestTimeTooSkewed', 'a captured request replayed 16 minutes later')
  const presigned = presignUrl({ ...admin }, { method: 'GET', url, expiresSeconds: 60 })
  t.is((await fetch(presigned)).status, 200, 'a presigned URL, with no other credentials')
  const expired = presignUrl({ ...admin }, { method: 'GET', url, expiresSeconds: 60 }, new Date(Date.now() - 120_000))
  t.is(await code(await fetch(expired)), 'AccessDenied')
  const tampered = new URL(presigned)
  tampered.pathname = '/cluster'
  t.is(await code(await fetch(tampered)), 'SignatureDoesNotMatch')
})

test.serial('read-only and write-only grants: each refused what it lacks, nothing stored or deleted', async (t) => {
  t.is((await cluster.fetch('/buckets/granted', { method: 'POST' })).status, 201)
  t.is((await cluster.fetch('/buckets/granted/files/a', { method: 'PUT', body: 'original' })).status, 201)
  const reader = await makeKey('reader')
  const writer = await makeKey('writer')
  const stranger = await makeKey('stranger')
  await allow('granted', reader.id, ['read'])
  await allow('granted', writer.id, ['write'])
  t.is((await cluster.fetch('/buckets/granted/files/a', { headers: as(reader) })).status, 200)
  t.is(await code(await cluster.fetch('/buckets/granted/files/a', { method: 'PUT', body: 'overwritten', headers: as(reader) })), 'AccessDenied')
  t.is(await code(await cluster.fetch('/buckets/granted/files/a', { method: 'DELETE', headers: as(reader) })), 'AccessDenied')
  t.is(await code(await cluster.fetch('/buckets/granted', { method: 'DELETE', headers: as(reader) })), 'AccessDenied')
  t.is((await cluster.fetch('/buckets/granted/files/b', { method: 'PUT', body: 'new', headers: as(writer) })).status, 201)
  t.is(await code(await cluster.fetch('/buckets/granted/files/a', { headers: as(writer) })), 'AccessDenied')
  t.is(await code(await cluster.fetch('/buckets/granted/files', { headers: as(writer) })), 'AccessDenied')
  t.is(await code(await cluster.fetch('/buckets/granted/files/a', { headers: as(stranger) })), 'AccessDenied')
  t.is(await code(await cluster.fetch('/buckets/made-by-stranger', { method: 'POST', headers: as(stranger) })), 'AccessDenied')
  t.is(await code(await cluster.fetch('/admin/keys', { headers: as(reader) })), 'AccessDenied')
  t.is(
    await code(await cluster.fetch(`/admin/buckets/granted/grants/${reader.id}`, { method: 'POST', headers: { ...as(reader), 'content-type': 'application/json' }, body: '{"allow":["write"]}' })),
    'AccessDenied',
  )
  t.is(await (await cluster.fetch('/buckets/granted/files/a')).text(), 'original', 'nothing overwritten or deleted')
  const listed = (await (await cluster.fetch('/buckets', { headers: as(reader) })).json()) as { buckets: { name: string }[] }
  t.deepEqual(
    listed.buckets.map((b) => b.name),
    ['granted'],
    'a key lists only the buckets it may read',
  )
})

test.serial('a bucket creator owns it and may grant; a public bucket serves objects, not listings, without a key', async (t) => {
  const creator = await makeKey('creator', { createBuckets: true })
  const friend = await makeKey('friend')
  t.is((await cluster.fetch('/buckets/owned', { method: 'POST', headers: as(creator) })).status, 201)
  t.is((await cluster.fetch('/buckets/owned/files/pic', { method: 'PUT', body: 'pic', headers: as(creator) })).status, 201)
  const info = (await (await cluster.fetch('/admin/buckets/owned', { headers: as(creator) })).json()) as { owner: string }
  t.is(info.owner, creator.id)
  const res = await cluster.fetch(`/admin/buckets/owned/grants/${friend.id}`, { method: 'POST', headers: { ...as(creator), 'content-type': 'application/json' }, body: '{"allow":["read"]}' })
  t.is(res.status, 200)
  t.is((await cluster.fetch('/buckets/owned/files/pic', { headers: as(friend) })).status, 200)
  t.is((await cluster.fetch('/buckets/owned/files/pic', { anonymous: true })).status, 401)
  t.is((await cluster.fetch('/admin/buckets/owned/public', { method: 'PUT', headers: { ...as(creator), 'content-type': 'application/json' }, body: '{"public":true}' })).status, 200)
  t.is(await (await cluster.fetch('/buckets/owned/files/pic', { anonymous: true })).text(), 'pic')
  t.is((await cluster.fetch('/buckets/owned/files/pic', { method: 'HEAD', anonymous: true })).status, 200)
  t.is((await cluster.fetch('/buckets/owned/files', { anonymous: true })).status, 401, 'no listing')
  t.is((await cluster.fetch('/buckets/owned/files/new', { method: 'PUT', body: 'x', anonymous: true })).status, 401, 'no writes')
})

test.serial('a body that does not hash to its signed x-amz-content-sha256 is refused and nothing is stored', async (t) => {
  t.is((await cluster.fetch('/buckets/hashed', { method: 'POST' })).status, 201)
  for (const size of [10, 1024 * 1024]) {
    const body = Buffer.alloc(size, 7)
    const url = new URL(`${cluster.url}/buckets/hashed/files/f${size}`)
    const lie = '0'.repeat(64)
    const headers = signHeaders({ ...admin }, { method: 'PUT', url, payloadHash: lie })
    const res = await fetch(url, { method: 'PUT', body, headers })
    t.is(res.status, 400, `${size} bytes`)
    t.is(await code(res), 'XAmzContentSHA256Mismatch')
    t.is((await cluster.fetch(`/buckets/hashed/files/f${size}`)).status, 404, 'nothing stored')
    const { createHash } = await import('node:crypto')
    const good = signHeaders({ ...admin }, { method: 'PUT', url, payloadHash: createHash('sha256').update(body).digest('hex') })
    t.is((await fetch(url, { method: 'PUT', body, headers: good })).status, 201)
  }
})

test.serial('a write from another site is refused, whatever its key', async (t) => {
  const res = await cluster.fetch('/buckets/csrf', { method: 'POST', headers: { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' } })
  t.is(res.status, 403)
  t.is((await cluster.fetch('/buckets/csrf')).status, 404, 'nothing created')
})

test.serial('a revoked key stops working on a second proxy within 5 s, and keys survive a proxy restart', async (t) => {
  const [port] = await freePorts(1)
  const second = { ...proxySpec({ ...cluster.layout, proxyPort: port as number, s3Port: undefined }), name: 'proxy-2' }
  startProcess(cluster.layout, second)
  try {
    await waitHealthy([second.healthUrl])
    const base2 = `http://127.0.0.1:${port}`
    const k = await makeKey('short-lived', { admin: true })
    t.is((await fetch(`${base2}/buckets`, { headers: as(k) })).status, 200, 'a key made on one proxy works on the other')
    const res = await cluster.fetch(`/admin/keys/${k.id}`, { method: 'DELETE' })
    t.is(res.status, 200)
    const revokedAt = Date.now()
    let refusedAfter = -1
    while (Date.now() - revokedAt < 10_000) {
      if ((await fetch(`${base2}/buckets`, { headers: as(k) })).status === 403) {
        refusedAfter = Date.now() - revokedAt
        break
      }
      await new Promise((r) => setTimeout(r, 50))
    }
    t.log(`revoke seen by the second proxy after ${refusedAfter} ms`)
    t.true(refusedAfter >= 0 && refusedAfter <= 5000, `refused after ${refusedAfter} ms`)
  } finally {
    await stopProcesses(cluster.layout, ['proxy-2'], 'SIGKILL')
  }
  await cluster.stop('proxy')
  await cluster.restart('proxy')
  t.is((await cluster.fetch('/buckets')).status, 200, 'the admin key works after a restart')
})

test.serial('curl --aws-sigv4 uploads with -T and with --data-binary, and reads back', async (t) => {
  const { execFileSync } = await import('node:child_process')
  try {
    execFileSync('curl', ['--version'])
  } catch {
    t.log('curl is not installed: skipped (.ci/run installs it as root)')
    return t.pass()
  }
  t.is((await cluster.fetch('/buckets/curled', { method: 'POST' })).status, 201)
  const { mkdtempSync, writeFileSync } = await import('node:fs')
  const file = `${mkdtempSync('/tmp/curl-')}/body.txt`
  writeFileSync(file, 'uploaded with -T')
  const curl = (...args: string[]) =>
    execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--aws-sigv4', 'aws:amz:us-east-1:s3', '--user', `${admin.accessKeyId}:${admin.secretAccessKey}`, ...args], {
      encoding: 'utf8',
    })
  t.is(curl('-T', file, `${cluster.url}/buckets/curled/files/t.txt`), '201')
  t.is(curl('-X', 'PUT', '--data-binary', 'uploaded with --data-binary', `${cluster.url}/buckets/curled/files/d.txt`), '201')
  t.is(await (await cluster.fetch('/buckets/curled/files/t.txt')).text(), 'uploaded with -T')
  t.is(await (await cluster.fetch('/buckets/curled/files/d.txt')).text(), 'uploaded with --data-binary')
  t.is(curl(`${cluster.url}/buckets/curled/files/a%20key%2Bwith%26odd%3Dchars?r=2`), '404', 'an encoded key and a query sign and verify (404: no such file)')
})

// Last: it stops every node.
test.serial('an object stays readable from its one live replica: the bucket record and the keys are on every member', async (t) => {
  t.is((await cluster.fetch('/buckets/lonely', { method: 'POST' })).status, 201)
  const put = await cluster.fetch('/buckets/lonely/files/k?w=3', { method: 'PUT', body: 'still here' })
  t.is(put.status, 201)
  const { pref_list: prefs } = (await put.json()) as { pref_list: string[] }
  const survivor = prefs[0] as string
  const others = ['node-1', 'node-2', 'node-3', 'node-4'].filter((n) => n !== survivor)
  for (const n of others) await cluster.stop(n)
  for (const n of others) await cluster.waitForStatus(n, 'down')
  const res = await cluster.fetch('/buckets/lonely/files/k?r=1')
  t.is(res.status, 200, `with only ${survivor} up`)
  t.is(await res.text(), 'still here')
  // And with no member left, the proxy stops acting on what it last read (5 s) instead of serving stale grants.
  await cluster.stop(survivor)
  const deadline = Date.now() + 15_000
  let status = 0
  while (Date.now() < deadline) {
    status = (await cluster.fetch('/buckets')).status
    if (status === 503) break
    await new Promise((r) => setTimeout(r, 250))
  }
  t.is(status, 503)
})
