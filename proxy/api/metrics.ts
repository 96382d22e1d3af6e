/** GET /metrics: the Prometheus text format, open or behind the --metrics-token bearer token. */
import { answerMetrics } from '../../shared/http/metrics.js'
import type { GuardedRouter } from '../access/guarded-router.js'
import type { ProxyMetrics } from '../metrics/proxy-metrics.js'

export function mountMetricsRoutes(routes: GuardedRouter, metrics: ProxyMetrics, token: string | undefined): void {
  routes.get('/metrics', token === undefined ? { open: true } : { bearer: token }, (ctx) => answerMetrics(ctx, metrics.registry))
}
