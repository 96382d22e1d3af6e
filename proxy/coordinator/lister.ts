/**
 * Listing a bucket: keys are spread over every node, so each live node lists its own keys after
 * the cursor and the proxy merges them in key order, reconciling each key's versions across nodes.
 * Only keys up to the smallest last key of a truncated node answer are complete, so the page stops there.
 */
import { QuorumNotReachedError } from '../../shared/errors.js'
import { reconcile } from '../../shared/vclock/versions.js'
import { asSeenIn, type IncarnationOf } from '../buckets/incarnation.js'
import type { Version } from '../../shared/wire/internal-api.js'
import type { MembershipView } from '../membership/membership-view.js'
import { isClientError, isNodeFailure, type NodeClient } from '../../shared/http/node-client.js'

export interface ListedKey {
  key: string
  /** Live (non-tombstone) surviving versions; never empty. */
  live: Version[]
}

/** Keys compare as UTF-8 bytes, the order the nodes' store keeps them in. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

export class Lister {
  constructor(
    private readonly view: MembershipView,
    private readonly nodes: NodeClient,
    private readonly cfg: { n: number },
    /** The bucket's current incarnation: keys whose versions were all written into another are not listed (proxy/buckets/incarnation.ts). */
    private readonly incarnationOf?: IncarnationOf,
  ) {}

  async page(bucket: string, q: { prefix: string; after?: string | undefined; limit: number }): Promise<{ keys: ListedKey[]; next: string | undefined }> {
    const targets = this.view.usableNodes()
    const settled = await Promise.allSettled(targets.map((t) => this.nodes.list(t, bucket, q)))
    const answers = settled.flatMap((s, i) => {
      if (s.status === 'fulfilled') return [s.value]
      if (isNodeFailure(s.reason)) this.view.markFailed((targets[i] as { id: string }).id)
      return []
    })
    const clientErrors = settled.flatMap((s) => (s.status === 'rejected' && isClientError(s.reason) ? [s.reason] : []))
    if (clientErrors.length > 0 && answers.length === 0) throw clientErrors[0]
    // With N replicas per key, a listing is complete while fewer than N nodes are missing.
    if (answers.length === 0 || targets.length - answers.length >= this.cfg.n) {
      throw new QuorumNotReachedError(
        Math.max(1, targets.length - this.cfg.n + 1),
        answers.map((a) => a.node),
        ['too few nodes answered the listing'],
      )
    }
    const truncatedEnds = answers.filter((a) => a.truncated).map((a) => a.entries[a.entries.length - 1]?.key as string)
    const cutoff = truncatedEnds.sort(compareKeys)[0]
    const byKey = new Map<string, Version[][]>()
    for (const a of answers) for (const e of a.entries) byKey.set(e.key, [...(byKey.get(e.key) ?? []), e.versions])
    const keys = [...byKey.keys()]
      .filter((k) => cutoff === undefined || compareKeys(k, cutoff) <= 0)
      .sort(compareKeys)
      .slice(0, q.limit)
    const more = cutoff !== undefined || byKey.size > keys.length
    const incarnation = this.incarnationOf?.(bucket)
    const listed = keys.flatMap((key) => {
      const live = asSeenIn(incarnation, reconcile(...(byKey.get(key) ?? []))).filter((v) => !v.tombstone)
      return live.length ? [{ key, live }] : []
    })
    return { keys: listed, next: more ? keys[keys.length - 1] : undefined }
  }

  /** Every live key of a bucket, page by page. */
  async *all(bucket: string, prefix = '', pageSize = 1000): AsyncGenerator<ListedKey> {
    let after: string | undefined
    do {
      const page = await this.page(bucket, { prefix, after, limit: pageSize })
      yield* page.keys
      after = page.next
    } while (after !== undefined)
  }
}
