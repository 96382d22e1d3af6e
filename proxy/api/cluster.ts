/** GET /cluster (membership as this proxy sees it, N/R/W, ring summary) and GET /health. */
import type Router from '@koa/router'
import type { ReadRepairer } from '../coordinator/read-repair.js'
import type { MembershipView } from '../membership/membership-view.js'
import type { ApiConfig } from './request-params.js'

export function mountClusterRoutes(router: Router, view: MembershipView, repairer: ReadRepairer, cfg: ApiConfig): void {
  router.get('/cluster', (ctx) => {
    ctx.body = {
      success: true,
      n: cfg.n,
      r: cfg.r,
      w: cfg.w,
      nodes: view.view(),
      ring: view.ringSummary(),
      read_repairs: { repaired: repairer.repaired, failed: repairer.failed },
    }
  })

  router.get('/health', (ctx) => {
    const usable = view.usableNodes().length
    const ok = usable >= Math.min(cfg.w, cfg.r)
    ctx.status = ok ? 200 : 503
    ctx.body = ok
      ? { success: true, usable_nodes: usable }
      : { success: false, error: { code: 'Unavailable', message: `only ${usable} usable storage nodes known` } }
  })
}
