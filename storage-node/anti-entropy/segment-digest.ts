/** What two replicas compare in anti-entropy: per segment, a digest of the keys both replicate. */
import { createHash } from 'node:crypto'
import { objectPosition } from '../../shared/ring/hash.js'
import type { HashRing } from '../../shared/ring/hash-ring.js'
import { replicaCount } from '../../shared/ring/placement.js'

export interface KeyIds {
  bucket: string
  key: string
  /** Ids of the versions held, sorted, space-separated. */
  ids: string
}

/** Keys whose N primaries (in this ring) include both `a` and `b`: the ones the two must agree on. */
export function sharedBy(ring: HashRing, n: number, a: string, b: string): (bucket: string, key: string) => boolean {
  return (bucket, key) => {
    const primaries = ring.preferenceList(objectPosition(bucket, key)).slice(0, replicaCount(bucket, n, ring.nodes.length))
    return primaries.includes(a) && primaries.includes(b)
  }
}

/** SHA-256 over the shared keys and their version ids, in the index's (deterministic) key order. */
export function segmentDigest(entries: Iterable<KeyIds>, shared: (bucket: string, key: string) => boolean): string {
  const h = createHash('sha256')
  for (const e of entries) if (shared(e.bucket, e.key)) h.update(`${e.bucket}\u0000${e.key}\u0000${e.ids}\n`)
  return h.digest('hex')
}

/** Keys whose version ids differ between the two sides (or that one side lacks). */
export function differingKeys(mine: readonly KeyIds[], theirs: readonly KeyIds[]): { bucket: string; key: string }[] {
  const id = (e: { bucket: string; key: string }) => `${e.bucket}\u0000${e.key}`
  const their = new Map(theirs.map((e) => [id(e), e.ids]))
  const out = new Map<string, { bucket: string; key: string }>()
  for (const e of mine) if (their.get(id(e)) !== e.ids) out.set(id(e), { bucket: e.bucket, key: e.key })
  const my = new Set(mine.map(id))
  for (const e of theirs) if (!my.has(id(e))) out.set(id(e), { bucket: e.bucket, key: e.key })
  return [...out.values()]
}
