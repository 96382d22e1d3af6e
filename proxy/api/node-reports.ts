/** What the storage nodes' /health says, gathered for GET /cluster and GET /cluster/status: each node's report and the hints pending per target. */
import type { NodeClient } from '../../shared/http/node-client.js'
import type { NodeHealth } from '../../shared/wire/internal-api.js'
import type { MembershipView } from '../membership/membership-view.js'

export interface PendingHints {
  versions: number
  bytes: number
  /** The nodes holding hints for the target. */
  holders: string[]
}

export interface NodeReports {
  /** Each usable node's /health answer, by node id (a node that did not answer is left out). */
  health: Map<string, NodeHealth>
  /** Hints pending on the nodes, summed per target. */
  pending: Record<string, PendingHints>
}

/** Ask every usable node for its /health at once (each call has its own short timeout). */
export async function gatherNodeReports(view: MembershipView, nodes: NodeClient): Promise<NodeReports> {
  const answers = await Promise.allSettled(view.usableNodes().map((n) => nodes.health(n)))
  const health = new Map<string, NodeHealth>()
  const pending: Record<string, PendingHints> = {}
  for (const a of answers) {
    if (a.status !== 'fulfilled') continue
    health.set(a.value.node, a.value)
    for (const [target, s] of Object.entries(a.value.hints)) {
      const p = pending[target] ?? { versions: 0, bytes: 0, holders: [] }
      pending[target] = p
      p.versions += s.versions
      p.bytes += s.bytes
      p.holders.push(a.value.node)
    }
  }
  return { health, pending }
}
