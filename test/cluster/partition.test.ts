/**
 * Network faults, short: every storage node in its own network namespace with its own address.
 * A partition (iptables DROP inside the nodes' namespaces cuts 2 nodes from the other 3, then the
 * rules are flushed) and slow links (a TCP link proxy in front of every node, advertised with the
 * node's --advertise, delaying chunks by up to ~2.5 s and resetting connections). Correctness only:
 * no acknowledged write lost, no value nobody wrote, no torn bytes; and nothing left behind.
 * Needs root, `ip` and iptables (installed with apt-get when missing): elsewhere the tests are
 * skipped, with the reason in their title.
 */
import test from 'ava'
import { ownedNetworks } from '../../faults/netns/netns.js'
import { probeNetworkFaults } from '../../faults/netns/netns-probe.js'
import { type CheckOptions, DEFAULT_CHECK_OPTIONS } from '../../faults/scenario.js'
import { scenarioByName } from '../../faults/nemeses.js'
import { runOnFreshCluster } from '../../faults/suite.js'

const SHORT: CheckOptions = { ...DEFAULT_CHECK_OPTIONS, durationMs: 12_000, seed: 11, hintWaitMs: 15_000, settleMs: 1000, convergeWaitMs: 5000 }

// Decided at load time, so an unsupported machine shows a real skip. The apt install is bounded
// well inside ava's timeout.
const support = await probeNetworkFaults({ installDeadlineMs: 120_000, log: (l) => console.log(`partition.test: ${l}`) })
if (!support.ok) console.log(`partition.test: SKIPPED, network namespaces unavailable: ${support.reason}`)

/** The nemesis event that shows each scenario's fault was injected. */
const FAULT_ACTION: Record<string, string> = { partition: 'partition', 'slow-links': 'slow links' }

for (const name of ['partition', 'slow-links']) {
  const title = `${name}: no acknowledged write lost, no phantom or torn value, nothing left behind`
  if (!support.ok) {
    test.skip(`${title} (skipped: ${support.reason})`, () => undefined)
    continue
  }
  test.serial(title, async (t) => {
    t.timeout(120_000)
    const r = await runOnFreshCluster(scenarioByName(name), { ...SHORT, log: (l) => t.log(l) })
    t.log(
      `attempted ${r.attempted}, acknowledged ${r.acknowledged}, refused ${r.refused}, no answer ${r.noAnswer}, siblings left ${r.siblingsLeft}, availability ${r.availabilityPct} %, convergence ${r.convergenceS ?? 'never'} s (${r.convergedBy})`,
    )
    t.is(r.nemesisError, undefined, 'the nemesis ran')
    t.true(
      r.nemesisEvents.some((e) => e.action === FAULT_ACTION[name]),
      'the fault was injected',
    )
    if (name === 'partition') {
      // The cut is real: a node's own gossip saw the other side go down.
      t.true(
        r.nemesisEvents.some((e) => e.action === 'gossip' && / down/.test(e.target)),
        JSON.stringify(r.nemesisEvents),
      )
    }
    t.true(r.acknowledged > 0, 'the workload made progress')
    t.is(r.unverifiedKeys, 0, 'every key was read back')
    t.is(r.lost, 0, `lost: ${JSON.stringify(r.samples.lost)}`)
    t.is(r.phantom, 0, `phantoms: ${JSON.stringify(r.samples.phantoms)}`)
    t.is(r.torn, 0, `torn: ${JSON.stringify(r.samples.torn)}`)
    t.deepEqual(ownedNetworks(), [], 'teardown removed the namespaces, veths and bridge')
  })
}
