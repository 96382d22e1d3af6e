/** Membership as nodes gossip it and as GET /membership and the proxy's GET /cluster show it. */
import { z } from 'zod'
import { isMemberAddress, NODE_ID_RE } from '../names.js'

export const MemberStatusSchema = z.enum(['up', 'suspect', 'down'])
export type MemberStatus = z.infer<typeof MemberStatusSchema>

/** A member id and a member address, with the rules of the command line (--id, --advertise, --seeds). */
export const MemberIdSchema = z.string().regex(NODE_ID_RE, 'a member id: letters, digits, "-" and "_", at most 63')
export const MemberAddressSchema = z.string().max(300).refine(isMemberAddress, 'a member address: host:port')

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
})
export type GossipMember = z.infer<typeof GossipMemberSchema>

/** Gossip digests are bounded so a bad peer cannot make a node allocate without limit. */
export const MAX_GOSSIP_MEMBERS = 2048
export const GossipMessageSchema = z.object({ from: MemberIdSchema, members: z.array(GossipMemberSchema).max(MAX_GOSSIP_MEMBERS) })
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
})
export type MemberView = z.infer<typeof MemberViewSchema>

export const MembershipAnswerSchema = z.object({ node: z.string(), members: z.array(MemberViewSchema) })
export type MembershipAnswer = z.infer<typeof MembershipAnswerSchema>
