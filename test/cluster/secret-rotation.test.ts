/**
 * Rotation of the cluster secret without downtime, as docs/operations.md#rotating-the-cluster-secret
 * gives it for `make run` clusters: three rolling restarts (sign OLD and accept NEW; sign NEW and
 * accept OLD; NEW alone), member by member through the launcher, which passes
 * `--previous-secret-file` when run/cluster.secret.previous exists. Writes and reads through the
 * proxy keep succeeding (a background writer runs through every node restart), gossip keeps
 * flowing, nothing is lost, the admin key still opens (the proxy re-sealed it), and at the end a
 * member holding only the old secret is refused.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import { previousSecretFile, secretFile } from '../../cluster-ctl/launcher.js'
import { TestCluster } from '../../devtools/test-cluster.js'
import { MemberSigner } from '../../shared/http/member-signer.js'
import { internalRoutes } from '../../shared/wire/internal-api.js'
import { eventually } from '../helpers/internal.js'

const BUCKET = 'rotation'

/** What the proxy answered to a write or read that did not succeed, and during which step. */
interface Failure {
  step: string
  what: string
}

async function putOk(cluster: TestCluster, key: string, body: string): Promise<string | undefined> {
  try {
    const res = await cluster.fetch(`/buckets/${BUCKET}/files/${key}`, { method: 'PUT', body, signal: AbortSignal.timeout(10_000) })
    return res.status === 201 ? undefined : `PUT ${key}: ${res.status} ${await res.text()}`
  } catch (err) {
    return `PUT ${key}: ${String(err)}`
  }
}

async function getOk(cluster: TestCluster, key: string, body: string): Promise<string | undefined> {
  try {
    const res = await cluster.fetch(`/buckets/${BUCKET}/files/${key}`, { signal: AbortSignal.timeout(10_000) })
    const text = await res.text()
    return res.status === 200 && text === body ? undefined : `GET ${key}: ${res.status} ${text.slice(0, 200)}`
  } catch (err) {
    return `GET ${key}: ${String(err)}`
  }
}

/** `id` as each node sees it: its generation and status (GET /membership is open). */
async function seenBy(cluster: TestCluster, observer: string, id: string): Promise<{ generation: number; status: string } | undefined> {
  const m = (await (await fetch(`${cluster.nodeUrl(observer)}/membership`)).json()) as { members: { id: string; generation: number; status: string }[] }
  return m.members.find((x) => x.id === id)
}

/** Gossip exchanges each node started that failed, so far (GET /health is open). */
async function gossipFailures(cluster: TestCluster, nodes: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const node of nodes) out[node] = ((await (await fetch(`${cluster.nodeUrl(node)}/health`)).json()) as { gossip: { failures: number } }).gossip.failures
  return out
}

/** Restart `name` (stopped with SIGTERM) through the launcher, which reads run/cluster.secret{,.previous} again; a failure names the end of its log. */
async function restart(cluster: TestCluster, name: string): Promise<void> {
  await cluster.stop(name, 'SIGTERM')
  try {
    await cluster.restart(name)
  } catch (err) {
    const log = readFileSync(join(cluster.layout.logDir, `${name}.log`), 'utf8')
      .split('\n')
      .slice(-15)
      .join('\n')
    throw new Error(`${String(err)}\n${name}.log ends with:\n${log}`)
  }
}

/** A member-signed read of a node's internal API, as a member holding `secret` alone: the status. */
async function memberRead(cluster: TestCluster, node: string, secret: string): Promise<number> {
  const address = cluster.nodeUrl(node).replace('http://', '')
  const path = internalRoutes.versions.path(BUCKET, 'k-0')
  const signed = new MemberSigner({ secret, selfId: 'rotation-test' }).sign('GET', path, address, node, {})
  const res = await fetch(`http://${address}${path}`, { headers: signed.headers })
  await res.arrayBuffer()
  return res.status
}

/** How many access-key secrets the proxy's log says it re-sealed (pino lines: {"resealed":n,...}). */
function resealed(log: string): number {
  let n = 0
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const m = /"resealed":(\d+)/.exec(line)
    if (m) n += Number(m[1])
  }
  return n
}

