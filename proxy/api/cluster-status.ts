/**
 * GET /cluster/status: one answer with what the cluster page (/ui) draws (shared/wire/cluster-status.ts).
 * Admin keys only, like /cluster: it names every node, and its recent conflicts and repairs name the
 * buckets and keys of every tenant.
 */
import type { NodeClient } from '../../shared/http/node-client.js'
import type { ClusterStatus, NodeStatus, RequestCounts } from '../../shared/wire/cluster-status.js'
import { memoryStatus, type NodeHealth } from '../../shared/wire/internal-api.js'
import type { GuardedRouter } from '../access/guarded-router.js'
import type { ReadCoordinator } from '../coordinator/read-coordinator.js'
import type { ReadRepairer } from '../coordinator/read-repair.js'
import type { RecentEvent } from '../coordinator/recent-events.js'
import type { MembershipView } from '../membership/membership-view.js'
import type { ProxyMetrics } from '../metrics/proxy-metrics.js'
import { gatherNodeReports } from './node-reports.js'
import type { ApiConfig } from './request-params.js'

export interface ClusterStatusComponents {
  view: MembershipView
  nodes: NodeClient
  reader: ReadCoordinator
  repairer: ReadRepairer
  /** None when the proxy runs without metrics: the answer has no request counts then. */
  metrics?: ProxyMetrics | undefined
}

export const CLUSTER_STATUS_PATH = '/cluster/status'

/** Requests that the page makes itself: left out of the counts, so an open page does not show its own polling as traffic. */
function isPageRequest(route: string): boolean {
  return route === CLUSTER_STATUS_PATH || route === '/ui' || route.startsWith('/ui/')
}

async function countRequests(metrics: ProxyMetrics): Promise<RequestCounts> {
  const counts: RequestCounts = { total: 0, by_method: {}, by_class: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 } }
  for (const c of await metrics.requestCounts()) {
    if (isPageRequest(c.route)) continue
    counts.total += c.count
    counts.by_method[c.method] = (counts.by_method[c.method] ?? 0) + c.count
    const cls = `${Math.floor(c.status / 100)}xx`
    if (cls === '2xx' || cls === '3xx' || cls === '4xx' || cls === '5xx') counts.by_class[cls] += c.count
  }
  return counts
}

const toWire = (events: readonly RecentEvent[]) => events.map((e) => ({ ...e, at: new Date(e.at).toISOString() }))

function nodeStatus(m: ReturnType<MembershipView['view']>[number], ownership: number, h: NodeHealth | undefined): NodeStatus {
  const held = h && Object.values(h.hints).reduce((sum, s) => ({ versions: sum.versions + s.versions, bytes: sum.bytes + s.bytes }), { versions: 0, bytes: 0 })
  return {
    id: m.id,
    address: m.address,
    status: m.status,
    generation: m.generation,
    last_seen: m.last_seen,
    ...(m.full ? { full: true } : {}),
    ownership,
    answered: h !== undefined,
    ...(h?.disk ? { disk: h.disk } : {}),
    ...(h?.memory ? { memory: h.memory } : {}),
    ...(held ? { hints_held: held } : {}),
    ...(h?.antiEntropy ? { anti_entropy_keys_repaired: h.antiEntropy.keysRepaired } : {}),
  }
}

export function mountClusterStatusRoute(router: GuardedRouter, c: ClusterStatusComponents, cfg: ApiConfig): void {
  router.get(CLUSTER_STATUS_PATH, { admin: true }, async (ctx) => {
    const [{ health, pending }, requests] = await Promise.all([gatherNodeReports(c.view, c.nodes), c.metrics && countRequests(c.metrics)])
    const ring = c.view.ringSummary()
    const nodes = c.view.view().map((m) => nodeStatus(m, ring.ownership[m.id] ?? 0, health.get(m.id)))
    const body: ClusterStatus = {
      success: true,
      at: new Date().toISOString(),
      n: cfg.n,
      r: cfg.r,
      w: cfg.w,
      proxy: { uptime_s: Math.round(process.uptime()), memory: memoryStatus() },
      nodes,
      ring: { vnodes_per_node: ring.vnodes_per_node, arcs: c.view.ringRanges() },
      pending_hints: pending,
      conflicts: { sibling_reads: c.reader.stats.siblingReads, recent: toWire(c.reader.recentSiblings.list()) },
      repairs: {
        read_repairs: c.repairer.repaired,
        read_repair_failures: c.repairer.failed,
        // Over the nodes that answered: a node down drops out of the sum until it is back.
        anti_entropy_keys_repaired: nodes.reduce((sum, n) => sum + (n.anti_entropy_keys_repaired ?? 0), 0),
        recent: toWire(c.repairer.recent.list()),
      },
      ...(requests ? { requests } : {}),
    }
    // Live data: never kept by a browser or a cache between the page's polls.
    ctx.set('Cache-Control', 'no-store')
    ctx.body = body
  })
}
