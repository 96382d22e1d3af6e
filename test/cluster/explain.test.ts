/**
 * `?explain=1` with real processes: siblings made from one X-Context are shown on every primary
 * with the 300 a GET answers; a stand-in's hint for a killed primary is shown as such; owners and
 * admins may explain, a read-only key gets 403; explaining starts no read repair.
 */
import test from 'ava'
import { TestCluster } from '../../devtools/test-cluster.js'
import { type ExplainAnswer, ExplainAnswerSchema } from '../../shared/wire/explain.js'

let cluster: TestCluster

// No hint delivery nor anti-entropy: only a read could change what a replica holds, and explain must not.
const FROZEN = ['--handoff-schedule', '0 0 0 1 1 *', '--anti-entropy-interval-ms', '0']

test.before(async () => {
  cluster = await TestCluster.start(4, { nodeArgs: FROZEN })
})
test.after.always(async () => {
  await cluster?.teardown()
})

const basic = (k: { id: string; secret: string }) => ({ authorization: `Basic ${Buffer.from(`${k.id}:${k.secret}`).toString('base64')}` })

async function makeKey(name: string, flags: { createBuckets?: boolean } = {}): Promise<{ id: string; secret: string }> {
  const res = await cluster.fetch('/admin/keys', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, ...flags }) })
  const body = (await res.json()) as { key: { id: string }; secret: string }
  if (res.status !== 201) throw new Error(`key create: ${res.status} ${JSON.stringify(body)}`)
  return { id: body.key.id, secret: body.secret }
}

async function putOk(path: string, body: string, headers: Record<string, string> = {}): Promise<{ pref_list: string[] }> {
  const res = await cluster.fetch(path, { method: 'PUT', body, headers })
  if (res.status !== 201) throw new Error(`PUT ${path}: ${res.status} ${await res.text()}`)
  return (await res.json()) as { pref_list: string[] }
}

async function explain(path: string, headers: Record<string, string> = {}): Promise<ExplainAnswer> {
  const res = await cluster.fetch(`${path}?explain=1`, { headers })
  if (res.status !== 200) throw new Error(`explain ${path}: ${res.status} ${await res.text()}`)
  return ExplainAnswerSchema.parse(await res.json())
}

