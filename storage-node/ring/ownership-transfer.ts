/**
 * Data follows ownership (Dynamo 4.9, Riak's ownership handoff in miniature). When the ring's
 * owners change (a node joins, an operator removes one), each node walks the keys it holds and
 * sends every key whose preference list gained a node to that new owner; while that owner is still
 * joining, what later writes bring is sent on each tick, and the holders keep serving (and keep
 * their copies) until it says it caught up (join-check.ts). A leaving node
 * (decommission) sends everything it holds to all of each key's next owners, then marks itself
 * removed in the ring record, keeps sending what late writes bring it for `drainMs` (proxies stop
 * placing keys on it within a poll or two) and then says it is done: its data dir can go.
 *
 * Safety: a key is sent as versions, merged by clock on the receiver (replicate), so a resend is
 * harmless and no sibling is lost. A copy of a key this node is no longer a primary of is dropped
 * only once every primary has taken (or already held) exactly those versions, and a decommissioned
 * node drops nothing (its data dir is deleted whole). The receiver is asked first which versions it
 * holds (one request per 500 keys), so a pass over keys already moved costs little. A pass that failed for any
 * key or target is repeated, whole, on the next tick (restartable, and idempotent). What a node
 * sends is bounded by `maxBytesPerSecond` (--transfer-max-bytes-per-s), so a join does not starve
 * clients; progress says its pace and the time left.
 */

import { ByteRateLimit } from '../../shared/byte-rate-limit.js'
import type { NodeClient, NodeRef } from '../../shared/http/node-client.js'
import type { Logger } from '../../shared/log.js'
import { PeriodicTask } from '../../shared/periodic-task.js'
import { objectPosition } from '../../shared/ring/hash.js'
import { HashRing } from '../../shared/ring/hash-ring.js'
import { replicaCount } from '../../shared/ring/placement.js'
import { versionId } from '../../shared/vclock/versions.js'
import type { Version } from '../../shared/wire/internal-api.js'
import { MAX_TRANSFER_KEYS, type TransferProgress } from '../../shared/wire/transfer.js'
import type { Membership } from '../gossip/membership.js'
import type { HintStore, ReplicaStore, SegmentSource } from '../store/object-store.js'
import { SEGMENTS } from '../store/segment-index.js'
import { joinWaitingFor, NOT_REBALANCED, ownersDigest } from './join-check.js'
import type { NodeRing } from './node-ring.js'
import { emptyProgress, notePace } from './transfer-progress.js'
import { cacheKey, collectWork, confirmationEpoch, isFirstLiveHolder, ownersOf, same, type Targets, type Work } from './transfer-work.js'

export interface OwnershipTransferComponents {
  store: SegmentSource & ReplicaStore & Pick<HintStore, 'drop'>
  ring: NodeRing
  membership: Membership
  nodes: NodeClient
  log: Logger
  /** Whether this node has heard what the cluster is (a gossip exchange answered, or it has no seeds): a joining node that then knows no member founds the ring. */
  heardFromCluster: () => boolean
}

export interface OwnershipTransferInit {
  n: number
  vnodes: number
  /** How often the loop looks for a change of owners (and retries a failed pass). */
  intervalMs: number
  /** After a decommissioned node marked itself removed: how long it keeps sending late writes. */
  drainMs: number
  /** Keys sent at once to one target. */
  concurrency?: number
  /** Bound on the bytes sent per second, all targets together (0 or absent: none). */
  maxBytesPerSecond?: number
  /** The reaper's grace (--tombstone-grace-ms): a handover does not send a copy older than this to a primary holding nothing of its key. */
  tombstoneGraceMs: number
}

