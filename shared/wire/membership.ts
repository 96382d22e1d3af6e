/** Membership as nodes gossip it and as GET /membership and the proxy's GET /cluster show it. */
import { z } from 'zod'

export const MemberStatusSchema = z.enum(['up', 'suspect', 'down'])
export type MemberStatus = z.infer<typeof MemberStatusSchema>

/** A member as gossiped between nodes. `generation` grows at every restart and beats any heartbeat. */
export const GossipMemberSchema = z.object({
  id: z.string().min(1).max(64),
  address: z.string().min(3).max(300),
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
export const GossipMessageSchema = z.object({ from: z.string().min(1).max(64), members: z.array(GossipMemberSchema).max(MAX_GOSSIP_MEMBERS) })
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
})
export type MemberView = z.infer<typeof MemberViewSchema>

export const MembershipAnswerSchema = z.object({ node: z.string(), members: z.array(MemberViewSchema) })
export type MembershipAnswer = z.infer<typeof MembershipAnswerSchema>
