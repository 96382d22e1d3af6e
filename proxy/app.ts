/** The proxy's Koa app: middleware order and route mounting only. */
import Router from '@koa/router'
import Koa from 'koa'
import { NotFoundError } from '../shared/errors.js'
import { errorMiddleware } from '../shared/http/error-middleware.js'
import type { NodeClient } from '../shared/http/node-client.js'
import type { SlowBodyGuard } from '../shared/http/slow-body-guard.js'
import type { Logger } from '../shared/log.js'
import type { AccessAdmin } from './access/access-admin.js'
import { accessLog } from './access/access-log.js'
import { mountAdminRoutes } from './access/admin-routes.js'
import { type AuthenticateComponents, authenticate } from './access/authenticate.js'
import { refuseCrossSiteWrites } from './access/cross-site.js'
import { makeGuard } from './access/guard.js'
import { assertEveryRouteGuarded, GuardedRouter } from './access/guarded-router.js'
import { noSniff } from './api/browser-safety.js'
import { mountBucketRoutes } from './api/buckets.js'
import { mountClusterRoutes } from './api/cluster.js'
import { mountClusterStatusRoute } from './api/cluster-status.js'
import { cors } from './api/cors.js'
import { type FileRoutesComponents, mountFileRoutes } from './api/files.js'
import type { ApiConfig } from './api/request-params.js'
import { mountMetricsRoutes } from './api/metrics.js'
import { requestIdMiddleware } from './api/request-id.js'
import { serverTiming, traceNeedsServerTiming } from './api/server-timing.js'
import type { ReadRepairer } from './coordinator/read-repair.js'
import { type KvLimits, mountKvRoutes } from './kv/kv-routes.js'
import type { KvStore } from './kv/kv-store.js'
import type { MembershipView } from './membership/membership-view.js'
import type { ProxyMetrics } from './metrics/proxy-metrics.js'
import { mountUiRoutes } from './ui/static-files.js'
import type { GracefulStop } from './lifecycle/graceful-stop.js'

export interface ProxyAppComponents extends FileRoutesComponents, AuthenticateComponents {
  kv: KvStore
  view: MembershipView
  nodes: NodeClient
  repairer: ReadRepairer
  bodyGuard: SlowBodyGuard
  admin: AccessAdmin
  log: Logger
  /** One line per request (shared/log.ts createAccessLogger). */
  accessLog: Logger
  metrics: ProxyMetrics
  /** The graceful stop (proxy/lifecycle): /health answers 503 once it has begun. */
  lifecycle?: GracefulStop | undefined
}

export interface ProxyAppConfig extends ApiConfig {
  kvConcurrency: number
  kv: KvLimits
  corsOrigins: readonly string[]
  region: string
  /** When set, GET /metrics needs `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string | undefined
  /** False (--metrics off): no /metrics route (404) and no request is counted or timed. */
  metrics?: boolean
  /** The S3 endpoint's port, when it serves one. */
  s3Port?: number | undefined
  /** Server-Timing and ?trace=1 (see proxy/config.ts). */
  serverTiming?: boolean
}

/** Every route, each with what it needs (proxy/access/guard.ts). */
export function createProxyRouter(c: ProxyAppComponents, cfg: ProxyAppConfig): Router {
  const router = new Router({ sensitive: true, strict: true })
  const routes = new GuardedRouter(router, makeGuard(c.catalog))
  mountBucketRoutes(routes, c.buckets, cfg)
  mountFileRoutes(routes, c, cfg)
  mountKvRoutes(routes, c.kv, { ...cfg, concurrency: cfg.kvConcurrency }, cfg.kv)
  mountClusterRoutes(routes, c.view, c.repairer, c.nodes, cfg)
  mountClusterStatusRoute(routes, c, cfg)
  mountUiRoutes(routes)
  mountAdminRoutes(routes, c.admin, c.catalog)
  if (cfg.metrics !== false) mountMetricsRoutes(routes, c.metrics, cfg.metricsToken)
  assertEveryRouteGuarded(router)
  return router
}

export function createProxyApp(c: ProxyAppComponents, cfg: ProxyAppConfig): Koa {
  const app = new Koa()
  const router = createProxyRouter(c, cfg)
  // Outermost, so that every answer carries them, errors included.
  app.use(noSniff())
  // While stopping, /health answers 503 before anything else runs (load balancers take the proxy out).
  if (c.lifecycle) app.use(c.lifecycle.healthMiddleware())
  app.use(requestIdMiddleware())
  if (cfg.serverTiming) app.use(serverTiming())
  app.use(accessLog(c.accessLog))
  app.use(errorMiddleware(c.log))
  if (!cfg.serverTiming) app.use(traceNeedsServerTiming())
  if (cfg.metrics !== false) app.use(c.metrics.middleware())
  app.use(c.bodyGuard.middleware())
  app.use(cors(cfg.corsOrigins))
  app.use(refuseCrossSiteWrites(cfg.corsOrigins))
  app.use(authenticate(c, cfg.region, cfg.s3Port))
  app.use(router.routes())
  app.use(router.allowedMethods())
  app.use((ctx) => {
    throw new NotFoundError(`no route for ${ctx.method} ${ctx.path}`)
  })
  app.on('error', (err) => c.log.debug({ err: String(err) }, 'connection error'))
  return app
}
