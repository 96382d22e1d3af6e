/**
 * Ownership transfers (issue 30): when the ring's owners change, each node streams the keys it
 * holds to their new owners. What one node asks another (which versions it already holds) and the
 * progress a node reports in GET /health, which the proxy's /cluster and `dynamoctl node status` show.
 */
import { z } from 'zod'

/** Keys asked about per request: bounded like other internal bodies. */
export const MAX_TRANSFER_KEYS = 500

/** POST /internal/transfer/have: which versions of these keys does the node hold (its own data, not hints)? */
export const TransferHaveRequestSchema = z.object({ keys: z.array(z.object({ bucket: z.string().max(256), key: z.string().max(4096) })).max(MAX_TRANSFER_KEYS) })
export type TransferHaveRequest = z.infer<typeof TransferHaveRequestSchema>
/** Per key asked, in order: the ids of the versions held (none: an empty list). */
export const TransferHaveAnswerSchema = z.object({ node: z.string(), ids: z.array(z.array(z.string())) })
export type TransferHaveAnswer = z.infer<typeof TransferHaveAnswerSchema>

/**
 * What a node's transfer loop is doing: `moving` a pass over its keys, `draining` (a decommissioned
 * node after its removal, sending what late writes brought it), `done` (decommissioned: stop it and
 * delete its data dir), `idle` (its last pass is complete).
 */
export const TransferPhaseSchema = z.enum(['idle', 'moving', 'draining', 'done'])
export const TransferProgressSchema = z.object({
  phase: TransferPhaseSchema,
  /** `rebalance`: the owners changed (a join or a remove); `decommission`: this node is leaving and hands over everything it holds. */
  kind: z.enum(['rebalance', 'decommission']),
  /** Ring record version the pass works for. */
  ring_version: z.number(),
  started_at: z.string(),
  finished_at: z.string().optional(),
  /** This pass: how many arcs of the ring (between two consecutive virtual nodes of the owners) its keys fall in. */
  ranges: z.number().optional(),
  /** This pass: keys (and their bytes) of this node with a new owner still to check, and how many were checked (left: total - done). */
  keys_total: z.number(),
  keys_done: z.number(),
  bytes_total: z.number(),
  bytes_done: z.number(),
  /** Versions and bytes actually sent for this change of owners so far, over all its passes (the rest the new owners already held). */
  versions_sent: z.number(),
  bytes_sent: z.number(),
  /** Keys sent for this change so far, per receiving node. */
  to: z.record(z.string(), z.number()),
  /** Keys or targets that failed in this pass (retried by the next). */
  failures: z.number(),
  /** Passes completed since the node started. */
  passes: z.number(),
  /** This pass so far: bytes of keys checked per second, and the seconds left at that pace (absent before its first batch). */
  bytes_per_s: z.number().optional(),
  eta_s: z.number().optional(),
  /** A joining node: the live holders of its ranges that have not yet said they sent them (it takes reads once none is left). */
  waiting_for: z.array(z.string()).optional(),
})
export type TransferProgress = z.infer<typeof TransferProgressSchema>
