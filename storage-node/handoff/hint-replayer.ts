/**
 * Hinted handoff (Dynamo 4.6), owned by the node holding the hints, so it works with every proxy
 * down: on a node-cron schedule, for each target that gossip says is up, stream the hinted versions
 * to it (the target reconciles by clock, so a redelivery is harmless), then drop them here.
 * Bounded concurrency; exponential backoff per target on failure; hints for a node that has left
 * the membership for good are dropped after `dropAfterMs`, with a log line. While a target gossips
 * that its disk is below its reserve, only its tombstones are delivered; its data waits here.
 *
 * A target the ring record marks `removed` (an operator's `dynamoctl node remove`) will never come
 * back for its hints: they are handed to the key's current primaries instead (this node's own store
 * when it is one of them), and dropped here only once every primary holds them, so a write that a
 * stand-in took for the removed node keeps its copies.
 */
import cron, { type ScheduledTask } from 'node-cron'
import { BadDigestError } from '../../shared/errors.js'
import { isClientError, type NodeClient, type NodeRef, RemoteError } from '../../shared/http/node-client.js'
import type { Logger } from '../../shared/log.js'
import { objectPosition } from '../../shared/ring/hash.js'
import { HashRing } from '../../shared/ring/hash-ring.js'
import { replicaCount } from '../../shared/ring/placement.js'
import { versionId } from '../../shared/vclock/versions.js'
import type { Version } from '../../shared/wire/internal-api.js'
import type { RingEntry } from '../../shared/wire/ring.js'
import type { Membership } from '../gossip/membership.js'
import type { BlobFiles } from '../store/blobs/blob-files.js'
import type { HintStore, KeyVersions, ReplicaStore, Space } from '../store/object-store.js'

export interface HintReplayerComponents {
  /** The hints this node holds for others, and its own data (where a removed node's hints may go). */
  store: HintStore & ReplicaStore
  blobs: Pick<BlobFiles, 'receive' | 'discard'>
  membership: Membership
  /** The ring record: who is removed, and who places keys now. */
  ring: { get(id: string): RingEntry | undefined; placement(): string[] }
  nodes: NodeClient
  log: Logger
}

export interface HintReplayerInit {
  /** node-cron expression of the retry loop (with seconds), e.g. every 2 s. */
  schedule: string
  /** Hinted keys read per batch, and deliveries in flight at once. */
  batchSize?: number
  concurrency?: number
  /** Hints for a node missing from the membership this long are dropped. */
  dropAfterMs: number
  /** Longest backoff after failed deliveries. */
  maxBackoffMs?: number
  /** Replicas per key and virtual nodes per member: where a removed node's hints go. */
  n: number
  vnodes: number
}

export class HintReplayer {
  private task: ScheduledTask | undefined
  private readonly backoff = new Map<string, { fails: number; until: number }>()
  private readonly missingSince = new Map<string, number>()
  /** Versions handed off since start. */
  delivered = 0
  /** Versions handed off since start, per target. */
  readonly deliveredTo = new Map<string, number>()
  /** Bytes of the versions handed off since start, per target (a tombstone has none). */
  readonly deliveredBytesTo = new Map<string, number>()
  /** Hinted versions of removed nodes handed to their keys' current primaries since start. */
  redirected = 0

  constructor(
    private readonly c: HintReplayerComponents,
    private readonly init: HintReplayerInit,
  ) {}

  start(): void {
    this.task = cron.schedule(this.init.schedule, () => this.round(), { noOverlap: true, name: 'hint-replayer' })
  }

  async stop(): Promise<void> {
    await this.task?.stop()
    await this.task?.destroy()
  }

  /** One pass over every target with pending hints. */
  async round(now = Date.now()): Promise<number> {
    let total = 0
    for (const target of Object.keys(this.c.store.hintTotals())) {
      if (this.c.ring.get(target)?.state === 'removed') {
        if ((this.backoff.get(target)?.until ?? 0) <= now) total += await this.redirectAll(target)
        continue
      }
      const status = this.c.membership.status(target)
      if (status === undefined) {
        await this.maybeDropAll(target, now)
        continue
      }
      this.missingSince.delete(target)
      if (status !== 'up' || (this.backoff.get(target)?.until ?? 0) > now) continue
      total += await this.deliverAll(target)
    }
    return total
  }

