/** Gossip exchange (signed, from the member that signed it) and the open, read-only membership view (SPEC "Storage nodes"). */
import type Router from '@koa/router'
import { InvalidRequestError, NotFoundError } from '../../shared/errors.js'
import type { PeerClocks } from '../../shared/http/peer-clocks.js'
import { internalRoutes } from '../../shared/wire/internal-api.js'
import { type GossipMessage, GossipMessageSchema, type MembershipAnswer } from '../../shared/wire/membership.js'
import { HEADER_PROTOCOL, protocolOfHeader } from '../../shared/wire/protocol.js'
import { forProtocol, JOINING_PROTOCOL, type RingAnswer, RingChangeRequestSchema } from '../../shared/wire/ring.js'
import type { Membership } from '../gossip/membership.js'
import type { NodeRing } from '../ring/node-ring.js'
import { signedJson } from './auth.js'

export function mountMembershipRoutes(router: Router, membership: Membership, ring: NodeRing, status: () => Record<string, unknown> & { ring_state?: string | undefined }, clocks: PeerClocks): void {
  router.post(internalRoutes.gossip.pattern, ...signedJson('2mb'), (ctx) => {
    const msg = GossipMessageSchema.safeParse(ctx.request.body)
    if (!msg.success) throw new InvalidRequestError(`bad gossip message: ${msg.error.message}`)
    if (msg.data.from !== ctx.state.member) throw new InvalidRequestError(`gossip from ${msg.data.from} signed by ${String(ctx.state.member)}`)
    membership.merge(msg.data.members)
    if (msg.data.ring) ring.merge(msg.data.ring)
    // The sender's own entry, just merged, says which protocol it reads.
    const entries = forProtocol(ring.entries(), membership.protocolOf(msg.data.from) ?? 1)
    ctx.body = { from: membership.selfId, members: membership.digest(), ring: entries } satisfies GossipMessage
  })

  // An operator's ring change (through a proxy's admin route, which checked it): applied here, spread by gossip.
  router.post(internalRoutes.ringChange.pattern, ...signedJson('16kb'), (ctx) => {
    const req = RingChangeRequestSchema.safeParse(ctx.request.body)
    if (!req.success) throw new InvalidRequestError(`bad ring change: ${req.error.message}`)
    const known = ring.get(req.data.id)
    if (!known) throw new NotFoundError(`${req.data.id} is not in the ring`)
    if (known.state === 'removed') throw new InvalidRequestError(`${req.data.id} was removed from the ring; it cannot change state again`)
    if (known.state !== req.data.state) ring.apply(req.data.id, req.data.state)
    ctx.body = { node: membership.selfId, ring: forProtocol(ring.entries(), callerProtocol(ctx)) } satisfies RingAnswer
  })

  router.get('/membership', (ctx) => {
    const heard = new Map(clocks.all().map((c) => [c.address, c.offsetMs]))
    const members = membership.views().map((v) => {
      const offset = heard.get(v.address)
      return offset === undefined || v.id === membership.selfId ? v : { ...v, clock_offset_ms: offset }
    })
    ctx.body = { node: membership.selfId, members, ring: forProtocol(ring.entries(), callerProtocol(ctx)) } satisfies MembershipAnswer
  })

  router.get('/health', (ctx) => {
    const body = { success: true, node: membership.selfId, ...status() }
    ctx.body = body.ring_state === 'joining' && callerProtocol(ctx) < JOINING_PROTOCOL ? { ...body, ring_state: 'member' } : body
  })
}

/** The protocol the caller announced (x-dynamo-protocol; none: 1, an older proxy or a user's curl). */
function callerProtocol(ctx: { get(name: string): string }): number {
  return protocolOfHeader(ctx.get(HEADER_PROTOCOL) || undefined)
}
