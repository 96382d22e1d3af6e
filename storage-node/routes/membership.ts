/** Gossip exchange (signed, from the member that signed it) and the open, read-only membership view (SPEC "Storage nodes"). */
import type Router from '@koa/router'
import { InvalidRequestError } from '../../shared/errors.js'
import type { PeerClocks } from '../../shared/http/peer-clocks.js'
import { internalRoutes } from '../../shared/wire/internal-api.js'
import { GossipMessageSchema, type GossipMessage, type MembershipAnswer } from '../../shared/wire/membership.js'
import type { Membership } from '../gossip/membership.js'
import { signedJson } from './auth.js'

export function mountMembershipRoutes(router: Router, membership: Membership, status: () => Record<string, unknown>, clocks: PeerClocks): void {
  router.post(internalRoutes.gossip.pattern, ...signedJson('2mb'), (ctx) => {
    const msg = GossipMessageSchema.safeParse(ctx.request.body)
    if (!msg.success) throw new InvalidRequestError(`bad gossip message: ${msg.error.message}`)
    if (msg.data.from !== ctx.state.member) throw new InvalidRequestError(`gossip from ${msg.data.from} signed by ${String(ctx.state.member)}`)
    membership.merge(msg.data.members)
    ctx.body = { from: membership.selfId, members: membership.digest() } satisfies GossipMessage
  })

  router.get('/membership', (ctx) => {
    const heard = new Map(clocks.all().map((c) => [c.address, c.offsetMs]))
    const members = membership.views().map((v) => {
      const offset = heard.get(v.address)
      return offset === undefined || v.id === membership.selfId ? v : { ...v, clock_offset_ms: offset }
    })
    ctx.body = { node: membership.selfId, members } satisfies MembershipAnswer
  })

  router.get('/health', (ctx) => {
    ctx.body = { success: true, node: membership.selfId, ...status() }
  })
}
