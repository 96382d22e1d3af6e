/**
 * Active anti-entropy (Dynamo 4.7, Riak's AAE in miniature): every round a node picks a random live
 * peer and a slice of the 256 segments, compares per-segment digests of the keys the two of them
 * replicate, and for each key that differs reconciles the two replicas like a read repair (each
 * side gets the versions the other has and it lacks). So replicas converge without any client
 * read: a write a replica missed with no stand-in to hold a hint for it (an upload cut by a proxy
 * kill, a slow node that committed after the proxy gave up on it), or a version a crash lost.
 * Only the nodes' own data is compared (hints have their own delivery loop).
 */
import type { NodeClient, NodeRef } from '../../shared/http/node-client.js'
import { BadDigestError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import { HashRing } from '../../shared/ring/hash-ring.js'
import { reconcile, versionId } from '../../shared/vclock/versions.js'
import type { Membership } from '../gossip/membership.js'
import type { NodeRing } from '../ring/node-ring.js'
import type { BlobFiles } from '../store/blobs/blob-files.js'
import type { ReplicaStore, SegmentSource } from '../store/object-store.js'
import { SEGMENTS } from '../store/segment-index.js'
import { differingKeys, type KeyIds, segmentDigest, sharedBy } from './segment-digest.js'
import { PeriodicTask } from '../../shared/periodic-task.js'

export interface AntiEntropyComponents {
  /** The own data's segment index, and the versions, bytes and replicate a repair goes through. */
  store: SegmentSource & ReplicaStore
  blobs: BlobFiles
  membership: Membership
  /** Who places keys: the ring record's members and leaving nodes (down or not). */
  ring: NodeRing
  nodes: NodeClient
  log: Logger
}

export interface AntiEntropyInit {
  /** Time between rounds; 0 turns the exchange off (the routes still answer peers). */
  intervalMs: number
  /** Segments compared per round (256 make a full pass). */
  segmentsPerRound: number
  /** Keys reconciled per round at most (bounds the work of one round after a long outage). */
  maxKeysPerRound: number
  n: number
  vnodes: number
}

export class AntiEntropy {
  private readonly task: PeriodicTask
  private cursor = 0
  /** Counters since start (shown by GET /health). */
  readonly stats = { rounds: 0, keysRepaired: 0, versionsPushed: 0, versionsPulled: 0 }

  constructor(
    private readonly c: AntiEntropyComponents,
    private readonly init: AntiEntropyInit,
  ) {
    this.task = new PeriodicTask(
      () => this.round(),
      this.init.intervalMs,
      (err) => this.c.log.warn({ err: String(err) }, 'anti-entropy round failed'),
    )
  }

  start(): void {
    this.task.start()
  }

  stop(): Promise<void> {
    return this.task.stop()
  }

  private ring(): HashRing {
    return new HashRing(this.c.ring.placement(), this.init.vnodes)
  }

  private shared(peer: string): (bucket: string, key: string) => boolean {
    return sharedBy(this.ring(), this.init.n, this.c.membership.selfId, peer)
  }

  /** Answer a peer: digests of `segments` over the keys this node replicates with it. */
  digestsFor(peer: string, segments: readonly number[]): string[] {
    const shared = this.shared(peer)
    return segments.map((s) => segmentDigest(this.c.store.segmentEntries(s), shared))
  }

  /** Answer a peer: the keys of `segment` this node replicates with it. */
  keysFor(peer: string, segment: number): KeyIds[] {
    const shared = this.shared(peer)
    return [...this.c.store.segmentEntries(segment)].filter((e) => shared(e.bucket, e.key))
  }

  /** One exchange with a random live peer; returns the keys reconciled. */
  async round(): Promise<number> {
    const peers = this.c.membership.peers().filter((p) => p.status === 'up')
    const peer = peers[Math.floor(Math.random() * peers.length)]
    if (!peer) return 0
    const ref: NodeRef = { id: peer.id, address: peer.address }
    const segments = Array.from({ length: Math.min(this.init.segmentsPerRound, SEGMENTS) }, (_, i) => (this.cursor + i) % SEGMENTS)
    this.cursor = (this.cursor + segments.length) % SEGMENTS
    const mine = this.digestsFor(peer.id, segments)
    const theirs = (await this.c.nodes.segmentDigests(ref, this.c.membership.selfId, segments)).digests
    let repaired = 0
    for (let i = 0; i < segments.length && repaired < this.init.maxKeysPerRound; i++) {
      if (mine[i] === theirs[i]) continue
      const segment = segments[i] as number
      const remote = (await this.c.nodes.segmentKeys(ref, this.c.membership.selfId, segment)).keys
      for (const k of differingKeys(this.keysFor(peer.id, segment), remote)) {
        if (repaired >= this.init.maxKeysPerRound) break
        await this.reconcileKey(ref, k.bucket, k.key)
        repaired++
      }
    }
    this.stats.rounds++
    this.stats.keysRepaired += repaired
    if (repaired > 0) this.c.log.info({ peer: peer.id, keys: repaired }, 'anti-entropy reconciled keys')
    return repaired
  }

  /** Give each side the versions of the key the other has and it lacks (a read repair between two replicas). */
  private async reconcileKey(peer: NodeRef, bucket: string, key: string): Promise<void> {
    const theirs = (await this.c.nodes.versions(peer, bucket, key)).versions
    const mine = this.c.store.versions(bucket, key)
    const theirIds = new Set(theirs.map((v) => versionId(v.dot)))
    const myIds = new Set(mine.map((v) => versionId(v.dot)))
    // A side below its disk reserve is sent no data (tombstones still go: they free space).
    const peerFull = this.c.membership.isFull(peer.id)
    const selfFull = this.c.membership.isFull(this.c.membership.selfId)
    for (const v of reconcile(mine, theirs)) {
      const id = versionId(v.dot)
      if (!theirIds.has(id)) {
        if (!v.tombstone && peerFull) continue
        const body = v.tombstone ? null : { stream: await this.c.store.openData(bucket, key, id) }
        await this.c.nodes.replicate(peer, bucket, key, v, body)
        this.stats.versionsPushed++
      } else if (!myIds.has(id)) {
        if (!v.tombstone && selfFull) continue
        const body = v.tombstone ? null : await this.c.blobs.receive(await this.c.nodes.openData(peer, bucket, key, id), v.size)
        if (body && (body.etag !== v.etag || body.size !== v.size)) {
          await this.c.blobs.discard(body)
          throw new BadDigestError(`${peer.id} sent bytes of ${bucket}/${key} ${id} that do not match the version`)
        }
        await this.c.store.replicate(bucket, key, v, body)
        this.stats.versionsPulled++
      }
    }
  }
}