  private async deliverAll(target: string): Promise<number> {
    const address = this.c.membership.views().find((v) => v.id === target)?.address
    if (!address) return 0
    const ref = { id: target, address }
    const space: Space = { kind: 'hint', target }
    const started = Date.now()
    let delivered = 0
    let refused = 0
    let held = 0
    try {
      // One pass over the target's hints in key order: a hint the target refuses (a 4xx, e.g. a size
      // limit it has and we did not, or a 507 for want of room) is kept and skipped, so it cannot
      // block the hints after it (smaller ones, tombstones).
      await this.forEachHint(target, async (item) => {
        for (const v of item.versions) {
          // A target below its disk reserve takes no data; tombstones still go (they free space there).
          if (!v.tombstone && this.c.membership.isFull(target)) {
            held++
            continue
          }
          try {
            await this.deliver(ref, space, item.bucket, item.key, v)
            delivered++
            this.deliveredTo.set(target, (this.deliveredTo.get(target) ?? 0) + 1)
            this.deliveredBytesTo.set(target, (this.deliveredBytesTo.get(target) ?? 0) + v.size)
          } catch (err) {
            // Refused for this hint alone: bad for the target (4xx), or too large for the room it has left.
            if (!refusedByTarget(err)) throw err
            refused++
            this.c.log.warn({ target, bucket: item.bucket, key: item.key, err: String(err) }, 'hint refused by its target; kept for later')
          }
        }
      })
      if (refused === 0) this.backoff.delete(target)
      else this.backOff(target)
    } catch (err) {
      this.c.log.warn({ target, delivered, err: String(err), retryInMs: this.backOff(target) }, 'hint delivery failed')
    }
    if (delivered > 0) {
      this.delivered += delivered
      this.c.log.info({ target, delivered, ms: Date.now() - started, pending: this.c.store.hintTotals()[target]?.versions ?? 0, heldForSpace: held }, 'hints handed off')
    }
    return delivered
  }

  /**
   * The hints of a removed node, to each key's current primaries: a version is dropped here once
   * every primary took it (this node's own store when it is one); one a primary could not take
   * (down, refused) stays for the next round. Returns the versions dropped.
   */
  private async redirectAll(target: string): Promise<number> {
    const space: Space = { kind: 'hint', target }
    const placement = this.c.ring.placement()
    const ring = new HashRing(placement, this.init.vnodes)
    const self = this.c.membership.selfId
    let redirected = 0
    let waiting = 0
    try {
      await this.forEachHint(target, async (item) => {
        const primaries = ring.preferenceList(objectPosition(item.bucket, item.key)).slice(0, replicaCount(item.bucket, this.init.n, placement.length))
        for (const v of item.versions) {
          let placed = 0
          for (const p of primaries) {
            try {
              await this.placeOn(p, self, space, item.bucket, item.key, v)
              placed++
            } catch (err) {
              const refused = refusedByTarget(err)
              this.c.log[refused ? 'warn' : 'debug'](
                { target, primary: p, bucket: item.bucket, key: item.key, err: String(err) },
                "a removed node's hint not placed on a current primary; kept for later",
              )
            }
          }
          if (placed === primaries.length && primaries.length > 0) {
            await this.c.store.drop(space, item.bucket, item.key, [v.dot])
            redirected++
          } else waiting++
        }
      })
    } catch (err) {
      this.c.log.warn({ target, redirected, err: String(err), retryInMs: this.backOff(target) }, "handing a removed node's hints to the current primaries failed")
    }
    if (waiting > 0) this.backOff(target)
    else this.backoff.delete(target)
    if (redirected > 0 || waiting > 0) {
      this.redirected += redirected
      this.c.log.info({ target, redirected, waiting }, "hints for a removed node handed to the keys' current primaries")
    }
    return redirected
  }