test.serial('a rolling rotation of the cluster secret: no refused write or read, nothing lost, the old secret refused at the end', async (t) => {
  const cluster = await TestCluster.start(4, { nodeArgs: ['--handoff-schedule', '* * * * * *'] })
  t.teardown(() => cluster.teardown())
  const nodes = cluster.layout.nodePorts.map((_, i) => `node-${i + 1}`)
  const OLD = readFileSync(secretFile(cluster.layout), 'utf8').trim()
  const NEW = randomBytes(32).toString('hex')

  const created = await cluster.fetch(`/buckets/${BUCKET}`, { method: 'POST' })
  t.is(created.status, 201, await created.text())
  const written = new Map<string, string>()
  const failures: Failure[] = []
  let step = 'before'
  for (let i = 0; i < 20; i++) {
    const err = await putOk(cluster, `k-${i}`, `value ${i} before the rotation`)
    if (err) failures.push({ step, what: err })
    else written.set(`k-${i}`, `value ${i} before the rotation`)
  }

  // A writer through the proxy for the whole rotation, paused only while the proxy itself restarts (there is one).
  let paused = false
  let running = true
  let n = 0
  const writer = (async () => {
    while (running) {
      if (paused) {
        await new Promise((r) => setTimeout(r, 20))
        continue
      }
      const key = `w-${n++}`
      const body = `${key} written during step ${step}`
      const err = await putOk(cluster, key, body)
      if (err) failures.push({ step, what: err })
      else written.set(key, body)
      await new Promise((r) => setTimeout(r, 10))
    }
  })()

  const steps: { name: string; current: string; previous: string | undefined }[] = [
    { name: '1 (sign OLD, accept NEW)', current: OLD, previous: NEW },
    { name: '2 (sign NEW, accept OLD)', current: NEW, previous: OLD },
    { name: '3 (NEW alone)', current: NEW, previous: undefined },
  ]
  const proxyLog = join(cluster.layout.logDir, 'proxy.log')
  t.teardown(() => {
    running = false
  })
  for (const s of steps) {
    // The documented commands: run/cluster.secret signs, run/cluster.secret.previous is also accepted.
    writeFileSync(secretFile(cluster.layout), s.current, { mode: 0o600 })
    if (s.previous) writeFileSync(previousSecretFile(cluster.layout), s.previous, { mode: 0o600 })
    else rmSync(previousSecretFile(cluster.layout), { force: true })
    for (const node of nodes) {
      step = `${s.name}, ${node} restarting`
      await restart(cluster, node)
      // Gossip (signed) flows both ways between the restarted node and every other, whatever secret each signs with.
      const own = await seenBy(cluster, node, node)
      for (const other of nodes.filter((x) => x !== node)) {
        await eventually(
          async () => {
            const it = await seenBy(cluster, other, node)
            const them = await seenBy(cluster, node, other)
            return it?.generation === own?.generation && it?.status === 'up' && them?.status === 'up'
          },
          15_000,
          `${other} and the restarted ${node} seeing each other up in step ${s.name}`,
        )
      }
      await cluster.waitForStatus(node, 'up')
      // Requests each node starts (its gossip pushes) are accepted by every other: no exchange fails while all are up.
      // (A member's answers teach the asker too, so membership alone would not show a one-way refusal.)
      const before = await gossipFailures(cluster, nodes)
      await new Promise((r) => setTimeout(r, 1500))
      t.deepEqual(await gossipFailures(cluster, nodes), before, `gossip refused in step ${s.name} after ${node}`)
      step = `${s.name}, after ${node}`
      const key = `s-${node}-${s.current === OLD ? 'old' : 'new'}-${s.previous ? 'two' : 'one'}`
      const err = (await putOk(cluster, key, step)) ?? (await getOk(cluster, key, step))
      if (err) failures.push({ step, what: err })
      else written.set(key, step)
    }
    paused = true
    step = `${s.name}, proxy restarting`
    await restart(cluster, 'proxy')
    step = `${s.name}, after the proxy`
    paused = false
    // Started with a previous secret and signing NEW: it re-seals the access-key secrets (the admin key's too) with NEW.
    if (s.current === NEW && s.previous) await eventually(async () => resealed(proxyLog) > 0, 15_000, 'the re-seal of the access keys')
  }
  running = false
  await writer

  t.deepEqual(failures, [], 'every write and read through the proxy succeeded during the rotation')
  t.true(written.size > 20 + 3 * nodes.length, `${written.size} objects written`)
  for (const [key, body] of written) t.is(await getOk(cluster, key, body), undefined)
  // The end: every member holds NEW alone; a member holding only OLD is refused by every node, NEW accepted.
  for (const node of nodes) {
    t.is(await memberRead(cluster, node, OLD), 401, `${node}: OLD refused`)
    t.is(await memberRead(cluster, node, NEW), 200, `${node}: NEW accepted`)
  }
})
