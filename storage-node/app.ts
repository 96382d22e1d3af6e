/** The node's Koa app: middleware order and route mounting only. */
import Router from '@koa/router'
import Koa from 'koa'
import { errorMiddleware } from '../shared/http/error-middleware.js'
import type { PeerClocks } from '../shared/http/peer-clocks.js'
import type { Logger } from '../shared/log.js'
import type { AntiEntropy } from './anti-entropy/anti-entropy.js'
import type { Membership } from './gossip/membership.js'
import type { NodeMetrics } from './metrics/node-metrics.js'
import type { NodeRing } from './ring/node-ring.js'
import { mountAntiEntropyRoutes } from './routes/anti-entropy.js'
import type { RequestVerifier } from '../shared/http/request-verifier.js'
import { requireSignature } from './routes/auth.js'
import { mountMembershipRoutes } from './routes/membership.js'
import { mountMetricsRoutes } from './routes/metrics.js'
import { mountObjectRoutes, type ObjectRoutesComponents } from './routes/objects.js'
import { mountTransferRoutes } from './routes/transfer.js'

export interface NodeAppComponents extends ObjectRoutesComponents {
  membership: Membership
  /** The ring record (gossiped, changed by operators through a proxy). */
  ring: NodeRing
  antiEntropy: AntiEntropy
  /** Extra fields of GET /health: gossip traffic, pending hints. */
  status: () => Record<string, unknown>
  verifier: RequestVerifier
  /** Peers' clocks as this node's clients learned them (shown in /membership). */
  clocks: PeerClocks
  /** None with --metrics off: no /metrics route (404). */
  metrics?: NodeMetrics | undefined
  /** When set, GET /metrics needs `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string | undefined
  log: Logger
}

/**
 * Every route of the node. Case-sensitive and strict, so a route matches only the one spelling
 * its signature was made for (tests walk this router's routes with other spellings).
 */
export function createNodeRouter(c: NodeAppComponents): Router {
  const router = new Router({ sensitive: true, strict: true })
  mountObjectRoutes(router, c)
  mountMembershipRoutes(router, c.membership, c.ring, c.status, c.clocks)
  mountAntiEntropyRoutes(router, c.nodeId, c.antiEntropy)
  mountTransferRoutes(router, c.nodeId, c.store)
  const metrics = c.metrics
  if (metrics) mountMetricsRoutes(router, () => metrics.registry, c.metricsToken)
  return router
}

export function createNodeApp(c: NodeAppComponents): Koa {
  const app = new Koa()
  const router = createNodeRouter(c)
  app.use(errorMiddleware(c.log))
  app.use(requireSignature(c.verifier))
  app.use(router.routes())
  app.use(router.allowedMethods())
  app.on('error', (err) => c.log.debug({ err: String(err) }, 'connection error'))
  return app
}
