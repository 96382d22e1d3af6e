/**
 * Bucket incarnations on objects (issue 30): a bucket deleted and made again is a new incarnation
 * (its record's version id). Every version written into a bucket records the incarnation it was
 * written into (`meta.incarnation`, set by the write coordinator once every node of the ring
 * speaks protocol 3), so a write that a proxy with a stale view of the buckets made into a deleted
 * bucket does not show in the bucket made again under that name: reads and listings of one
 * incarnation see the versions of another as deleted. They stay in the context of a read, so the
 * next write supersedes them. A version that records no incarnation (older builds, metadata
 * namespaces) is seen in every incarnation, as before.
 */
import type { Version } from '../../shared/wire/internal-api.js'

/** The protocol version (shared/wire/protocol.ts) from which nodes keep `meta.incarnation`. */
export const INCARNATION_PROTOCOL = 3

/** The current incarnation of a bucket, when the proxy knows one. */
export type IncarnationOf = (bucket: string) => string | undefined

/** `versions` as incarnation `current` sees them: those written into another incarnation become tombstones (their clocks and dots kept). */
export function asSeenIn(current: string | undefined, versions: Version[]): Version[] {
  if (current === undefined) return versions
  let changed = false
  const seen = versions.map((v) => {
    const written = v.meta?.incarnation
    if (v.tombstone || written === undefined || written === current) return v
    changed = true
    return { ...v, tombstone: true }
  })
  return changed ? seen : versions
}