export class OwnershipTransfer {
  private readonly task: PeriodicTask
  private passes = 0
  /** What each target was last seen to hold of each key (target NUL bucket NUL key -> ids), for the current goal. */
  private readonly confirmed = new Map<string, string>()
  private goal = ''
  /** Sent since the goal was set (a goal's passes add up: a retried pass sends only what the last one could not). */
  private sent = { versions: 0, bytes: 0, to: {} as Record<string, number> }
  private drainUntil: number | undefined
  /** Targets the current or last pass failed to send (or check) something to. */
  private readonly failedTargets = new Set<string>()
  /** The ring version and members' generations `confirmed` was gathered under. */
  private epoch = ''
  /** The nodes placing keys at the last tick (a change brings a handover). */
  private lastPlacement = ''
  /** Copies of keys this node is not a primary of (the ring changed, an older view wrote here): handed over after each change and at start. */
  private handoverPending = true
  private lastHandover = 0
  /** Copies older than the tombstone grace not handed to primaries holding nothing of them (the key was likely deleted and reaped since): kept, logged. */
  private readonly outlived = new Set<string>()
  /** The --vnodes disagreement last logged (logged again only when it changes). */
  private vnodesWarned = ''
  /** Copies of keys this node no longer owns dropped since start, once every primary held them. */
  dropped = 0
  /** The current or last pass (undefined before the first one with work). */
  progress: TransferProgress | undefined
  private readonly limit: ByteRateLimit
  /** A handover at least this often (a quarter of the tombstone grace, at most a minute). */
  private readonly handoverEveryMs: number

  constructor(
    private readonly c: OwnershipTransferComponents,
    private readonly init: OwnershipTransferInit,
  ) {
    this.limit = new ByteRateLimit(init.maxBytesPerSecond ?? 0)
    this.handoverEveryMs = Math.max(1000, Math.min(60_000, init.tombstoneGraceMs / 4))
    this.task = new PeriodicTask(
      () => this.tick(),
      this.init.intervalMs,
      (err) => this.c.log.warn({ err: String(err) }, 'ownership transfer failed; retried next tick'),
    )
  }

  start(): void {
    this.task.start()
  }

  stop(): Promise<void> {
    return this.task.stop()
  }

  /** One look at the ring: a pass if the owners changed since the last complete one, or if this node is leaving or draining. */
  async tick(now = Date.now()): Promise<void> {
    const self = this.c.ring.get(this.c.ring.selfId)
    if (self?.state === 'leaving') return this.leave()
    if (self?.state === 'removed') return this.drain(now)
    const owners = this.c.ring.owners()
    const epoch = confirmationEpoch(this.c.ring.version, this.c.membership.views())
    if (epoch !== this.epoch) {
      this.epoch = epoch
      this.confirmed.clear()
    }
    const placement = this.c.ring.placement().join(',')
    if (placement !== this.lastPlacement) {
      // A join completed (or a leave): copies this node no longer serves reads for are handed over.
      this.lastPlacement = placement
      this.handoverPending = true
    }
    const basis = this.c.ring.transferredFor
    if (basis === undefined) {
      // First start with a ring: nothing was placed under an older one by this node.
      this.c.ring.transferredFor = owners
      this.c.membership.setRebalanced(ownersDigest(owners))
      return
    }
    const joining = new Set(this.c.ring.joining().filter((id) => id !== this.c.ring.selfId))
    if (!same(basis, owners)) {
      const before = this.hashRing(basis)
      const after = this.hashRing(owners)
      const targets: Targets = (bucket, key) => {
        const old = this.primaries(before, bucket, key)
        return this.primaries(after, bucket, key).filter((id) => id !== this.c.ring.selfId && !old.includes(id))
      }
      const ok = await this.pass('rebalance', `rebalance:${owners.join(',')}`, targets, 'moving', this.firstLiveHolder(before))
      if (ok) {
        this.c.ring.transferredFor = owners
        this.handoverPending = true
      }
      // Joining nodes wait for their own keys only, not for a target that is down or being removed.
      this.announce(owners, ok || ![...this.failedTargets].some((t) => joining.has(t)))
    } else {
      // Writes keep going to the old owners while a node joins: what they bring is sent on to it.
      if (joining.size > 0) {
        const ring = this.hashRing(owners)
        const sendTo: Targets = (bucket, key) => this.primaries(ring, bucket, key).filter((id) => joining.has(id))
        this.announce(owners, await this.pass('rebalance', `rebalance:${owners.join(',')}`, sendTo, 'moving', this.firstLiveHolder(this.hashRing(this.c.ring.placement()))))
      } else this.announce(owners, true)
      // Copies keep arriving (proxies with an older ring, late hints): a handover runs at least every
      // handoverEveryMs, well inside the tombstone grace, so none outlives a reap unsent.
      if (now - this.lastHandover >= this.handoverEveryMs) this.handoverPending = true
      if (this.handoverPending) {
        this.handoverPending = !(await this.handOver(owners))
        this.lastHandover = now
      }
    }
    if (self?.state === 'joining') this.joinWhenCaughtUp(owners)
  }

