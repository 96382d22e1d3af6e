/**
 * Membership changes while clients write (issue 30): a sixth node joins (the others stream it its
 * ranges and drop the copies it took over), then it is decommissioned (it hands everything to the
 * next owners) and stopped, so the ring ends as it began and the checker's primaries hold again.
 * Each step waits, bounded, for the transfers it started; the leave is finished even past the
 * workload's end (a node left in the ring would move primaries under the checker).
 */
import { type FaultCluster, nodeIdsOf } from './fault-cluster.js'
import { jsonOf, send } from './http-client.js'
import type { Nemesis, NemesisEnv } from './scenario.js'
import { pause } from './workload.js'
import { nodeAdminRoutes } from '../shared/wire/node-admin.js'

interface ClusterNode {
  id: string
  status: string
  ring_state?: string
  transfer?: { phase: string }
}

/** GET /admin/nodes (what `./dynamoctl node status` shows): every node the proxy knows, a decommissioned one still running included. */
async function clusterNodes(cluster: FaultCluster): Promise<ClusterNode[]> {
  const a = await send({ method: 'GET', url: `${cluster.url}${nodeAdminRoutes.nodes}`, totalTimeoutMs: 5000 })
  if (a.status !== 200) throw new Error(`GET /admin/nodes: ${a.status}`)
  return (jsonOf(a) as { nodes: ClusterNode[] }).nodes
}

/** Poll the node list until `ok`, at most `boundMs`; throws past it. */
async function until(cluster: FaultCluster, what: string, ok: (nodes: ClusterNode[]) => boolean, boundMs: number): Promise<void> {
  const deadline = Date.now() + boundMs
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    try {
      if (ok(await clusterNodes(cluster))) return
    } catch {}
    await pause(250)
  }
  throw new Error(`${what}: not within ${boundMs} ms`)
}

async function decommission(env: NemesisEnv, cluster: FaultCluster & { forgetNode(id: string): void }, id: string): Promise<void> {
  const a = await send({ method: 'POST', url: `${cluster.url}/admin/nodes/${id}/decommission`, totalTimeoutMs: 10_000 })
  if (a.status !== 200) throw new Error(`decommission ${id}: ${a.status}`)
  env.note('decommission', id)
  await until(cluster, `${id} handing over its data`, (nodes) => nodes.find((n) => n.id === id)?.transfer?.phase === 'done', 90_000)
  await cluster.stop(id, 'SIGTERM')
  cluster.forgetNode(id)
  env.note('stopped and forgotten (decommissioned)', id)
}

export const joinThenLeave: Nemesis = async (env) => {
  const cluster = env.cluster
  if (!cluster.addNode || !cluster.forgetNode) {
    env.note('skipped', 'this cluster cannot add nodes')
    return
  }
  const withForget = cluster as FaultCluster & { forgetNode(id: string): void }
  let joined: string | undefined
  try {
    await env.sleep(1000 + env.rng() * 1000)
    joined = await cluster.addNode()
    env.note('join', joined)
    const all = [...nodeIdsOf(cluster)]
    await until(
      cluster,
      `${joined} in the ring, every transfer idle`,
      (nodes) => all.every((id) => nodes.find((n) => n.id === id)?.ring_state === 'member') && nodes.every((n) => n.transfer?.phase !== 'moving'),
      60_000,
    )
    env.note('joined, transfers idle', joined)
    await env.sleep(1500 + env.rng() * 1500)
    const leaving = joined
    joined = undefined
    await decommission(env, withForget, leaving)
  } finally {
    // Never leave the extra node in the ring: it would move primaries under the checker.
    if (joined) {
      try {
        await decommission(env, withForget, joined)
      } catch (err) {
        env.note('decommission (cleanup) FAILED', `${joined}: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
  }
}