test.serial('siblings from one context: every primary shows both, the read is a 300, an owner may explain and a reader may not', async (t) => {
  const owner = await makeKey('explain-owner', { createBuckets: true })
  t.is((await cluster.fetch('/buckets/ex-sib', { method: 'POST', headers: basic(owner) })).status, 201)
  const path = '/buckets/ex-sib/files/cat.jpg'
  await putOk(path, 'a cat', basic(owner))
  const ctx = (await cluster.fetch(path, { method: 'HEAD', headers: basic(owner) })).headers.get('x-context') ?? ''
  await putOk(path, "alice's cat", { ...basic(owner), 'x-context': ctx })
  await putOk(path, "bob's cat", { ...basic(owner), 'x-context': ctx })

  const e = await explain(path, basic(owner))
  t.log(JSON.stringify(e, null, 2))
  t.is(e.n, 3)
  t.is(e.preference_list.length, 3)
  t.deepEqual(
    e.probes.filter((p) => p.role === 'primary').map((p) => p.node),
    e.preference_list,
  )
  t.is(e.read.status, 300)
  t.is(e.read.siblings, 2)
  t.is(e.reconciled.siblings.length, 2)
  t.deepEqual(e.unanswered, [])
  const sizes = new Set<number>()
  for (const p of e.probes.filter((p) => p.role === 'primary')) {
    t.is(p.outcome, 'ok')
    for (const v of p.versions) {
      sizes.add(v.size)
      // A held version either survives or names a surviving version that supersedes it.
      if (!v.survives) t.true(v.superseded_by.some((s) => e.reconciled.survivors.includes(s.version)))
      else t.deepEqual(v.superseded_by, [])
    }
  }
  t.true(sizes.has("alice's cat".length) && sizes.has("bob's cat".length))
  // The same key as a GET shows it: a 300 with those two siblings.
  const got = await cluster.fetch(path, { headers: basic(owner) })
  t.is(got.status, 300)
  const siblings = ((await got.json()) as { siblings: { version: string }[] }).siblings.map((s) => s.version).sort()
  t.deepEqual(siblings, [...e.reconciled.siblings].sort())

  // HEAD explains with headers only; the admin key may explain too.
  const head = await cluster.fetch(`${path}?explain=1`, { method: 'HEAD', headers: basic(owner) })
  t.is(head.status, 200)
  t.is(await head.text(), '')
  t.is((await explain(path)).read.status, 300)

  const reader = await makeKey('explain-reader')
  const grant = await cluster.fetch(`/admin/buckets/ex-sib/grants/${reader.id}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ allow: ['read'] }) })
  t.is(grant.status, 200)
  t.is((await cluster.fetch(path, { headers: basic(reader) })).status, 300)
  const denied = await cluster.fetch(`${path}?explain=1`, { headers: basic(reader) })
  t.is(denied.status, 403)
  t.is(((await denied.json()) as { error: { code: string } }).error.code, 'AccessDenied')
  t.is((await cluster.fetch(`${path}?explain=1`, { anonymous: true })).status, 401)
})

test.serial('a primary killed: explain shows it unreachable and the hint its stand-in keeps for it; no read repair', async (t) => {
  t.is((await cluster.fetch('/buckets/ex-hint', { method: 'POST' })).status, 201)
  const path = '/buckets/ex-hint/files/probe'
  const first = await putOk(path, 'before')
  const down = first.pref_list[1] as string
  // W=2 may have answered before `down` stored its copy (a loaded machine): kill it only once it holds one.
  for (let i = 0; i < 100 && !(await explain(path)).probes.some((p) => p.node === down && p.versions.length > 0); i++) await new Promise((r) => setTimeout(r, 50))
  await cluster.stop(down, 'SIGKILL')
  await cluster.waitForStatus(down, 'down')
  await putOk(path, 'written while down')

  const e = await explain(path)
  t.log(JSON.stringify(e, null, 2))
  t.deepEqual(e.unanswered, [down])
  const primary = e.probes.find((p) => p.node === down && p.role === 'primary')
  t.is(primary?.outcome, 'unreachable')
  t.is(primary?.member_status, 'down')
  const hints = e.probes.filter((p) => p.role === 'stand-in' && p.hint_for === down && p.versions.length > 0)
  t.is(hints.length, 1)
  const hinted = hints[0]?.versions[0]
  t.is(hinted?.size, 'written while down'.length)
  t.true(hinted?.survives)
  t.is(e.read.status, 200)
  t.is(e.read.version, hinted?.version)
  // Stand-ins hold no hints for live primaries here.
  t.true(e.probes.filter((p) => p.role === 'stand-in' && p.hint_for !== down).every((p) => p.versions.length === 0))

  // Back up with the old version: it is shown superseded by the hinted one, and explaining twice repairs nothing.
  await cluster.restart(down)
  await cluster.waitForStatus(down, 'up')
  for (let i = 0; i < 2; i++) {
    const again = await explain(path)
    const back = again.probes.find((p) => p.node === down && p.role === 'primary')
    t.is(back?.outcome, 'ok')
    const old = back?.versions.find((v) => v.size === 'before'.length)
    t.truthy(old, 'the returned primary still holds the old version: explain repaired nothing')
    t.false(old?.survives)
    t.deepEqual(old?.superseded_by, [{ version: hinted?.version as string, reason: 'covered' }])
    // The hint outlives its primary's return until it is handed off, and is still shown.
    t.true(again.probes.some((p) => p.role === 'stand-in' && p.hint_for === down && p.versions.some((v) => v.version === hinted?.version)))
    t.is(again.read.status, 200)
  }
})
