/**
 * Quorum reads (Dynamo 4.5): ask the live replicas of the preference list, and for each primary
 * that is down its stand-in's hints (sloppy read), wait for R answers, reconcile their versions by
 * dotted version vectors, and hand the stale primaries the merged result in the background (read
 * repair, counted). An empty answer from a stand-in does not count toward R: it only says the
 * stand-in holds no hint, not that the key is absent.
 */
import type { Readable } from 'node:stream'
import { NoSuchVersionError, QuorumNotReachedError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import { versionId } from '../../shared/vclock/versions.js'
import type { ByteSpan } from '../../shared/wire/internal-api.js'
import type { MembershipView } from '../membership/membership-view.js'
import { isNodeFailure, type NodeClient, RemoteError } from '../../shared/http/node-client.js'
import { shuffled } from '../../shared/shuffled.js'
import { gatherFirst, gatherQuorum } from './quorum.js'
import { planTargets, type Target } from './sloppy-quorum.js'
import { type Answer, disagree, type Holder, merge, type ReadOutcome } from './read-outcome.js'
import type { ReadRepairer } from './read-repair.js'
import { RecentEvents } from './recent-events.js'
import { replicaCount } from '../../shared/ring/placement.js'
import { loadManifest, openManifest } from './manifest-reader.js'
import { asSeenIn, type IncarnationOf } from '../buckets/incarnation.js'

export interface ReadCoordinatorComponents {
  view: MembershipView
  nodes: NodeClient
  repairer: ReadRepairer
  log: Logger
  /** The bucket's current incarnation: versions written into another are seen as deleted (proxy/buckets/incarnation.ts). */
  incarnationOf?: IncarnationOf | undefined
}

export interface ReadConfig {
  n: number
  /**
   * Chance that a read with every primary up asks all N replicas rather than R, so replicas the
   * quorum reads skip still get read-repaired now and then (Cassandra's read_repair_chance).
   */
  fullReadChance: number
  /** A replica silent this long gets a speculative request to one more (0: never). */
  speculateAfterMs: number
  random?: () => number
}

export class ReadCoordinator {
  constructor(
    private readonly c: ReadCoordinatorComponents,
    private readonly cfg: ReadConfig,
  ) {}

  /** Reads answered since start, and those whose answer held more than one live version (siblings): read by GET /metrics. */
  readonly stats = { reads: 0, siblingReads: 0 }
  /** The last reads that found siblings (the cluster page's recent conflicts). */
  readonly recentSiblings = new RecentEvents()

  /**
   * Read at quorum R. With every primary up, only R of them are asked (at random, so load spreads;
   * R + W > N makes R answers enough), and the others only when those answers disagree (then
   * they are read-repaired too) or once in a while by `fullReadChance`. With a stand-in among the
   * targets, all are asked (a stand-in's empty answer does not count).
   * `withData` false: the caller needs only the versions (HEAD, existence, delete), so no bytes ride along.
   */
  async read(bucket: string, key: string, r: number, requestId?: string, withData = true): Promise<ReadOutcome> {
    const read = await this.readQuorum(bucket, key, r, requestId, withData)
    const outcome = { ...read, versions: asSeenIn(this.c.incarnationOf?.(bucket), read.versions) }
    this.stats.reads++
    const live = outcome.versions.filter((v) => !v.tombstone).length
    if (live > 1) {
      this.stats.siblingReads++
      this.recentSiblings.add(bucket, key, `${live} siblings`)
    }
    return outcome
  }

  private async readQuorum(bucket: string, key: string, r: number, requestId: string | undefined, withData: boolean): Promise<ReadOutcome> {
    const prefs = this.c.view.preferenceList(bucket, key)
    const plan = planTargets(prefs, replicaCount(bucket, this.cfg.n, prefs.length), (id) => this.c.view.isUsable(id))
    if (plan.targets.length < r) throw new QuorumNotReachedError(r, [], [`only ${plan.targets.length} live nodes can answer for this key`])
    const random = this.cfg.random ?? Math.random
    const ask = (t: Target, data: boolean) => this.ask(bucket, key, t, data, requestId)
    if (plan.targets.some((t) => t.hintFor !== undefined) || r >= plan.targets.length || random() < this.cfg.fullReadChance) {
      return this.readAll(bucket, key, r, plan.targets, (t) => ask(t, withData))
    }
    const order = shuffled(plan.targets, random)
    // One of the first R sends the bytes along (and any replica asked later, in place of a failed
    // or slow one): the others' versions only confirm them. If the one with bytes turns out stale,
    // openVersion fetches them from a holder of the winning version.
    const q = await gatherFirst(
      order.map((t, i) => ({ node: t.node.id, start: () => ask(t, withData && (i === 0 || i >= r)) })),
      r,
      this.cfg.speculateAfterMs,
    )
    if (q.ok.length < r)
      throw new QuorumNotReachedError(
        r,
        q.ok.map((o) => o.node),
        q.failed.map((f) => String(f.error)),
      )
    // R replicas hold nothing while others went unasked: ask those before answering "no such key"
    // (Riak's notfound_ok = false). A primary can lack a version the others hold for a long while:
    // it was below its disk reserve when the version was written (a stand-in holds its hint), or
    // down then with its hint not handed off yet.
    let rest: Answer[] = []
    const askRest = q.unasked.length > 0 && q.ok.every((o) => o.value.versions.length === 0)
    if (askRest) {
      const more = await Promise.allSettled(q.unasked.map((i) => ask(order[i] as Target, withData)))
      rest = more.flatMap((m) => (m.status === 'fulfilled' ? [m.value] : []))
    }
    const outcome = merge([...q.ok.map((o) => o.value), ...rest])
    void q.all
      .then(async (all) => {
        const answers = [...all.flatMap((a) => (a.ok && a.value ? [a.value] : [])), ...rest]
        if (!askRest && q.unasked.length > 0 && disagree(answers)) {
          const more = await Promise.allSettled(q.unasked.map((i) => ask(order[i] as Target, false)))
          for (const m of more) if (m.status === 'fulfilled') answers.push(m.value)
        }
        this.c.repairer.repair(bucket, key, merge(answers), answers)
      })
      .catch((err: unknown) => this.c.log.warn({ bucket, key, err: String(err) }, 'read repair not started'))
    return outcome
  }

  /** Ask every target; wait for R answers that count (a stand-in's empty answer does not). */
  private async readAll(bucket: string, key: string, r: number, targets: readonly Target[], ask: (t: Target) => Promise<Answer>): Promise<ReadOutcome> {
    const calls = targets.map((t) => ({ node: t.node.id, promise: ask(t) }))
    const q = await gatherQuorum(calls, r, (a) => !a.node.hintFor || a.versions.length > 0, false)
    const counted = q.ok.filter((o) => !o.value.node.hintFor || o.value.versions.length > 0)
    // Empty stand-in answers alone say nothing about the key (a proxy cut off from every primary
    // must not answer "no such bucket/key"): at least one answer must count.
    if ((counted.length < r && q.ok.length < r) || counted.length === 0) {
      throw new QuorumNotReachedError(
        r,
        q.ok.map((o) => o.node),
        q.failed.map((f) => String(f.error)),
      )
    }
    const outcome = merge(q.ok.map((o) => o.value))
    // Repair once every replica has answered (or failed): the stale primaries get what they miss.
    void q.all
      .then((all) => {
        const answers = all.flatMap((a) => (a.ok && a.value ? [a.value] : []))
        this.c.repairer.repair(
          bucket,
          key,
          merge(answers),
          answers.filter((a) => !a.node.hintFor),
        )
      })
      .catch((err: unknown) => this.c.log.warn({ bucket, key, err: String(err) }, 'read repair not started'))
    return outcome
  }

  /** One replica's versions (and, with `withData`, the bytes of its one small live version). */
  private ask(bucket: string, key: string, t: Target, withData: boolean, requestId: string | undefined): Promise<Answer> {
    const opts = { requestId, hintFor: t.hintFor }
    return (withData ? this.c.nodes.versionsWithData(t.node, bucket, key, opts) : this.c.nodes.versions(t.node, bucket, key, opts)).then(
      (a): Answer => ({ node: { ...t.node, hintFor: t.hintFor }, versions: a.versions, data: 'data' in a ? (a.data as Buffer | undefined) : undefined }),
      (err: unknown) => {
        if (isNodeFailure(err)) this.c.view.markFailed(t.node.id)
        throw err
      },
    )
  }

  /**
   * One version's bytes as clients see them (with `range`, those only): a manifest version's are
   * its parts' in order (manifest-reader.ts), any other's are its stored bytes (openStored).
   */
  async openVersion(bucket: string, key: string, outcome: ReadOutcome, id: string, requestId?: string, range?: ByteSpan): Promise<Readable | Buffer> {
    const version = outcome.versions.find((v) => versionId(v.dot) === id)
    if (!version?.meta?.manifest) return this.openStored(bucket, key, outcome, id, requestId, range)
    const manifest = await loadManifest(this, bucket, key, outcome, version, requestId)
    return openManifest(this, Math.floor(this.cfg.n / 2) + 1, manifest, requestId, range)
  }

  /**
   * One version's stored bytes (with `range`, those only): those that came with the read, else
   * streamed from the first holder that serves them.
   */
  async openStored(bucket: string, key: string, outcome: ReadOutcome, id: string, requestId?: string, range?: ByteSpan): Promise<Readable | Buffer> {
    const inline = outcome.inline.get(id)
    if (inline) return range ? inline.subarray(range.start, range.end + 1) : inline
    const holders = outcome.holders.get(id) ?? []
    const corrupt: Holder[] = []
    for (const h of holders) {
      try {
        const stream = await this.c.nodes.openData(h, bucket, key, id, { requestId, hintFor: h.hintFor, range })
        const version = outcome.versions.find((v) => versionId(v.dot) === id)
        // A holder that found its copy corrupt has quarantined it: hand it a good copy again.
        if (version && corrupt.length > 0) this.c.repairer.repairVersion(bucket, key, version, corrupt, [h])
        return stream
      } catch (err) {
        if (isNodeFailure(err)) this.c.view.markFailed(h.id)
        if (err instanceof RemoteError && err.code === 'CorruptReplica' && !h.hintFor) corrupt.push(h)
        this.c.log.warn({ target: h.id, version: id, err: String(err) }, 'version bytes unavailable')
      }
    }
    throw new NoSuchVersionError(`no replica could serve version ${id}`)
  }
}
