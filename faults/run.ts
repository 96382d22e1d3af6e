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
import { InvalidArgumentError, parseCommandLineOrExit, parseIntArg, parseNumberArg, scriptCommand } from '../devtools/command-line.js'
import { type CheckOptions, DEFAULT_CHECK_OPTIONS, type Scenario, type ScenarioResult } from './scenario.js'
import { probeNetworkFaults } from './netns/netns-probe.js'
import { closeAgent } from './http-client.js'
import { SCENARIOS, SELF_TESTS, scenarioByName } from './nemeses.js'
import { failed, markdownTable, runOnFreshCluster, type SuiteResult, teardownActive } from './suite.js'

const cmd = parseCommandLineOrExit(
  scriptCommand('faults/run.ts', 'Run the fault scenarios (default: all but the self-tests), each on a fresh 5-node cluster; exit 1 if a write was lost or a scenario could not be judged')
    .option('--short', 'shorter workload and waits (8 s workload unless --seconds)', false)
    .option('--seconds <s>', 'workload per scenario, seconds (default 20; 8 with --short)', parseNumberArg(1, 600))
    .option('--scenario <names>', 'run only these scenarios, comma-separated (may repeat)', scenarioList)
    .option('--seed <n>', 'seed of the workload and the nemeses (default: from the clock)', parseIntArg(0, 2 ** 31))
    .option('--clients <k>', 'concurrent clients', parseIntArg(1, 64), DEFAULT_CHECK_OPTIONS.clients)
    .option('--keys <k>', 'keys the workload writes', parseIntArg(1, 1000), DEFAULT_CHECK_OPTIONS.keys)
    .option('--keep-logs <dir>', "where the results and the processes' logs are kept (default: a new temp dir)")
    .addHelpText('after', `\nScenarios: ${SCENARIOS.map((s) => s.name).join(', ')}\nSelf-tests (only when named): ${SELF_TESTS.map((s) => s.name).join(', ')}`),
)
const values = cmd.opts<{ short: boolean; seconds?: number; scenario?: Scenario[]; seed?: number; clients: number; keys: number; keepLogs?: string }>()

/** Accumulates --scenario NAME[,NAME]; an unknown name is a usage error. */
function scenarioList(text: string, previous: Scenario[] | undefined): Scenario[] {
  const names = text.split(',').filter((s) => s !== '')
  const known = [...SCENARIOS, ...SELF_TESTS]
  for (const name of names) if (!known.some((s) => s.name === name)) throw new InvalidArgumentError(`no scenario ${name}; there are ${known.map((s) => s.name).join(', ')}`)
  return [...(previous ?? []), ...names.map(scenarioByName)]
}

const short = values.short
const opts: CheckOptions = {
  ...DEFAULT_CHECK_OPTIONS,
  durationMs: Math.round((values.seconds ?? (short ? 8 : 20)) * 1000),
  clients: values.clients,
  keys: values.keys,
  seed: values.seed ?? Date.now() % 1_000_000,
  hintWaitMs: short ? 15_000 : DEFAULT_CHECK_OPTIONS.hintWaitMs,
  settleMs: short ? 1000 : DEFAULT_CHECK_OPTIONS.settleMs,
  convergeWaitMs: short ? 5000 : DEFAULT_CHECK_OPTIONS.convergeWaitMs,
  log: (line) => console.error(`${new Date().toISOString().slice(11, 23)} ${line}`),
}
const named = values.scenario === undefined || values.scenario.length === 0 ? SCENARIOS : values.scenario
const keep = values.keepLogs ?? mkdtempSync(join(tmpdir(), 'dynamo-faults-'))

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
for (const r of bad)
  console.log(
    `FAIL ${r.scenario}: lost ${r.lost}, phantom ${r.phantom}, torn ${r.torn}, unverified keys ${r.unverifiedKeys}${scenarioByName(r.scenario).expectLoss ? ' (a self-test: it expects lost writes)' : ''}`,
  )
for (const c of crashed) console.log(`CRASH ${c}`)
process.exit(bad.length > 0 || crashed.length > 0 ? 1 : 0)
