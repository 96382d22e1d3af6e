/** The proxy's Koa app: middleware order and route mounting only. */
import Router from '@koa/router'
import Koa from 'koa'
import { NotFoundError } from '../shared/errors.js'
import { errorMiddleware } from '../shared/http/error-middleware.js'
import type { SlowBodyGuard } from '../shared/http/slow-body-guard.js'
import type { Logger } from '../shared/log.js'
import { noSniff } from './api/browser-safety.js'
import { mountBucketRoutes } from './api/buckets.js'
import { mountClusterRoutes } from './api/cluster.js'
import { cors } from './api/cors.js'
import { type FileRoutesComponents, mountFileRoutes } from './api/files.js'
import type { ApiConfig } from './api/request-params.js'
import { requestIdMiddleware } from './api/request-id.js'
import type { NodeClient } from '../shared/http/node-client.js'
import { type KvLimits, mountKvRoutes } from './kv/kv-routes.js'
import type { KvStore } from './kv/kv-store.js'
import type { ReadRepairer } from './coordinator/read-repair.js'
import type { MembershipView } from './membership/membership-view.js'

export interface ProxyAppComponents extends FileRoutesComponents {
  kv: KvStore
  view: MembershipView
  nodes: NodeClient
  repairer: ReadRepairer
  bodyGuard: SlowBodyGuard
  log: Logger
}

export function createProxyApp(c: ProxyAppComponents, cfg: ApiConfig & { kvConcurrency: number; kv: KvLimits; corsOrigins: readonly string[] }): Koa {
  const app = new Koa()
  const router = new Router()
  mountBucketRoutes(router, c.buckets, cfg)
  mountFileRoutes(router, c, cfg)
  mountKvRoutes(router, c.kv, { ...cfg, concurrency: cfg.kvConcurrency }, cfg.kv)
  mountClusterRoutes(router, c.view, c.repairer, c.nodes, cfg)
  // Outermost, so that every answer carries them, errors included.
  app.use(noSniff())
  app.use(requestIdMiddleware())
  app.use(errorMiddleware(c.log))
  app.use(c.bodyGuard.middleware())
  app.use(cors(cfg.corsOrigins))
  app.use(router.routes())
  app.use(router.allowedMethods())
  app.use((ctx) => {
    throw new NotFoundError(`no route for ${ctx.method} ${ctx.path}`)
  })
  app.on('error', (err) => c.log.debug({ err: String(err) }, 'connection error'))
  return app
}
