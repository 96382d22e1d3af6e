/** The node's Koa app: middleware order and route mounting only. */
import Router from '@koa/router'
import Koa from 'koa'
import { errorMiddleware } from '../shared/http/error-middleware.js'
import type { Logger } from '../shared/log.js'
import type { AntiEntropy } from './anti-entropy/anti-entropy.js'
import type { Membership } from './gossip/membership.js'
import { mountAntiEntropyRoutes } from './routes/anti-entropy.js'
import { type RequestVerifier, requireSignature } from './routes/auth.js'
import { mountMembershipRoutes } from './routes/membership.js'
import { mountObjectRoutes, type ObjectRoutesComponents } from './routes/objects.js'

export interface NodeAppComponents extends ObjectRoutesComponents {
  membership: Membership
  antiEntropy: AntiEntropy
  /** Extra fields of GET /health: gossip traffic, pending hints. */
  status: () => Record<string, unknown>
  verifier: RequestVerifier
  log: Logger
}

export function createNodeApp(c: NodeAppComponents): Koa {
  const app = new Koa()
  const router = new Router()
  mountObjectRoutes(router, c)
  mountMembershipRoutes(router, c.membership, c.status)
  mountAntiEntropyRoutes(router, c.nodeId, c.antiEntropy)
  app.use(errorMiddleware(c.log))
  app.use(requireSignature(c.verifier))
  app.use(router.routes())
  app.use(router.allowedMethods())
  app.on('error', (err) => c.log.debug({ err: String(err) }, 'connection error'))
  return app
}
