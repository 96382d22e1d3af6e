/**
 * The answer of the proxy's `GET /cluster/status` (admin keys), defined once: what the cluster page
 * (proxy/ui/static/) draws and what a script may poll. One call gathers what an operator watches:
 * members as this proxy acts on them, the ring's arcs, each node's disk, memory and hints, recent
 * conflicts and repairs, and request counters (rates are the difference between two answers).
 * Only append fields.
 */
import { z } from 'zod'
import { DiskStatusSchema, MemoryStatusSchema } from './internal-api.js'
import { MemberStatusSchema } from './membership.js'

/** A storage node: its gossip entry as this proxy acts on it, and what its /health said (absent when it did not answer). */
export const NodeStatusSchema = z.object({
  id: z.string(),
  address: z.string(),
  status: MemberStatusSchema,
  generation: z.number().int(),
  last_seen: z.string(),
  /** Below its disk reserve: it takes no new data. */
  full: z.boolean().optional(),
  /** Share of the ring it is the first owner of (0..1). */
  ownership: z.number(),
  /** Whether its /health answered this time. */
  answered: z.boolean(),
  disk: DiskStatusSchema.optional(),
  memory: MemoryStatusSchema.optional(),
  /** Hints it holds for other nodes (all targets summed). */
  hints_held: z.object({ versions: z.number(), bytes: z.number() }).optional(),
  /** Keys anti-entropy repaired on it since it started. */
  anti_entropy_keys_repaired: z.number().optional(),
})
export type NodeStatus = z.infer<typeof NodeStatusSchema>

/** One arc of the ring, `(start, end]` in 0..2^32 (the first may wrap: start > end; start = end is the whole ring). */
export const RingArcSchema = z.object({ start: z.number(), end: z.number(), node: z.string() })
export type RingArc = z.infer<typeof RingArcSchema>

/** A recent event (proxy/coordinator/recent-events.ts): the same bucket and key one after another are folded into `count`. */
export const RecentEventSchema = z.object({ at: z.string(), bucket: z.string(), key: z.string(), count: z.number().int(), detail: z.string() })
export type RecentEventWire = z.infer<typeof RecentEventSchema>

/** Requests this proxy answered since it started, by method and by status class (its own status and page requests left out). */
export const RequestCountsSchema = z.object({
  total: z.number(),
  by_method: z.record(z.string(), z.number()),
  by_class: z.record(z.enum(['2xx', '3xx', '4xx', '5xx']), z.number()),
})
export type RequestCounts = z.infer<typeof RequestCountsSchema>

export const ClusterStatusSchema = z.object({
  success: z.literal(true),
  /** When this answer was made (ISO 8601, the proxy's clock): rates divide by the difference. */
  at: z.string(),
  n: z.number().int(),
  r: z.number().int(),
  w: z.number().int(),
  proxy: z.object({ uptime_s: z.number(), memory: MemoryStatusSchema }),
  nodes: z.array(NodeStatusSchema),
  ring: z.object({ vnodes_per_node: z.number().int(), arcs: z.array(RingArcSchema) }),
  /** Hints pending per target node, summed over the nodes holding them. */
  pending_hints: z.record(z.string(), z.object({ versions: z.number(), bytes: z.number(), holders: z.array(z.string()) })),
  conflicts: z.object({ sibling_reads: z.number(), recent: z.array(RecentEventSchema) }),
  repairs: z.object({ read_repairs: z.number(), read_repair_failures: z.number(), anti_entropy_keys_repaired: z.number(), recent: z.array(RecentEventSchema) }),
  /** Absent when the proxy runs without metrics. */
  requests: RequestCountsSchema.optional(),
})
export type ClusterStatus = z.infer<typeof ClusterStatusSchema>
