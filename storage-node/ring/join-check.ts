/**
 * When a joining node has caught up (Dynamo 4.9's "confirmation" of a transfer, as gossip): each
 * node announces in its gossip entry a digest of the owners its last complete ownership transfer was
 * for; a joining node takes reads and writes (becomes a member) once every live holder of the ring
 * announces the current owners' digest, so each key is here from at least one of its holders.
 * A holder announces it only after a pass that left no key of a joining node unsent. Holders that are down are not waited for (the other replicas of their keys sent them), nor holders
 * of an older build (they see the joining node as a member and send without announcing). With no
 * member known once gossip has been heard, the node is one of the first of a new cluster.
 */
import { createHash } from 'node:crypto'
import { JOINING_PROTOCOL } from '../../shared/wire/ring.js'
import type { Membership } from '../gossip/membership.js'
import type { NodeRing } from './node-ring.js'

/** A short digest of a list of owners: what a node announces in gossip once its transfer for them is complete. */
export function ownersDigest(owners: readonly string[]): string {
  return createHash('sha256').update(owners.join(',')).digest('hex').slice(0, 16)
}

/** What a node announces while its last pass left a joining node's key unsent (an older build's relay, which drops the field, keeps the last value instead). */
export const NOT_REBALANCED = 'pending'

/** The holders a joining node still waits for (none: it may become a member), or undefined when it cannot tell yet. */
export function joinWaitingFor(
  ring: Pick<NodeRing, 'selfId' | 'placement'>,
  membership: Pick<Membership, 'status' | 'protocolOf' | 'rebalancedOf'>,
  heardFromCluster: boolean,
  owners: readonly string[],
): string[] | undefined {
  const want = ownersDigest(owners)
  const holders = ring.placement().filter((id) => id !== ring.selfId)
  if (holders.length === 0 && !heardFromCluster) return undefined
  return holders.filter((id) => {
    // Down, or never heard of by gossip (the seeds that gave us the ring would know a live one): its keys' other replicas sent them.
    const status = membership.status(id)
    if (status === undefined || status === 'down' || (membership.protocolOf(id) ?? 1) < JOINING_PROTOCOL) return false
    return membership.rebalancedOf(id) !== want
  })
}
