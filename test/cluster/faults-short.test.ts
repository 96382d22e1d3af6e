/**
 * The fault suite, short: ~8 s of concurrent read-modify-write clients while nodes are killed -9
 * one at a time, and while the proxy is killed -9 mid-write. Correctness only (never speed): no
 * acknowledged write is lost, no value nobody wrote is ever served, no bytes are torn. Each
 * scenario runs on its own fresh 5-node cluster, torn down whatever happens.
 */
import test from 'ava'
import { type CheckOptions, DEFAULT_CHECK_OPTIONS } from '../../faults/scenario.js'
import { scenarioByName } from '../../faults/nemeses.js'
import { runOnFreshCluster } from '../../faults/suite.js'

const SHORT: CheckOptions = { ...DEFAULT_CHECK_OPTIONS, durationMs: 8000, seed: 7, hintWaitMs: 15_000, settleMs: 1000, convergeWaitMs: 5000 }

for (const name of ['kill-one', 'kill-proxy']) {
  test.serial(`${name}: no acknowledged write lost, no phantom or torn value`, async (t) => {
    t.timeout(90_000)
    const r = await runOnFreshCluster(scenarioByName(name), { ...SHORT, log: (l) => t.log(l) })
    t.log(
      `attempted ${r.attempted}, acknowledged ${r.acknowledged}, refused ${r.refused}, no answer ${r.noAnswer}, siblings left ${r.siblingsLeft}, convergence ${r.convergenceS ?? 'never'} s (${r.convergedBy})`,
    )
    t.true(r.acknowledged > 0, 'the workload made progress')
    // The claims hold under the fault only if the fault happened.
    t.is(r.nemesisError, undefined, 'the nemesis ran')
    t.true(
      r.nemesisEvents.some((e) => e.action === 'kill -9'),
      `a process was killed -9: ${JSON.stringify(r.nemesisEvents)}`,
    )
    t.is(r.unverifiedKeys, 0, 'every key was read back')
    t.is(r.lost, 0, `lost: ${JSON.stringify(r.samples.lost)}`)
    t.is(r.phantom, 0, `phantoms: ${JSON.stringify(r.samples.phantoms)}`)
    t.is(r.torn, 0, `torn: ${JSON.stringify(r.samples.torn)}`)
  })
}
