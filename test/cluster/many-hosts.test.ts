/**
 * The cluster on many hosts, short (the long run is `make faults`: faults/many-hosts.ts): five
 * nodes and two proxies each on its own test host (network namespaces), mutual TLS between members,
 * HAProxy in front, clients only through it, starting on the v0.2.0 build. Under load: a proxy
 * killed with SIGKILL, then every node and proxy upgraded to this build one at a time with SIGTERM.
 * Only the SIGKILL may fail requests (those in flight on the killed proxy); every acknowledged write
 * reads back; a member with another CA's certificate is refused and logged. Root only (namespaces,
 * HAProxy): skipped with the reason elsewhere.
 */
import test from 'ava'
import { buildAt, type OtherBuild } from '../../devtools/build-at.js'
import { manyHostsUnavailable, phaseTable, runManyHosts } from '../../faults/netns/many-hosts.js'

const V0_2_0 = 'db1018b24ebb48a6520b799833581e1851fe41b5'
const TITLE = 'five node hosts, two proxy hosts, HAProxy, mutual TLS: a proxy killed, every member upgraded from v0.2.0 under load, nothing lost'

let skipReason = await manyHostsUnavailable()
let build: OtherBuild | undefined
if (!skipReason) {
  try {
    build = buildAt(V0_2_0)
  } catch (err) {
    skipReason = `the v0.2.0 build could not be made: ${(err as Error).message}`
  }
}
if (skipReason) console.log(`many-hosts.test: SKIPPED: ${skipReason}`)

test.after.always(() => build?.remove())

if (skipReason) test.skip(`${TITLE} (skipped: ${skipReason})`, () => undefined)
else
  test.serial(TITLE, async (t) => {
    t.timeout(300_000)
    const report = await runManyHosts({ nodes: 5, proxies: 2, fromRoot: (build as OtherBuild).root, steadySeconds: 2, rollingRestart: false, clients: 4, log: (l) => t.log(l) })
    t.log(`\n${phaseTable(report.phases)}`)
    t.log(`${report.acknowledged} writes acknowledged; foreign CA: ${report.foreignCa.error}`)
    for (const p of report.phases) if (!p.phase.includes('SIGKILL')) t.is(p.failed, 0, `${p.phase}: ${p.failures.join('; ')}`)
    t.true(report.acknowledged > 50)
    t.deepEqual(report.lost, [])
    t.true(report.foreignCa.refused, report.foreignCa.error)
    t.true(report.foreignCa.logged, 'node-1 logged the refused handshake')
  })
