/** GET /cluster (membership as this proxy sees it, N/R/W, ring summary) and GET /health. */
import type { GuardedRouter } from '../access/guarded-router.js'
import type { NodeClient } from '../../shared/http/node-client.js'
import type { DiskStatus } from '../../shared/wire/internal-api.js'
import type { ReadRepairer } from '../coordinator/read-repair.js'
import type { MembershipView } from '../membership/membership-view.js'
import type { ApiConfig } from './request-params.js'

/** A node's entry with its free space, as its /health said (none when it did not answer). */
function withDisk<T extends { id: string }>(v: T, disks: ReadonlyMap<string, DiskStatus>): T & { disk?: DiskStatus } {
  const disk = disks.get(v.id)
  return disk ? { ...v, disk } : v
}

export function mountClusterRoutes(router: GuardedRouter, view: MembershipView, repairer: ReadRepairer, nodes: NodeClient, cfg: ApiConfig): void {
  router.get('/cluster', { admin: true }, async (ctx) => {
    // Hints pending on the nodes, summed per target (a node that does not answer is left out).
    const health = await Promise.allSettled(view.usableNodes().map((n) => nodes.health(n)))
    const pending: Record<string, { versions: number; bytes: number; holders: string[] }> = {}
    const disks = new Map<string, DiskStatus>()
    for (const h of health) {
      if (h.status !== 'fulfilled') continue
      if (h.value.disk) disks.set(h.value.node, h.value.disk)
      for (const [target, s] of Object.entries(h.value.hints)) {
        const p = pending[target] ?? { versions: 0, bytes: 0, holders: [] }
        pending[target] = p
        p.versions += s.versions
        p.bytes += s.bytes
        p.holders.push(h.value.node)
      }
    }
    ctx.body = {
      success: true,
      n: cfg.n,
      r: cfg.r,
      w: cfg.w,
      // Each node's clock as this proxy measured it (the nodes' own views measure against theirs).
      nodes: view.view().map(({ clock_offset_ms: _theirs, ...m }) => {
        const offset = nodes.clockOffset(m.address)
        return withDisk(offset === undefined ? m : { ...m, clock_offset_ms: offset }, disks)
      }),
      ring: view.ringSummary(),
      read_repairs: { repaired: repairer.repaired, failed: repairer.failed },
      pending_hints: pending,
    }
  })

  router.get('/health', { open: true }, (ctx) => {
    const usable = view.usableNodes().length
    const ok = usable >= Math.min(cfg.w, cfg.r)
    ctx.status = ok ? 200 : 503
    ctx.body = ok ? { success: true, usable_nodes: usable } : { success: false, error: { code: 'Unavailable', message: `only ${usable} usable storage nodes known` } }
  })
}
