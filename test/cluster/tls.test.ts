/**
 * Mutual TLS between members (--tls-cert/--tls-key/--tls-ca) and HTTPS on the proxy's ports, with
 * real processes started by the launcher's TLS opt-in (certificates in run/tls): the native API and
 * S3 over HTTPS, replication and hinted handoff over TLS member links; and each refusal: a
 * certificate from another CA (at the handshake; such a node never joins), a member showing another
 * member's certificate (HTTP and RPC), a node answering with another id's certificate, a node
 * started with another member's certificate, plain HTTP and TLS without a client certificate (each
 * refused handshake logged by the process that refused it).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import https from 'node:https'
import { connect as netConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import test from 'ava'
import { freePorts, LAUNCHER_MEMBER, nodeSpec, runningPid, startProcess, tlsDir } from '../../cluster-ctl/launcher.js'
import { TestCluster } from '../../devtools/test-cluster.js'
import { InternalTransport } from '../../shared/http/internal-transport.js'
import { NodeClient } from '../../shared/http/node-client.js'
import { RpcClient } from '../../shared/rpc/rpc-client.js'
import { presignUrl } from '../../shared/sigv4/signer.js'
import { memberFiles, tlsInit } from '../../shared/tls/member-certs.js'
import { MemberTls } from '../../shared/tls/member-tls.js'
import { createBucket, fetch, get, put } from '../helpers/http.js'
import { clusterSecret, eventually, heldBy, internalClient, nodeRef, testSigner } from '../helpers/internal.js'

let cluster: TestCluster
/** A second CA and a node-5 certificate it signed: a stranger to the cluster. */
let otherDir: string

test.before(async () => {
  cluster = await TestCluster.start(4, { tls: true, nodeArgs: ['--handoff-schedule', '* * * * * *'], proxyArgs: ['--post-quorum-ms', '1000'] })
  otherDir = mkdtempSync(join(tmpdir(), 'dynamo-other-ca-'))
  tlsInit(otherDir, ['node-5'])
})

test.after.always(async () => {
  await cluster?.teardown()
  if (otherDir) rmSync(otherDir, { recursive: true, force: true })
})

const files = (id: string) => memberFiles(tlsDir(cluster.layout), id)
const address = (id: string) => nodeRef(cluster, id).address
const port = (id: string) => Number(address(id).split(':')[1])

/** A client of the nodes signing as `claims` while showing `certOf`'s certificate. */
function clientAs(claims: string, certOf: string): { nodes: NodeClient; rpc: RpcClient; transport: InternalTransport } {
  const tls = MemberTls.load(files(certOf), certOf)
  const signer = testSigner(clusterSecret(cluster), claims)
  const transport = new InternalTransport({ signer, tls })
  const rpc = new RpcClient({ signer, tls, connectTimeoutMs: 3000 })
  return { nodes: new NodeClient(transport), rpc, transport }
}

test.serial('native API and S3 over HTTPS; writes replicate over TLS member links; hints reach a node back from kill -9', async (t) => {
  t.true(cluster.url.startsWith('https://'))
  t.is((await fetch(`${cluster.url}/health`)).status, 200)
  await createBucket(cluster.url, 'tls-1')
  const res = await put(cluster.url, 'tls-1', 'a', 'over TLS')
  t.is(res.status, 201, await res.clone().text())
  const written = (await res.json()) as { pref_list: string[]; replicas_written: string[] }
  t.is(await (await get(cluster.url, 'tls-1', 'a')).text(), 'over TLS')
  // Every replica holds it, read back over a TLS member link.
  await eventually(async () => (await Promise.all(written.pref_list.map((id) => heldBy(cluster, id, 'tls-1', 'a')))).every((v) => v.length === 1), 15_000, 'every replica holds a')

  // S3 on its own HTTPS port (a presigned PUT and GET: SigV4 over TLS).
  const c = cluster.credentials
  if (!c) throw new Error('no admin key')
  const s3 = (method: string, key: string) => presignUrl(c, { method, url: new URL(`${cluster.s3Url}/tls-1/${key}`), expiresSeconds: 60 })
  t.true(cluster.s3Url.startsWith('https://'))
  t.is((await globalThis.fetch(s3('PUT', 's3-key'), { method: 'PUT', body: 'via S3' })).status, 200)
  t.is(await (await globalThis.fetch(s3('GET', 's3-key'))).text(), 'via S3')

  // A replica down: the write lands on a stand-in with a hint, delivered over TLS once it is back.
  const target = written.pref_list[2] as string
  await cluster.stop(target)
  await cluster.waitForStatus(target, 'down')
  const res2 = await put(cluster.url, 'tls-1', 'a', 'while down', { 'x-context': res.headers.get('x-context') ?? '' })
  t.is(res2.status, 201, await res2.clone().text())
  const answer = (await res2.json()) as { hinted: { node: string; for: string }[] }
  t.true(
    answer.hinted.some((h) => h.for === target),
    JSON.stringify(answer),
  )
  await cluster.restart(target)
  await eventually(
    async () => (await heldBy(cluster, target, 'tls-1', 'a')).length === 1 && (await heldBy(cluster, target, 'tls-1', 'a'))[0]?.size === 'while down'.length,
    20_000,
    `${target} got its hint`,
  )
  t.pass()
})

