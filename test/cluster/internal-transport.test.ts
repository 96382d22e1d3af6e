/**
 * The two internal transports end to end: a cluster with the RPC channel switched off (every call
 * one HTTP request) serves the same flow, and a node with open RPC channels stops promptly on
 * SIGTERM (the HTTP server alone would wait for the upgraded connections forever).
 */
import test from 'ava'
import { isAlive, runningPid } from '../../cluster-ctl/launcher.js'
import { TestCluster } from '../../devtools/test-cluster.js'
import { createBucket, fetch, get, put } from '../helpers/http.js'

test('with --internal-rpc off: writes, overwrites, siblings, a killed replica and deletes work over HTTP alone', async (t) => {
  const cluster = await TestCluster.start(4, { nodeArgs: ['--internal-rpc', 'off', '--handoff-schedule', '*/1 * * * * *'], proxyArgs: ['--internal-rpc', 'off'] })
  t.teardown(() => cluster.teardown())
  await createBucket(cluster.url, 'http-only')
  t.is((await put(cluster.url, 'http-only', 'a', 'one')).status, 201)
  t.is((await put(cluster.url, 'http-only', 'a', 'two')).status, 201)
  const first = await get(cluster.url, 'http-only', 'a')
  t.is(await first.text(), 'two')
  const context = first.headers.get('x-context') ?? ''
  t.is((await put(cluster.url, 'http-only', 'a', 'left', { 'x-context': context })).status, 201)
  t.is((await put(cluster.url, 'http-only', 'a', 'right', { 'x-context': context })).status, 201)
  t.is((await get(cluster.url, 'http-only', 'a')).status, 300)
  await cluster.stop('node-2')
  for (let i = 0; i < 20; i++) t.is((await put(cluster.url, 'http-only', `k${i}`, `v${i}`)).status, 201)
  await cluster.restart('node-2')
  for (let i = 0; i < 20; i++) t.is(await (await get(cluster.url, 'http-only', `k${i}`)).text(), `v${i}`)
  t.is((await fetch(`${cluster.url}/buckets/http-only/files/k0`, { method: 'DELETE' })).status, 200)
  t.is((await get(cluster.url, 'http-only', 'k0')).status, 404)
})

test('a node holding RPC channels stops within seconds of SIGTERM', async (t) => {
  const cluster = await TestCluster.start(4)
  t.teardown(() => cluster.teardown())
  await createBucket(cluster.url, 'rpc-stop')
  // Writes and reads open the proxy's channels to every node (and handoff, the nodes' own).
  for (let i = 0; i < 40; i++) t.is((await put(cluster.url, 'rpc-stop', `k${i}`, `v${i}`)).status, 201)
  for (let i = 0; i < 40; i++) t.is((await get(cluster.url, 'rpc-stop', `k${i}`)).status, 200)
  const pid = runningPid(cluster.layout, 'node-3')
  if (pid === undefined) return t.fail('node-3 is not running')
  const sent = Date.now()
  process.kill(pid, 'SIGTERM')
  while (isAlive(pid) && Date.now() - sent < 10_000) await new Promise((r) => setTimeout(r, 50))
  t.false(isAlive(pid), 'node-3 still running 10 s after SIGTERM')
  t.log(`node-3 exited ${Date.now() - sent} ms after SIGTERM`)
  t.true(Date.now() - sent < 5000)
})
