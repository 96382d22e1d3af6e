/**
 * The many-hosts run of `make faults` (the short one is in `make check`: test/cluster/many-hosts.test.ts):
 *   node --import=tsx faults/many-hosts.ts [--seconds S] [--clients K] [--from REF]
 * Five nodes and two proxies on seven test hosts, mutual TLS, HAProxy in front, starting on the
 * build of REF (default v0.2.0's commit, built side by side): under load, a proxy killed with
 * SIGKILL, every node and proxy upgraded to this checkout one at a time with SIGTERM, then a rolling
 * restart of every node. Prints each phase's availability and latency percentiles (markdown and
 * JSON); exits 1 if an acknowledged write is lost, a request failed outside the SIGKILL phase, or a
 * member with another CA's certificate was not refused. Root only: skipped (exit 0) with the reason.
 */
import { buildAt, type OtherBuild } from '../devtools/build-at.js'
import { parseCommandLineOrExit, parseIntArg, scriptCommand } from '../devtools/command-line.js'
import { manyHostsUnavailable, phaseTable, runManyHosts } from './netns/many-hosts.js'

const V0_2_0 = 'db1018b24ebb48a6520b799833581e1851fe41b5'

const o = parseCommandLineOrExit(
  scriptCommand('faults/many-hosts.ts', 'Five node hosts, two proxy hosts, HAProxy and mutual TLS: a proxy killed, every member upgraded and restarted under load')
    .option('--seconds <s>', 'load in each steady phase', parseIntArg(1, 600), 10)
    .option('--clients <k>', 'concurrent clients (through HAProxy)', parseIntArg(1, 64), 8)
    .option('--from <ref>', 'the commit every process starts on (built side by side)', V0_2_0),
).opts<{ seconds: number; clients: number; from: string }>()

const log = (line: string) => console.error(`${new Date().toISOString().slice(11, 23)} ${line}`)
const unavailable = await manyHostsUnavailable()
if (unavailable) {
  console.log(`many-hosts: SKIPPED: ${unavailable}`)
  process.exit(0)
}
let build: OtherBuild | undefined
try {
  log(`building ${o.from} side by side`)
  build = buildAt(o.from)
  const report = await runManyHosts({ nodes: 5, proxies: 2, fromRoot: build.root, steadySeconds: o.seconds, rollingRestart: true, clients: o.clients, log })
  console.log(phaseTable(report.phases))
  console.log(JSON.stringify({ acknowledged: report.acknowledged, lost: report.lost.length, foreignCa: report.foreignCa, phases: report.phases }))
  const failedOutside = report.phases.filter((p) => !p.phase.includes('SIGKILL') && p.failed > 0)
  const problems = [
    ...report.lost.slice(0, 10).map((l) => `lost ${l}`),
    ...failedOutside.map((p) => `${p.phase}: ${p.failed} failed (${p.failures.join('; ')})`),
    ...(report.foreignCa.refused ? [] : [`a member with another CA's certificate was served (${report.foreignCa.error})`]),
  ]
  if (problems.length > 0) {
    console.log(`many-hosts: FAILED\n${problems.join('\n')}`)
    process.exitCode = 1
  } else console.log(`many-hosts: ok (${report.acknowledged} acknowledged writes, all read back)`)
} finally {
  build?.remove()
}
