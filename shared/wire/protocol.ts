/**
 * The protocol members speak to each other, and how a cluster of mixed builds agrees on one during a
 * rolling upgrade (Riak negotiates capabilities the same way, in miniature).
 *
 * Every member announces the version it speaks: a node in its own gossip entry (so every node and,
 * through their views, every proxy learns it), and both sides of an RPC channel on its upgrade.
 * A member that announces nothing speaks version 1 (v0.2.0: the build rolling upgrades start from).
 *
 * The rule for every later change to the wire (a field an older member would drop or misread, a
 * new call, a new frame): bump PROTOCOL_VERSION, note below what it brings, and use it only while
 * `negotiatedProtocol` of the members concerned (the ring's nodes for what nodes store or send each
 * other; the two ends for what stays on one channel) is at least that version. Until the last
 * member is upgraded, everyone keeps speaking the old way; test/cluster/rolling-upgrade.test.ts
 * upgrades a v0.2.0 cluster to the current build under load and must stay green.
 *
 *   1  v0.2.0 (announces nothing)
 *   2  announces its version in gossip and on the RPC upgrade; nothing else changes on the wire
 *   3  object versions record the incarnation of their bucket (`meta.incarnation`): proxies set it
 *      only when every node of the ring speaks 3 (an older node would drop it)
 *   4  the ring state `joining` (shared/wire/ring.ts), and the `rebalanced` field of gossip entries:
 *      members and proxies that speak less are shown a joining node as a member (an older schema
 *      refuses the state); proxies announce their version on GET /membership to be shown it
 */
import { z } from 'zod'

export const PROTOCOL_VERSION = 4

/** What a member that announces no version speaks. */
export const UNANNOUNCED_PROTOCOL = 1

export const ProtocolVersionSchema = z.number().int().min(1).max(65_535)

/** The version a set of members can all speak: the lowest announced, and 1 for one that announced none (or is not heard from yet). */
export function negotiatedProtocol(announced: Iterable<number | undefined>): number {
  let lowest = PROTOCOL_VERSION
  for (const v of announced) lowest = Math.min(lowest, v ?? UNANNOUNCED_PROTOCOL)
  return lowest
}

/** The RPC upgrade's header (request and 101 answer) announcing the sender's version. */
export const HEADER_PROTOCOL = 'x-dynamo-protocol'

/** A version from that header: absent or malformed is 1 (an older member sends none). */
export function protocolOfHeader(value: string | undefined): number {
  const parsed = ProtocolVersionSchema.safeParse(value === undefined ? undefined : Number(value))
  return parsed.success ? parsed.data : UNANNOUNCED_PROTOCOL
}
