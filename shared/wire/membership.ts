/** Membership as nodes gossip it and as GET /membership and the proxy's GET /cluster show it. */
import { z } from 'zod'
import { MAX_GOSSIP_MEMBERS, MemberAddressSchema, MemberIdSchema } from './member-id.js'
import { ProtocolVersionSchema } from './protocol.js'
import { RingEntriesSchema } from './ring.js'

export { MAX_GOSSIP_MEMBERS, MemberAddressSchema, MemberIdSchema }

export const MemberStatusSchema = z.enum(['up', 'suspect', 'down'])
export type MemberStatus = z.infer<typeof MemberStatusSchema>

/** A member as gossiped between nodes. `generation` grows at every restart and beats any heartbeat. */
export const GossipMemberSchema = z.object({
  id: MemberIdSchema,
  address: MemberAddressSchema,
  generation: z.number().int().nonnegative(),
  heartbeat: z.number().int().nonnegative(),
  /** Set only by the member itself on graceful shutdown. */
  left: z.boolean().default(false),
  /** Set by the member itself while its free space is below its reserve: send it no data. */
  full: z.boolean().optional(),
  /** The protocol version the member speaks, set by itself (shared/wire/protocol.ts; absent: 1, v0.2.0). */
  protocol: ProtocolVersionSchema.optional(),
  /** Its --vnodes, set by itself: members that disagree place keys differently, so none drops a copy it hands over while they do. */
  vnodes: z.number().int().min(1).max(65_536).optional(),
  /** Set by the member itself (protocol 4): a digest of the owners its last complete ownership transfer was for (a joining node waits for every live holder's). */
  rebalanced: z.string().max(32).optional(),
})
export type GossipMember = z.infer<typeof GossipMemberSchema>

/** One push-pull exchange: the sender's member table and, since the explicit ring, its ring record (absent from older nodes). */
export const GossipMessageSchema = z.object({ from: MemberIdSchema, members: z.array(GossipMemberSchema).max(MAX_GOSSIP_MEMBERS), ring: RingEntriesSchema.optional() })
export type GossipMessage = z.infer<typeof GossipMessageSchema>

/** A member as one observer sees it. */
export const MemberViewSchema = z.object({
  id: z.string(),
  address: z.string(),
  status: MemberStatusSchema,
  generation: z.number().int(),
  heartbeat: z.number().int(),
  last_seen: z.string(),
  /** Present (true) while the member's free space is below its reserve: it takes no new data. */
  full: z.boolean().optional(),
  /** The member's clock minus the observer's, when the observer has heard from it (ms). */
  clock_offset_ms: z.number().int().optional(),
  /** The protocol version it announces (absent: 1, or not known). */
  protocol: ProtocolVersionSchema.optional(),
})
export type MemberView = z.infer<typeof MemberViewSchema>

/** GET /membership: the node's member table as it sees it, and its ring record (which nodes own ranges). */
export const MembershipAnswerSchema = z.object({ node: z.string(), members: z.array(MemberViewSchema), ring: RingEntriesSchema.optional() })
export type MembershipAnswer = z.infer<typeof MembershipAnswerSchema>
