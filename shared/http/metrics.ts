/** Prometheus text exposition shared by the proxy and the nodes: a registry with the process's default metrics, the bearer-token check, the answer. */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { Context } from 'koa'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { UnauthorizedError } from '../errors.js'

/** Latency buckets in seconds: 1 ms to 10 s, about three per decade. */
export const LATENCY_BUCKETS_S: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']

/** A registry holding the process's default metrics (CPU, RSS, heap, event-loop lag, GC, handles). */
export function createMetricsRegistry(): Registry {
  const registry = new Registry()
  collectProcessMetrics(registry)
  return registry
}

/** Adds the process's default metrics to `registry`; this starts prom-client's event-loop delay monitor and GC observer. */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry })
  // Gauges named like counters (promtool refuses them); their labeled twins, e.g. nodejs_active_handles{type}, stay.
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name)
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

/** Whether an Authorization header carries `Bearer <token>` (compared in constant time). */
export function bearerMatches(authorization: string, token: string): boolean {
  const m = /^bearer\s+(\S+)\s*$/i.exec(authorization)
  return m !== null && timingSafeEqual(digest(m[1] as string), digest(token))
}

/** Throws 401 unless the request carries the metrics token (when one is set). */
export function requireMetricsToken(ctx: Context, token: string | undefined): void {
  if (token === undefined || bearerMatches(ctx.get('authorization'), token)) return
  ctx.set('WWW-Authenticate', 'Bearer realm="metrics"')
  throw new UnauthorizedError('GET /metrics needs Authorization: Bearer <the --metrics-token>')
}

/** Answers the registry's metrics in the Prometheus text format. */
export async function answerMetrics(ctx: Context, registry: Registry): Promise<void> {
  ctx.set('Cache-Control', 'no-store')
  ctx.type = registry.contentType
  ctx.body = await registry.metrics()
}
