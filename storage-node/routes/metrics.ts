/** GET /metrics: the node's Prometheus text format, open (auth.ts OPEN_ROUTES) or behind the --metrics-token bearer token. */
import type Router from '@koa/router'
import type { Registry } from 'prom-client'
import { answerMetrics, requireMetricsToken } from '../../shared/http/metrics.js'

export function mountMetricsRoutes(router: Router, registry: () => Registry, token: string | undefined): void {
  router.get('/metrics', async (ctx) => {
    requireMetricsToken(ctx, token)
    await answerMetrics(ctx, registry())
  })
}