  /** Say in gossip whether every key of joining nodes was sent them in this node's last pass, for these owners. */
  private announce(owners: readonly string[], done: boolean): void {
    this.c.membership.setRebalanced(done ? ownersDigest(owners) : NOT_REBALANCED)
  }

  /** A joining node: a member once every live holder has sent its share (join-check.ts). */
  private joinWhenCaughtUp(owners: readonly string[]): void {
    const waitingFor = joinWaitingFor(this.c.ring, this.c.membership, this.c.heardFromCluster(), owners)
    if (waitingFor === undefined) return
    this.progress = { ...(this.progress ?? emptyProgress(this.c.ring.version)), waiting_for: waitingFor }
    if (waitingFor.length > 0) return
    this.c.ring.apply(this.c.ring.selfId, 'member')
    this.progress = { ...this.progress, phase: 'idle', finished_at: new Date().toISOString() }
    this.c.log.info({ holders: this.c.ring.placement().length - 1 }, "joined: every live holder has sent its share of this node's ranges (or none is known); it now takes reads and writes")
  }

  /**
   * Keys this node is not a primary of: each goes to every one of its primaries (each either takes
   * our versions or already holds them or newer), and only then are exactly those versions dropped
   * here (a version that arrived meanwhile stays, for the next round). True when none is left.
   */
  private async handOver(owners: readonly string[]): Promise<boolean> {
    const ring = this.hashRing(owners)
    // While a node joins, the nodes placing keys now (which serve reads) differ from the owners: a copy is ours if either has us.
    const now = this.hashRing(this.c.ring.placement())
    const self = this.c.ring.selfId
    const notOurs: Targets = (bucket, key) => {
      const primaries = [...new Set([...this.primaries(ring, bucket, key), ...this.primaries(now, bucket, key)])]
      return primaries.includes(self) ? [] : primaries
    }
    // Members that place keys with another --vnodes could each take the other for a key's primary and both drop it.
    const disagreeing = this.c.membership.vnodesDisagreeing()
    if (disagreeing.length > 0) {
      if (disagreeing.join() !== this.vnodesWarned)
        this.c.log.error({ disagreeing }, 'members announce another --vnodes than this node: no copy is handed over and dropped until every member runs the same value')
      this.vnodesWarned = disagreeing.join()
      return false
    }
    this.vnodesWarned = ''
    this.outlived.clear()
    await this.pass('rebalance', `handover:${owners.join(',')}`, notOurs)
    let dropped = 0
    let left = 0
    for (let s = 0; s < SEGMENTS; s++) {
      for (const e of [...this.c.store.segmentEntries(s)]) {
        const primaries = notOurs(e.bucket, e.key)
        if (primaries.length === 0 || this.outlived.has(cacheKey('', e.bucket, e.key))) continue
        const ids = e.ids.split(' ').filter(Boolean)
        if (!primaries.every((p) => this.confirmed.get(cacheKey(p, e.bucket, e.key)) === ids.join(' '))) {
          left++
          continue
        }
        const handed = new Set(ids)
        const dots = this.c.store
          .versions(e.bucket, e.key)
          .filter((v) => handed.has(versionId(v.dot)))
          .map((v) => v.dot)
        if ((await this.c.store.drop({ kind: 'own' }, e.bucket, e.key, dots)) > 0) dropped++
        // A version that replaced the confirmed ones between the check and the drop is still here: next round.
        if (this.c.store.versions(e.bucket, e.key).length > 0) left++
      }
    }
    this.dropped += dropped
    if (dropped > 0) this.c.log.info({ dropped, left }, 'copies of keys this node is not a primary of: handed to their primaries and dropped here')
    if (this.outlived.size > 0)
      this.c.log.warn(
        { keys: this.outlived.size, graceMs: this.init.tombstoneGraceMs },
        'copies older than the tombstone grace of keys their primaries no longer hold: not sent (they would bring back deleted keys), kept here',
      )
    return left === 0
  }

