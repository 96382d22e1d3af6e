/** GET /cluster (membership as this proxy sees it, N/R/W, ring summary) and GET /health. */
import type { GuardedRouter } from '../access/guarded-router.js'
import type { NodeClient } from '../../shared/http/node-client.js'
import type { DiskStatus } from '../../shared/wire/internal-api.js'
import { PROTOCOL_VERSION } from '../../shared/wire/protocol.js'
import type { ReadRepairer } from '../coordinator/read-repair.js'
import type { MembershipView } from '../membership/membership-view.js'
import { mountNodeAdminRoutes } from './node-admin.js'
import { gatherNodeReports } from './node-reports.js'
import type { ApiConfig } from './request-params.js'

/** A node's entry with its free space, as its /health said (none when it did not answer). */
function withDisk<T extends { id: string }>(v: T, disks: ReadonlyMap<string, DiskStatus>): T & { disk?: DiskStatus } {
  const disk = disks.get(v.id)
  return disk ? { ...v, disk } : v
}

export function mountClusterRoutes(router: GuardedRouter, view: MembershipView, repairer: ReadRepairer, nodes: NodeClient, cfg: ApiConfig): void {
  router.get('/cluster', { admin: true }, async (ctx) => {
    const { health, pending } = await gatherNodeReports(view, nodes)
    const disks = new Map<string, DiskStatus>()
    for (const h of health.values()) if (h.disk) disks.set(h.node, h.disk)
    ctx.body = {
      success: true,
      n: cfg.n,
      r: cfg.r,
      w: cfg.w,
      // Each node's clock as this proxy measured it (the nodes' own views measure against theirs).
      nodes: view.view().map(({ clock_offset_ms: _theirs, ...m }) => {
        const offset = nodes.clockOffset(m.address)
        // Its ownership transfer (keys and bytes done and left), while it has one to report.
        const transfer = health.get(m.id)?.transfer
        return withDisk({ ...m, ...(offset === undefined ? {} : { clock_offset_ms: offset }), ...(transfer ? { transfer } : {}) }, disks)
      }),
      // The protocol version every node of the ring announces (the lowest: shared/wire/protocol.ts), and this proxy's.
      protocol: view.negotiatedProtocol(),
      proxy_protocol: PROTOCOL_VERSION,
      ring: view.ringSummary(),
      read_repairs: { repaired: repairer.repaired, failed: repairer.failed },
      pending_hints: pending,
    }
  })

  mountNodeAdminRoutes(router, view, nodes, cfg)

  router.get('/health', { open: true }, (ctx) => {
    const usable = view.usableNodes().length
    const ok = usable >= Math.min(cfg.w, cfg.r)
    ctx.status = ok ? 200 : 503
    ctx.body = ok ? { success: true, usable_nodes: usable } : { success: false, error: { code: 'Unavailable', message: `only ${usable} usable storage nodes known` } }
  })
}
