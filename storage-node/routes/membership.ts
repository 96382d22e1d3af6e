/** Gossip exchange (signed) and the open, read-only membership view (SPEC "Storage nodes"). */
import type Router from '@koa/router'
import { koaBody } from 'koa-body'
import { InvalidRequestError } from '../../shared/errors.js'
import { internalRoutes } from '../../shared/wire/internal-api.js'
import { GossipMessageSchema, type GossipMessage, type MembershipAnswer } from '../../shared/wire/membership.js'
import type { Membership } from '../gossip/membership.js'

export function mountMembershipRoutes(router: Router, membership: Membership, status: () => Record<string, unknown>): void {
  router.post(internalRoutes.gossip.pattern, koaBody({ jsonLimit: '2mb', text: false, urlencoded: false }), (ctx) => {
    const msg = GossipMessageSchema.safeParse(ctx.request.body)
    if (!msg.success) throw new InvalidRequestError(`bad gossip message: ${msg.error.message}`)
    membership.merge(msg.data.members)
    ctx.body = { from: membership.selfId, members: membership.digest() } satisfies GossipMessage
  })

  router.get('/membership', (ctx) => {
    ctx.body = { node: membership.selfId, members: membership.views() } satisfies MembershipAnswer
  })

  router.get('/health', (ctx) => {
    ctx.body = { success: true, node: membership.selfId, ...status() }
  })
}