  /** Decommission: everything held goes to each key's next owners; then this node marks itself removed and drains. */
  private async leave(): Promise<void> {
    const owners = this.c.ring.owners()
    if (owners.length === 0) {
      this.c.log.warn({}, 'leaving, but no other member owns ranges: nothing can take the data')
      return
    }
    const after = this.hashRing(owners)
    const ok = await this.pass('decommission', `leave:${owners.join(',')}`, (bucket, key) => this.primaries(after, bucket, key))
    if (!ok || this.c.ring.get(this.c.ring.selfId)?.state !== 'leaving') return
    this.c.ring.apply(this.c.ring.selfId, 'removed')
    this.drainUntil = Date.now() + this.init.drainMs
    this.c.log.info({ drainMs: this.init.drainMs }, 'every key is with its next owners: removed from the ring, draining late writes')
  }

  /** After our own removal: keep sending what late writes brought, then say done. A node removed while away does nothing (its copies may be older than what was reaped since). */
  private async drain(now: number): Promise<void> {
    if (this.drainUntil === undefined || this.progress?.phase === 'done') return
    const owners = this.c.ring.owners()
    const after = this.hashRing(owners)
    const ok = await this.pass('decommission', `leave:${owners.join(',')}`, (bucket, key) => this.primaries(after, bucket, key), 'draining')
    if (ok && now >= this.drainUntil && this.progress) {
      this.progress = { ...this.progress, phase: 'done' }
      this.c.log.info({ sent: this.progress.versions_sent }, 'decommissioned: every key is with its owners; stop this node and delete its data dir')
    }
  }

  private hashRing(ids: readonly string[]): HashRing {
    return new HashRing(ids, this.init.vnodes)
  }

  private primaries(ring: HashRing, bucket: string, key: string): string[] {
    return ring.preferenceList(objectPosition(bucket, key)).slice(0, replicaCount(bucket, this.init.n, ring.nodes.length))
  }

  /** Whether this node sends a key early in a pass (transfer-work.ts isFirstLiveHolder). */
  private firstLiveHolder(ring: HashRing): (bucket: string, key: string) => boolean {
    return (bucket, key) => isFirstLiveHolder(this.primaries(ring, bucket, key), this.c.ring.selfId, (id) => this.c.membership.status(id) === 'down')
  }

