/** Gossip exchange (signed, from the member that signed it) and the open, read-only membership view (SPEC "Storage nodes"). */
import type Router from '@koa/router'
import { InvalidRequestError, NotFoundError } from '../../shared/errors.js'
import type { PeerClocks } from '../../shared/http/peer-clocks.js'
import { internalRoutes } from '../../shared/wire/internal-api.js'
import { GossipMessageSchema, type GossipMessage, type MembershipAnswer } from '../../shared/wire/membership.js'
import { RingChangeRequestSchema, type RingAnswer } from '../../shared/wire/ring.js'
import type { Membership } from '../gossip/membership.js'
import type { NodeRing } from '../ring/node-ring.js'
import { signedJson } from './auth.js'

export function mountMembershipRoutes(router: Router, membership: Membership, ring: NodeRing, status: () => Record<string, unknown>, clocks: PeerClocks): void {
  router.post(internalRoutes.gossip.pattern, ...signedJson('2mb'), (ctx) => {
    const msg = GossipMessageSchema.safeParse(ctx.request.body)
    if (!msg.success) throw new InvalidRequestError(`bad gossip message: ${msg.error.message}`)
    if (msg.data.from !== ctx.state.member) throw new InvalidRequestError(`gossip from ${msg.data.from} signed by ${String(ctx.state.member)}`)
    membership.merge(msg.data.members)
    if (msg.data.ring) ring.merge(msg.data.ring)
    ctx.body = { from: membership.selfId, members: membership.digest(), ring: ring.entries() } satisfies GossipMessage
  })

  // An operator's ring change (through a proxy's admin route, which checked it): applied here, spread by gossip.
  router.post(internalRoutes.ringChange.pattern, ...signedJson('16kb'), (ctx) => {
    const req = RingChangeRequestSchema.safeParse(ctx.request.body)
    if (!req.success) throw new InvalidRequestError(`bad ring change: ${req.error.message}`)
    const known = ring.get(req.data.id)
    if (!known) throw new NotFoundError(`${req.data.id} is not in the ring`)
    if (known.state === 'removed') throw new InvalidRequestError(`${req.data.id} was removed from the ring; it cannot change state again`)
    if (known.state !== req.data.state) ring.apply(req.data.id, req.data.state)
    ctx.body = { node: membership.selfId, ring: ring.entries() } satisfies RingAnswer
  })

  router.get('/membership', (ctx) => {
    const heard = new Map(clocks.all().map((c) => [c.address, c.offsetMs]))
    const members = membership.views().map((v) => {
      const offset = heard.get(v.address)
      return offset === undefined || v.id === membership.selfId ? v : { ...v, clock_offset_ms: offset }
    })
    ctx.body = { node: membership.selfId, members, ring: ring.entries() } satisfies MembershipAnswer
  })

  router.get('/health', (ctx) => {
    ctx.body = { success: true, node: membership.selfId, ...status() }
  })
}