test.serial('a certificate from another CA fails the handshake, and a node started with one never joins', async (t) => {
  const other = memberFiles(otherDir, 'node-5')
  // Raw TLS with the stranger's certificate (trusting the cluster CA, so only the node can refuse): the node closes
  // the connection (TLS 1.3: after the client's handshake, with an alert) without reading the request.
  const outcome = await new Promise<string>((resolve) => {
    const s = tlsConnect({
      host: '127.0.0.1',
      port: port('node-1'),
      cert: readFileSync(other.certFile),
      key: readFileSync(other.keyFile),
      ca: readFileSync(files('node-1').caFile),
      checkServerIdentity: () => undefined,
    })
    let got = ''
    s.on('secureConnect', () => s.write('GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'))
    s.on('data', (d: Buffer) => {
      got += d.toString()
    })
    s.on('error', (err) => resolve(`error: ${err.message}${got}`))
    s.on('close', () => resolve(got ? `answered: ${got.slice(0, 40)}` : 'closed'))
  })
  t.regex(outcome, /^(error: .*(unknown ca|certificate|ECONNRESET)|closed$)/i, outcome)

  // node-5 with the other CA's certificate (and trusting only it): it runs, but no member takes its gossip.
  const [p5] = await freePorts(1)
  const layout = { ...cluster.layout, nodePorts: [...cluster.layout.nodePorts, p5 as number] }
  const spec = nodeSpec(layout, 5)
  const args = [...spec.args]
  for (const [flag, file] of [
    ['--tls-cert', other.certFile],
    ['--tls-key', other.keyFile],
    ['--tls-ca', other.caFile],
  ] as const)
    args[args.indexOf(flag) + 1] = file
  startProcess(cluster.layout, { ...spec, args, member: undefined })
  for (let i = 0; i < 15; i++) {
    await new Promise((r) => setTimeout(r, 200))
    const view = (await (await cluster.fetch('/cluster')).json()) as { nodes: { id: string }[] }
    t.false(
      view.nodes.some((n) => n.id === 'node-5'),
      'node-5 is not a member',
    )
  }
  t.truthy(runningPid(cluster.layout, 'node-5'), 'node-5 runs (and keeps trying)')
  const members = await internalClient(cluster).membership(address('node-1'))
  t.false(JSON.stringify(members).includes('node-5'))
  await cluster.stop('node-5')
})

