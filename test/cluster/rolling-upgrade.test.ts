/**
 * A rolling upgrade under load, with real processes and real SIGTERMs: a cluster running the build
 * of v0.2.0 (the release rolling upgrades start from; built side by side by devtools/build-at.ts)
 * is upgraded to this checkout one process at a time, as an operator would: each node stopped
 * gracefully and started from the new build on its own data, then the proxy (a proxy of the new
 * build takes the clients, then the old one stops gracefully and comes back new). Meanwhile clients
 * write new keys and read acknowledged ones, so old and new members replicate, hint and read
 * between each other at every step. No request may fail, every acknowledged write reads back
 * afterwards through the new build, and the protocol negotiation holds: with one node upgraded a
 * new proxy sees the cluster speak v0.2.0's version (shared/wire/protocol.ts), with all, this build's.
 */
import { resolve } from 'node:path'
import test from 'ava'
import { type OtherBuild, buildAt } from '../../devtools/build-at.js'
import { PhaseLoad, phaseTable } from '../../devtools/phase-load.js'
import { TestCluster } from '../../devtools/test-cluster.js'
import { z } from 'zod'
import { PROTOCOL_VERSION, UNANNOUNCED_PROTOCOL } from '../../shared/wire/protocol.js'
import { eventually, heldBy } from '../helpers/internal.js'

/** v0.2.0, by commit: a clone made without tags still has it in main's history. */
const FROM = 'db1018b24ebb48a6520b799833581e1851fe41b5'
const NEW_ROOT = resolve(import.meta.dirname, '../..')

let build: OtherBuild | undefined
let skipReason: string | undefined
try {
  build = buildAt(FROM)
} catch (err) {
  skipReason = `the v0.2.0 build could not be made: ${(err as Error).message}`
  console.log(`rolling-upgrade.test: SKIPPED: ${skipReason}`)
}

let cluster: TestCluster | undefined
test.after.always(async () => {
  await cluster?.teardown()
  build?.remove()
})

/** What this test reads of GET /cluster. */
const ClusterProtocolsSchema = z.object({ protocol: z.number(), proxy_protocol: z.number(), nodes: z.array(z.object({ id: z.string(), protocol: z.number().optional() })) })

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const TITLE = 'v0.2.0 to this build, one process at a time under writes and reads: no request fails, nothing acknowledged is lost'

if (skipReason) test.skip(`${TITLE} (skipped: ${skipReason})`, () => undefined)
else
  test.serial(TITLE, async (t) => {
    t.timeout(240_000)
    const c = await TestCluster.start(4, { root: (build as OtherBuild).root })
    cluster = c
    /** Write `key` through `proxy`; the bucket incarnation its first primary stored with it. */
    const incarnationRecorded = async (proxy: string, key: string) => {
      const res = await c.fetch(`${proxy}/buckets/upgrading/files/${key}`, { method: 'PUT', body: key })
      const { pref_list: prefs } = (await res.json()) as { pref_list: string[] }
      return (await heldBy(c, prefs[0] as string, 'upgrading', key))[0]?.meta?.incarnation
    }
    const protocols = async (proxy: string) => ClusterProtocolsSchema.parse(await (await c.fetch(`${proxy}/cluster`)).json())
    t.is((await c.fetch('/buckets/upgrading', { method: 'POST' })).status, 201)
    let base = c.url
    const load = new PhaseLoad({ fetch: (path, init) => c.fetch(`${base}${path}`, init) }, 4, 'nodes upgraded', 'upgrading')
    const steps: string[] = []
    try {
      await sleep(500)
      let fresh: string | undefined
      for (const node of ['node-1', 'node-2', 'node-3', 'node-4']) {
        await c.upgrade(node, NEW_ROOT)
        await c.waitForStatus(node, 'up')
        steps.push(`${node} upgraded`)
        if (node === 'node-1') {
          // A proxy of the new build beside the old one: it sees node-1 announce this build's protocol
          // and the others none, so the cluster still speaks v0.2.0's.
          fresh = await c.startProxy('proxy-new', ['--membership-poll-ms', '200'], NEW_ROOT)
          await eventually(async () => (await protocols(fresh as string)).nodes.find((n) => n.id === 'node-1')?.protocol === PROTOCOL_VERSION, 10_000, 'node-1 announcing its protocol')
          const mixed = await protocols(fresh)
          t.is(mixed.protocol, UNANNOUNCED_PROTOCOL, 'one node upgraded: the cluster speaks the oldest')
          t.is(mixed.nodes.find((n) => n.id === 'node-2')?.protocol, undefined)
          t.is(await incarnationRecorded(fresh, 'mixed'), undefined, 'an older node would drop the incarnation: none is sent')
        }
        await sleep(500)
      }
      // Every node announces this build's protocol: the cluster speaks it.
      await eventually(async () => (await protocols(fresh as string)).protocol === PROTOCOL_VERSION, 10_000, "the cluster speaking this build's protocol")
      // The proxy: clients move to the new build's, then the old one stops gracefully and comes back new.
      load.next('proxy upgraded')
      base = fresh as string
      await sleep(500)
      await c.upgrade('proxy', NEW_ROOT)
      steps.push('proxy upgraded')
      base = c.url
      await sleep(1000)
    } finally {
      await load.stop()
    }
    t.log(steps.join('; '))
    t.log(`\n${phaseTable(load.phases)}\n${load.acked.size} writes acknowledged`)
    for (const p of load.phases) t.is(p.failed, 0, `${p.phase}: ${p.failures.join('; ')}`)
    t.true(load.acked.size > 20)
    for (const [key, body] of load.acked) t.is(await (await c.fetch(`/buckets/upgrading/files/${key}`)).text(), body, key)
    // Every member now announces this build's protocol, and the cluster speaks it.
    const after = await protocols(c.url)
    t.is(after.protocol, PROTOCOL_VERSION)
    t.is(after.proxy_protocol, PROTOCOL_VERSION)
    for (const n of after.nodes) t.is(n.protocol, PROTOCOL_VERSION, n.id)
    t.truthy(await incarnationRecorded(c.url, 'all-new'), 'every node speaks 3: versions record their bucket incarnation')
  })