  /** One pass over the keys held; true when every key is with every target. */
  private async pass(
    kind: TransferProgress['kind'],
    goal: string,
    targets: Targets,
    phase: TransferProgress['phase'] = 'moving',
    mineFirst?: (bucket: string, key: string) => boolean,
  ): Promise<boolean> {
    if (goal !== this.goal) {
      // What was sent, and what targets were seen to hold, add up over one change of owners (its rebalance and handover passes alike).
      if (ownersOf(goal) !== ownersOf(this.goal)) {
        this.sent = { versions: 0, bytes: 0, to: {} }
        this.confirmed.clear()
      }
      this.goal = goal
    }
    this.failedTargets.clear()
    const work = collectWork(this.c.store, targets, this.confirmed)
    if (mineFirst) {
      const first = new Set(work.filter((w) => mineFirst(w.bucket, w.key)))
      work.sort((a, b) => Number(first.has(b)) - Number(first.has(a)))
    }
    if (work.length === 0 && kind === 'rebalance') {
      this.passes++
      return true
    }
    const arcs = this.hashRing(this.c.ring.owners())
    const p: TransferProgress = {
      ...emptyProgress(this.c.ring.version, phase, kind),
      ranges: new Set(work.map((w) => arcs.arcOf(objectPosition(w.bucket, w.key)))).size,
      keys_total: work.length,
      bytes_total: work.reduce((s, w) => s + w.bytes, 0),
      versions_sent: this.sent.versions,
      bytes_sent: this.sent.bytes,
      to: { ...this.sent.to },
      passes: this.passes,
    }
    this.progress = p
    const started = Date.now()
    for (let i = 0; i < work.length; i += MAX_TRANSFER_KEYS) {
      const batch = work.slice(i, i + MAX_TRANSFER_KEYS)
      const byTarget = new Map<string, Work[]>()
      for (const w of batch) for (const t of w.targets) byTarget.set(t, [...(byTarget.get(t) ?? []), w])
      await Promise.all([...byTarget].map(([target, items]) => this.sendTo(target, items, p, goal.startsWith('handover:'))))
      p.keys_done += batch.length
      p.bytes_done += batch.reduce((s, w) => s + w.bytes, 0)
      notePace(p, started)
    }
    this.passes++
    p.passes = this.passes
    this.sent = { versions: p.versions_sent, bytes: p.bytes_sent, to: p.to }
    p.finished_at = new Date().toISOString()
    if (p.phase === 'moving') p.phase = 'idle'
    if (p.keys_total > 0) this.c.log.info({ kind, keys: p.keys_total, sentSoFar: p.versions_sent, failures: p.failures, ms: Date.now() - started }, 'ownership transfer pass')
    return p.failures === 0
  }

  /** Ask `target` what it holds of `items`, then send it the versions it lacks. */
  /** `guardReaped`: a handover, which does not send a copy older than the tombstone grace to a target holding nothing of its key (see `outlived`). */
  private async sendTo(target: string, items: Work[], p: TransferProgress, guardReaped = false): Promise<void> {
    // Suspect is still worth a try (a loaded node's heartbeats lag); down is not.
    const address = this.c.membership.views().find((v) => v.id === target && v.status !== 'down')?.address
    if (!address) {
      p.failures += items.length
      this.failedTargets.add(target)
      return
    }
    const ref: NodeRef = { id: target, address }
    let held: string[][]
    try {
      held = (
        await this.c.nodes.transferHave(
          ref,
          items.map(({ bucket, key }) => ({ bucket, key })),
        )
      ).ids
    } catch (err) {
      this.c.log.debug({ target, err: String(err) }, 'transfer: target did not answer')
      p.failures += items.length
      this.failedTargets.add(target)
      return
    }
    let next = 0
    const worker = async () => {
      while (next < items.length) {
        const i = next++
        const w = items[i] as Work
        const theirs = new Set(held[i] ?? [])
        try {
          const mine = this.c.store.versions(w.bucket, w.key)
          if (guardReaped && theirs.size === 0 && mine.every((v) => Date.now() - v.lastModified > this.init.tombstoneGraceMs)) {
            this.outlived.add(cacheKey('', w.bucket, w.key))
            continue
          }
          const missing = mine.filter((v) => !theirs.has(versionId(v.dot)))
          for (const v of missing) await this.send(ref, w.bucket, w.key, v, p)
          if (missing.length > 0) p.to[target] = (p.to[target] ?? 0) + 1
          this.confirmed.set(cacheKey(target, w.bucket, w.key), w.ids.join(' '))
        } catch (err) {
          p.failures++
          this.failedTargets.add(target)
          this.c.log.debug({ target, bucket: w.bucket, key: w.key, err: String(err) }, 'transfer of a key failed')
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.init.concurrency ?? 8, items.length) }, worker))
  }

  private async send(target: NodeRef, bucket: string, key: string, v: Version, p: TransferProgress): Promise<void> {
    if (!v.tombstone) await this.limit.take(v.size)
    const body = v.tombstone ? null : { stream: await this.c.store.openData(bucket, key, versionId(v.dot)) }
    await this.c.nodes.replicate(target, bucket, key, v, body)
    p.versions_sent++
    p.bytes_sent += v.tombstone ? 0 : v.size
  }
}