test.serial("a member showing another member's certificate is refused, over HTTP and RPC", async (t) => {
  await createBucket(cluster.url, 'tls-2')
  // node-2's certificate, requests signed as node-3: 401 on a signed route, the RPC upgrade refused.
  const liar = clientAs('node-3', 'node-2')
  const refused = await liar.nodes.versions(nodeRef(cluster, 'node-1'), 'tls-2', 'k').then(
    () => 'accepted',
    (err: Error) => err.message,
  )
  t.regex(refused, /401.*node-2's.*signed as node-3/, refused)
  const rpc = await liar.rpc.call('node-1', address('node-1'), { op: 'versions', bucket: 'tls-2', key: 'k', inline: false }, undefined, 3000).then(
    () => 'accepted',
    (err: Error) => err.message,
  )
  t.regex(rpc, /refused: HTTP 401/, rpc)
  liar.nodes.close()
  liar.rpc.close()
  // The same certificate signing as its own member is served (the refusal is the mismatch, not the certificate).
  const honest = clientAs('node-2', 'node-2')
  t.deepEqual((await honest.nodes.versions(nodeRef(cluster, 'node-1'), 'tls-2', 'k')).versions, [])
  const ok = await honest.rpc.call('node-1', address('node-1'), { op: 'versions', bucket: 'tls-2', key: 'k', inline: false }, undefined, 3000)
  t.true(ok.response.ok)
  honest.nodes.close()
  honest.rpc.close()

  // A client refuses a node whose certificate is another member's: node-1's port dialled as node-2.
  const c = clientAs(LAUNCHER_MEMBER, LAUNCHER_MEMBER)
  const wrongNode = await c.transport.text({ address: address('node-1'), target: 'node-2', method: 'GET', path: '/health' }).then(
    (r) => `answered ${r.status}`,
    (err: Error) => err.message,
  )
  t.regex(wrongNode, /node certificate is node-1's, not node-2's/, wrongNode)
  c.transport.close()
  c.rpc.close()

  // A node started as node-6 with node-2's certificate does not start.
  const [p6] = await freePorts(1)
  const f2 = files('node-2')
  const run = spawnSync(
    process.execPath,
    [
      join(cluster.layout.root, 'dist/storage-node/main.js'),
      '--id',
      'node-6',
      '--port',
      String(p6),
      '--data',
      join(cluster.dir, 'node-6'),
      '--secret-file',
      join(cluster.layout.runDir, 'cluster.secret'),
      '--tls-cert',
      f2.certFile,
      '--tls-key',
      f2.keyFile,
      '--tls-ca',
      f2.caFile,
    ],
    { encoding: 'utf8', timeout: 20_000 },
  )
  t.is(run.status, 2, run.stderr)
  t.regex(run.stderr, /names member node-2, not this member \(node-6\)/)
})

test.serial('plain HTTP, and TLS without a client certificate, are refused on a member port', async (t) => {
  // Plain HTTP: no HTTP answer at all.
  await t.throwsAsync(globalThis.fetch(`http://${address('node-1')}/health`, { signal: AbortSignal.timeout(5000) }))
  const plain = await new Promise<string>((resolve) => {
    const s = netConnect(port('node-1'), '127.0.0.1', () => s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'))
    let got = ''
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1')
    })
    s.on('error', () => resolve(got))
    s.on('close', () => resolve(got))
    s.setTimeout(5000, () => s.destroy())
  })
  t.false(plain.startsWith('HTTP/'), plain.slice(0, 80))
  // HTTPS trusting the cluster CA but showing no certificate: refused at the handshake; with the launcher's, served.
  const health = (withCert: boolean) =>
    new Promise<string>((resolve) => {
      const f = files(LAUNCHER_MEMBER)
      const req = https.get(
        `https://${address('node-1')}/health`,
        { agent: false, ca: readFileSync(f.caFile), ...(withCert ? { cert: readFileSync(f.certFile), key: readFileSync(f.keyFile) } : {}), timeout: 5000 },
        (res) => {
          res.resume()
          resolve(`status ${res.statusCode}`)
        },
      )
      req.on('error', (err) => resolve(`error: ${err.message}`))
      req.on('timeout', () => req.destroy(new Error('timeout')))
    })
  const without = await health(false)
  t.regex(without, /^error: .*(certificate|alert|socket hang up|ECONNRESET)/i, without)
  t.is(await health(true), 'status 200')
  // The proxy's public port is HTTPS only too.
  await t.throwsAsync(globalThis.fetch(`http://127.0.0.1:${cluster.layout.proxyPort}/health`, { signal: AbortSignal.timeout(5000) }))
  // Each refusal is in the refusing process's log (one line per remote address a minute), with its reason.
  const refusals = (name: string) =>
    readFileSync(join(cluster.layout.logDir, `${name}.log`), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"TLS handshake refused"'))
      .map((l) => JSON.parse(l) as { remote: string; reason: string; port: number })
  await eventually(async () => refusals('node-1').length > 0 && refusals('proxy').length > 0, 5000, 'refused handshakes logged')
  const logged = refusals('node-1')[0]
  t.is(logged?.remote, '127.0.0.1')
  t.is(logged?.port, port('node-1'))
  t.truthy(logged?.reason)
  t.is(refusals('proxy')[0]?.port, cluster.layout.proxyPort)
})
