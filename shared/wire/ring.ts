/**
 * The ring record: which nodes own ranges, as an administrator decided it (Dynamo 4.8.1), gossiped
 * among members and read by proxies. One entry per node ever admitted, each with its own version;
 * liveness is not in it (that is gossip's, shared/wire/membership.ts).
 */
import { z } from 'zod'
import { MAX_GOSSIP_MEMBERS, MemberAddressSchema, MemberIdSchema } from './member-id.js'

/**
 * Where a node is in its life in the ring. Append only (shared/ring/ring-record.ts ranks them):
 * `member` owns ranges; `leaving` still owns them while it hands its data to the next owners
 * (decommission); `removed` owns nothing and never comes back under that id; `joining` (protocol 4)
 * will own ranges: their holders stream them to it, writes and reads still go to them, and it makes
 * itself a member once every live holder says it has sent its share. A member that speaks an older
 * protocol is shown a joining node as a member (`forProtocol`), as it would have been before.
 */
export const RingStateSchema = z.enum(['member', 'leaving', 'removed', 'joining'])
export type RingState = z.infer<typeof RingStateSchema>

export const RingEntrySchema = z.object({
  id: MemberIdSchema,
  address: MemberAddressSchema,
  state: RingStateSchema,
  /** Grows by one at every change of this entry; the higher version wins a merge. */
  version: z.number().int().nonnegative(),
  /** Who made this version (the node itself when it joined, else the member that applied an operator's change). */
  by: z.string().max(64),
  /** When, on that member's clock (ISO 8601); informative only. */
  at: z.string().max(40),
})
export type RingEntry = z.infer<typeof RingEntrySchema>

export const RingEntriesSchema = z.array(RingEntrySchema).max(MAX_GOSSIP_MEMBERS)

/** The protocol that brought `joining`: older members' schema refuses the state. */
export const JOINING_PROTOCOL = 4

/**
 * Entries as a member speaking `protocol` can read them: below 4, a joining node is shown as a
 * member (what it was before); to a seed not heard from yet (`undefined`), joining nodes are left
 * out, so a new member never learns a joining node as a member from us.
 */
export function forProtocol(entries: readonly RingEntry[], protocol: number | undefined): RingEntry[] {
  if (protocol === undefined) return entries.filter((e) => e.state !== 'joining')
  if (protocol >= JOINING_PROTOCOL) return [...entries]
  return entries.map((e) => (e.state === 'joining' ? { ...e, state: 'member' } : e))
}

/** POST /internal/ring/change: an operator's change of one entry, sent by a proxy to a live member. */
export const RingChangeRequestSchema = z.object({ id: MemberIdSchema, state: RingStateSchema })
export type RingChangeRequest = z.infer<typeof RingChangeRequestSchema>
export const RingAnswerSchema = z.object({ node: z.string(), ring: RingEntriesSchema })
export type RingAnswer = z.infer<typeof RingAnswerSchema>
