/**
 * After the nemesis: undo what is left of the faults (network rules, stopped and killed processes)
 * and count the hints the nodes still hold for others, which hinted handoff must bring to 0.
 */
import { runningPid } from '../cluster-ctl/launcher.js'
import { type FaultCluster, nodeIdsOf } from './fault-cluster.js'
import { jsonOf, send } from './http-client.js'
import { pause } from './workload.js'

/** Undo network faults, restart every process that is down and SIGCONT every one that runs (a stopped one resumes). */
export async function heal(cluster: FaultCluster): Promise<string[]> {
  const healed: string[] = []
  if (cluster.net) {
    // The nemesis heals in its finally; this is the check that nothing was left in force.
    const left = await cluster.net.rulesInForce()
    await cluster.net.heal()
    if (Object.keys(left).length > 0) healed.push(`iptables rules on ${Object.keys(left).join(', ')}`)
  }
  for (const name of [...nodeIdsOf(cluster), 'proxy']) {
    const pid = runningPid(cluster.layout, name)
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGCONT')
      } catch {}
      continue
    }
    await cluster.restart(name)
    healed.push(name)
  }
  for (const id of nodeIdsOf(cluster)) await cluster.waitForStatus(id, 'up', 20_000)
  return healed
}

/** Sum of hinted versions every node still holds for others (a node that does not answer counts as 1). */
export async function pendingHints(cluster: FaultCluster): Promise<number> {
  const counts = await Promise.all(
    nodeIdsOf(cluster).map(async (id) => {
      try {
        const a = await send({ method: 'GET', url: `${cluster.nodeUrl(id)}/health`, totalTimeoutMs: 2000 })
        const body = jsonOf(a) as { hints?: Record<string, { versions?: number }> } | undefined
        if (a.status !== 200 || !body?.hints) return 1
        return Object.values(body.hints).reduce((n, h) => n + (h.versions ?? 0), 0)
      } catch {
        return 1
      }
    }),
  )
  return counts.reduce((a, b) => a + b, 0)
}

/** Wait up to `boundMs` for every node's pending hints to reach 0; returns the count left. */
export async function waitHintsDelivered(cluster: FaultCluster, boundMs: number): Promise<number> {
  const deadline = Date.now() + boundMs
  let pending = await pendingHints(cluster)
  for (let i = 0; i < 1000 && pending > 0 && Date.now() < deadline; i++) {
    await pause(250)
    pending = await pendingHints(cluster)
  }
  return pending
}
