/**
 * The fault-injection suite:
 *   node --import=tsx faults/run.ts [--short] [--seconds S] [--scenario NAME[,NAME]] [--seed N] [--clients K] [--keys K] [--keep-logs DIR]
 * Runs every scenario (or the named ones) on a fresh 5-node cluster, prints one JSON line per
 * scenario and a markdown table, and exits 1 if any acknowledged write was lost, any value nobody
 * wrote (or torn bytes) was seen, or a scenario could not be judged. Network scenarios (partition,
 * partition-proxy-one-side, slow-links, lossy-links) need root: they install iptables when
 * missing, and are skipped, with the reason printed, where namespaces cannot be had.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { type CheckOptions, DEFAULT_CHECK_OPTIONS, type ScenarioResult } from './scenario.js'
import { probeNetworkFaults } from './netns/netns-probe.js'
import { closeAgent } from './http-client.js'
import { SCENARIOS, SELF_TESTS, scenarioByName } from './nemeses.js'
import { failed, markdownTable, runOnFreshCluster, type SuiteResult, teardownActive } from './suite.js'

const { values } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    scenario: { type: 'string', multiple: true },
    seed: { type: 'string' },
    clients: { type: 'string' },
    keys: { type: 'string' },
    'keep-logs': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
})

if (values.help) {
  console.log('node --import=tsx faults/run.ts [--short] [--seconds S] [--scenario NAME[,NAME]] [--seed N] [--clients K] [--keys K] [--keep-logs DIR]')
  console.log(`scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}; self-test (only when named): ${SELF_TESTS.map((s) => s.name).join(', ')}`)
  process.exit(0)
}

function intArg(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback
  const v = Number(raw)
  if (!Number.isFinite(v) || v < min || v > max) {
    console.error(`--${name} must be a number from ${min} to ${max}`)
    process.exit(2)
  }
  return v
}

const short = values.short ?? false
const opts: CheckOptions = {
  ...DEFAULT_CHECK_OPTIONS,
  durationMs: Math.round(intArg('seconds', values.seconds, short ? 8 : 20, 1, 600) * 1000),
  clients: intArg('clients', values.clients, DEFAULT_CHECK_OPTIONS.clients, 1, 64),
  keys: intArg('keys', values.keys, DEFAULT_CHECK_OPTIONS.keys, 1, 1000),
  seed: intArg('seed', values.seed, Date.now() % 1_000_000, 0, 2 ** 31),
  hintWaitMs: short ? 15_000 : DEFAULT_CHECK_OPTIONS.hintWaitMs,
  settleMs: short ? 1000 : DEFAULT_CHECK_OPTIONS.settleMs,
  convergeWaitMs: short ? 5000 : DEFAULT_CHECK_OPTIONS.convergeWaitMs,
  log: (line) => console.error(`${new Date().toISOString().slice(11, 23)} ${line}`),
}
const scenarios = (values.scenario ?? []).flatMap((s) => s.split(',')).filter((s) => s !== '')
const named = scenarios.length === 0 ? SCENARIOS : scenarios.map(scenarioByName)
const keep = values['keep-logs'] ?? mkdtempSync(join(tmpdir(), 'dynamo-faults-'))

// Network scenarios need root, network namespaces and iptables (installed here through apt when
// missing): where they cannot be had, they are skipped with the reason, not failed.
let selected = named
const networked = named.filter((s) => s.network)
if (networked.length > 0) {
  const support = await probeNetworkFaults({ log: (l) => console.error(l) })
  if (support.ok) console.error(`network faults: namespaces and ${support.iptables} work here`)
  else {
    console.error(`SKIPPED ${networked.map((s) => s.name).join(', ')}: ${support.reason}`)
    selected = named.filter((s) => !s.network)
  }
}

console.error(`fault suite: ${selected.map((s) => s.name).join(', ') || 'nothing left to run'}; ${opts.durationMs / 1000} s each; seed ${opts.seed}; logs kept in ${keep}`)

// A crash or a signal skips the finally blocks: kill the running cluster's processes (by pid) first.
const bail = (why: string, code: number) => {
  console.error(why)
  void teardownActive().finally(() => process.exit(code))
}
process.once('SIGINT', () => bail('interrupted: tearing down', 130))
process.once('SIGTERM', () => bail('terminated: tearing down', 143))
process.once('uncaughtException', (err) => bail(`uncaught: ${err.stack ?? err.message}`, 1))
process.once('unhandledRejection', (err) => bail(`unhandled rejection: ${String(err)}`, 1))

const results: SuiteResult[] = []
const crashed: string[] = []
const started = Date.now()
for (const scenario of selected) {
  try {
    const r = await runOnFreshCluster(scenario, opts, keep)
    results.push(r)
    const { logs: _logs, ...line } = r
    console.log(JSON.stringify(line))
  } catch (err) {
    crashed.push(`${scenario.name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    console.log(JSON.stringify({ scenario: scenario.name, error: err instanceof Error ? err.message : String(err) }))
  }
}
closeAgent()
writeFileSync(join(keep, 'results.json'), JSON.stringify(results, null, 2))

console.log('')
console.log(markdownTable(results))
console.log('')
console.log(`seed ${opts.seed}; ${opts.durationMs / 1000} s workload per scenario; total ${((Date.now() - started) / 1000).toFixed(1)} s; full results and logs in ${keep}`)
const bad = results.filter((r: ScenarioResult) => failed(r, scenarioByName(r.scenario).expectLoss))
for (const r of bad) console.log(`FAIL ${r.scenario}: lost ${r.lost}, phantom ${r.phantom}, torn ${r.torn}, unverified keys ${r.unverifiedKeys}${scenarioByName(r.scenario).expectLoss ? ' (a self-test: it expects lost writes)' : ''}`)
for (const c of crashed) console.log(`CRASH ${c}`)
process.exit(bad.length > 0 || crashed.length > 0 ? 1 : 0)
