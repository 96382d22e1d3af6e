/**
 * Running scenarios each on a fresh 5-node cluster (so stand-ins exist): the loopback TestCluster,
 * or a NetnsCluster (a namespace per node) for network scenarios. Keeps what the processes logged
 * before teardown removes it, and the markdown summary of the results.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { TestCluster } from '../devtools/test-cluster.js'
import { runScenario } from './checker.js'
import type { CheckOptions, Scenario, ScenarioResult } from './scenario.js'
import type { FaultCluster } from './fault-cluster.js'
import { copyLogs, type LogSummary, summarizeLogs } from './logs.js'
import { NetnsCluster } from './netns/netns-cluster.js'

export const FAULT_CLUSTER_NODES = 5
/** Hint delivery every second, so convergence is measured in seconds. */
/** Hint delivery every second, and anti-entropy over every segment every second: convergence is measured, not waited for. */
export const FAULT_NODE_ARGS = ['--handoff-schedule', '* * * * * *', '--anti-entropy-interval-ms', '1000', '--anti-entropy-segments', '256']

export type SuiteResult = ScenarioResult & { logs: LogSummary[]; logCopy?: string | undefined }

/** Clusters running now, so a crash or Ctrl-C can still kill their processes (a finally does not run then). */
const active = new Set<FaultCluster>()

/** Tear down every cluster still running (for process-level error and signal handlers). */
export async function teardownActive(): Promise<void> {
  for (const c of [...active]) {
    active.delete(c)
    await c.teardown().catch(() => undefined)
  }
}

/** Start a fresh cluster, run the scenario, summarize (and optionally copy) the logs, always tear down. */
export async function runOnFreshCluster(scenario: Scenario, opts: CheckOptions, keepLogsIn?: string): Promise<SuiteResult> {
  const cluster: FaultCluster = scenario.network
    ? await NetnsCluster.start({ nodes: FAULT_CLUSTER_NODES, nodeArgs: FAULT_NODE_ARGS, linkProxies: scenario.network === 'netns-links' })
    : await TestCluster.start(FAULT_CLUSTER_NODES, { nodeArgs: FAULT_NODE_ARGS })
  active.add(cluster)
  try {
    const result = await runScenario(cluster, scenario, opts)
    let logCopy: string | undefined
    if (keepLogsIn) {
      logCopy = join(keepLogsIn, scenario.name)
      mkdirSync(logCopy, { recursive: true })
      copyLogs(cluster.layout.logDir, logCopy)
    }
    return { ...result, logs: summarizeLogs(cluster.layout.logDir), logCopy }
  } catch (err) {
    if (keepLogsIn) copyLogs(cluster.layout.logDir, join(keepLogsIn, scenario.name))
    throw err
  } finally {
    active.delete(cluster)
    await cluster.teardown()
  }
}

/** A result breaks correctness: an acknowledged write lost, a value nobody wrote, torn bytes, or a key the final read could not check. */
export function failed(r: ScenarioResult, expectLoss = false): boolean {
  if (expectLoss) return r.lost === 0
  return r.lost > 0 || r.phantom > 0 || r.torn > 0 || r.unverifiedKeys > 0
}

export function markdownTable(results: readonly ScenarioResult[]): string {
  const head = [
    'scenario',
    'attempted',
    'acknowledged',
    'refused',
    'lost',
    'phantom values',
    'siblings left',
    'stale siblings',
    'availability %',
    'convergence s',
    'no answer',
    'torn',
    'max PUT ms',
    'max GET ms',
  ]
  const rows = results.map((r) => [
    r.scenario,
    r.attempted,
    r.acknowledged,
    r.refused,
    r.lost,
    r.phantom,
    r.siblingsLeft,
    `${r.resurrected} (${r.duplicateSiblings} dup)`,
    r.availabilityPct,
    r.convergenceS === null ? 'never' : `${r.convergenceS} (${r.convergedBy})`,
    r.noAnswer,
    r.torn,
    r.latencyMs.putMax,
    r.latencyMs.getMax,
  ])
  return [head, head.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n')
}