  /** One hinted version onto `primary`: this node's own store, or a live peer (a down one throws). */
  private async placeOn(primary: string, self: string, space: Space, bucket: string, key: string, v: Version): Promise<void> {
    const id = versionId(v.dot)
    if (primary === self) {
      const body = v.tombstone ? null : await this.c.blobs.receive(await this.c.store.openData(bucket, key, id, space), v.size)
      if (body && (body.etag !== v.etag || body.size !== v.size)) {
        await this.c.blobs.discard(body)
        throw new BadDigestError(`the hinted bytes of ${bucket}/${key} ${id} do not match the version`)
      }
      await this.c.store.replicate(bucket, key, v, body)
      return
    }
    const address = this.c.membership.views().find((m) => m.id === primary)?.address
    if (!address || this.c.membership.status(primary) !== 'up') throw new Error(`${primary} is not up`)
    if (!v.tombstone && this.c.membership.isFull(primary)) throw new Error(`${primary} is below its disk reserve`)
    const body = v.tombstone ? null : { stream: await this.c.store.openData(bucket, key, id, space) }
    await this.c.nodes.replicate({ id: primary, address }, bucket, key, v, body)
  }

  /**
   * One pass over the hints held for `target`, in key order, a batch at a time (at most 100 batches
   * a round), `fn` running on a batch's keys with bounded concurrency; the first failure ends it.
   */
  private async forEachHint(target: string, fn: (item: KeyVersions) => Promise<void>): Promise<void> {
    let after: { bucket: string; key: string } | undefined
    for (let batches = 0; batches < 100; batches++) {
      const batch = this.c.store.hintBatch(target, this.init.batchSize ?? 100, after)
      if (batch.length === 0) break
      after = batch[batch.length - 1]
      await runBounded(batch, this.init.concurrency ?? 8, fn)
    }
  }

  /** Exponential backoff for a target after a failed or partly refused pass; returns the wait. */
  private backOff(target: string): number {
    const fails = (this.backoff.get(target)?.fails ?? 0) + 1
    const waitMs = Math.min(this.init.maxBackoffMs ?? 60_000, 1000 * 2 ** fails)
    this.backoff.set(target, { fails, until: Date.now() + waitMs })
    return waitMs
  }

  private async deliver(target: NodeRef, space: Space, bucket: string, key: string, v: Version): Promise<void> {
    const body = v.tombstone ? null : { stream: await this.c.store.openData(bucket, key, versionId(v.dot), space) }
    await this.c.nodes.replicate(target, bucket, key, v, body)
    await this.c.store.drop(space, bucket, key, [v.dot])
  }

  private async maybeDropAll(target: string, now: number): Promise<void> {
    const since = this.missingSince.get(target) ?? now
    this.missingSince.set(target, since)
    if (now - since < this.init.dropAfterMs) return
    const space: Space = { kind: 'hint', target }
    let dropped = 0
    for (let batch = this.c.store.hintBatch(target, 500); batch.length > 0; batch = this.c.store.hintBatch(target, 500)) {
      for (const item of batch)
        dropped += await this.c.store.drop(
          space,
          item.bucket,
          item.key,
          item.versions.map((v) => v.dot),
        )
    }
    this.missingSince.delete(target)
    this.c.log.warn({ target, dropped }, 'dropped hints for a node gone from the membership')
  }
}

/** A target's refusal of this version alone (a 4xx, or a 507 for want of room): kept and retried later, not a failure of the target. */
function refusedByTarget(err: unknown): boolean {
  return isClientError(err) || (err instanceof RemoteError && err.code === 'InsufficientStorage')
}

/** Run `fn` over `items` with at most `limit` in flight; the first failure rejects (after in-flight ones settle). */
async function runBounded<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  let failure: unknown
  const worker = async () => {
    while (next < items.length && failure === undefined) {
      const item = items[next++] as T
      try {
        await fn(item)
      } catch (err) {
        failure ??= err
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (failure !== undefined) throw failure
}
