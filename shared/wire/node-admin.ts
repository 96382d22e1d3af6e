/**
 * The proxy's node admin API (admin keys only): the ring as operators see and change it. An entry
 * leaves the ring only through these routes: `decommission` (alive: it hands its data to the next
 * owners, then removes itself) or `remove` (dead for good: the others re-replicate its keys).
 */
import { z } from 'zod'
import { MemberStatusSchema } from './membership.js'
import { RingEntrySchema, RingStateSchema } from './ring.js'
import { TransferProgressSchema } from './transfer.js'

export const NodeStatusSchema = z.object({
  id: z.string(),
  address: z.string(),
  /** The node's state in the ring record; absent for a node gossip knows that is not in the ring. */
  ring_state: RingStateSchema.optional(),
  /** Liveness as this proxy sees it (gossip and its own failed requests). */
  status: MemberStatusSchema,
  /** Seconds since its last heartbeat, while down. */
  down_for_s: z.number().optional(),
  /** Share of the ring it is the first owner of. */
  ownership: z.number(),
  /** Its ownership transfer, as its /health said (a node that did not answer has none). */
  transfer: TransferProgressSchema.optional(),
})
export type NodeStatus = z.infer<typeof NodeStatusSchema>

/** GET /admin/nodes */
export const NodeListAnswerSchema = z.object({
  success: z.literal(true),
  ring_version: z.number(),
  n: z.number(),
  nodes: z.array(NodeStatusSchema),
})
export type NodeListAnswer = z.infer<typeof NodeListAnswerSchema>

/** POST /admin/nodes/:id/decommission and /remove: the node's ring entry after the change. */
export const NodeChangeAnswerSchema = z.object({ success: z.literal(true), node: RingEntrySchema, ring_version: z.number() })
export type NodeChangeAnswer = z.infer<typeof NodeChangeAnswerSchema>

export const nodeAdminRoutes = {
  nodes: '/admin/nodes',
  decommission: (id: string, force = false) => `/admin/nodes/${encodeURIComponent(id)}/decommission${force ? '?force=true' : ''}`,
  remove: (id: string, force = false) => `/admin/nodes/${encodeURIComponent(id)}/remove${force ? '?force=true' : ''}`,
} as const
