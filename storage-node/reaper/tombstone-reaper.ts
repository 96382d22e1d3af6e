/**
 * Tombstone reaping. A tombstone keeps a late replica from bringing a deleted file back, so it may
 * only go once every replica of the key's preference list holds it (or holds nothing) and a grace
 * period has passed. Any replica holding such a tombstone asks all N primaries; only when all of
 * them answer "these tombstones or nothing" does it tell each to forget the key (a conditional,
 * idempotent delete), then forgets it itself. Reaping waits while any member is not up or any node
 * holds hints (a stand-in could hold an older version for a primary that already has the tombstone).
 * The primaries come from the ring record, so a member down for any time still counts: reaping
 * waits until it is back or an operator removes it.
 */
import type { NodeClient, NodeRef } from '../../shared/http/node-client.js'
import type { Logger } from '../../shared/log.js'
import { objectPosition } from '../../shared/ring/hash.js'
import { HashRing } from '../../shared/ring/hash-ring.js'
import { versionId } from '../../shared/vclock/versions.js'
import type { Membership } from '../gossip/membership.js'
import type { NodeRing } from '../ring/node-ring.js'
import type { HintCounts, TombstoneStore } from '../store/object-store.js'
import { replicaCount } from '../../shared/ring/placement.js'
import { PeriodicTask } from '../../shared/periodic-task.js'

export interface TombstoneReaperComponents {
  /** The tombstones to reap, and whether this node holds hints (a node holding hints does not reap). */
  store: TombstoneStore & HintCounts
  membership: Membership
  /** Who owns ranges (the primaries asked), whatever gossip knows of them. */
  ring: NodeRing
  nodes: NodeClient
  log: Logger
}

export interface TombstoneReaperInit {
  graceMs: number
  intervalMs: number
  n: number
  vnodes: number
  /** Keys examined per round. */
  batch?: number
}

export class TombstoneReaper {
  private readonly task: PeriodicTask
  /** Keys forgotten since start. */
  reaped = 0

  constructor(
    private readonly c: TombstoneReaperComponents,
    private readonly init: TombstoneReaperInit,
  ) {
    this.task = new PeriodicTask(
      () => this.round(),
      this.init.intervalMs,
      (err) => this.c.log.warn({ err: String(err) }, 'tombstone reaping round failed; retried next round'),
    )
  }

  start(): void {
    this.task.start()
  }

  stop(): Promise<void> {
    return this.task.stop()
  }

  async round(now = Date.now()): Promise<number> {
    const candidates = this.c.store.reapCandidates(now - this.init.graceMs, this.init.batch ?? 500)
    if (candidates.length === 0) return 0
    const views = this.c.membership.views()
    const placement = this.c.ring.placement()
    // Reap only in a quiet cluster: every member up (every node the ring places keys on, known to
    // gossip or not) and no hint pending anywhere, so no stand-in can still be holding an older
    // version of a key for a primary that already has its tombstone.
    if (views.some((v) => v.status !== 'up')) return 0
    if (placement.some((id) => this.c.membership.status(id) !== 'up')) return 0
    // Nor while a node joins: it may hold an older version its holders sent it, which a reap here would leave to come back.
    if (this.c.ring.joining().length > 0) return 0
    try {
      const health = await Promise.all(views.filter((v) => v.id !== this.c.membership.selfId).map((v) => this.c.nodes.health({ id: v.id, address: v.address })))
      if (health.some((h) => Object.keys(h.hints).length > 0) || Object.keys(this.c.store.hintTotals()).length > 0) return 0
    } catch {
      return 0
    }
    const ring = new HashRing(placement, this.init.vnodes)
    const address = new Map(views.map((v) => [v.id, v.address]))
    let reaped = 0
    for (const cand of candidates) {
      const primaries = ring.preferenceList(objectPosition(cand.bucket, cand.key)).slice(0, replicaCount(cand.bucket, this.init.n, ring.nodes.length))
      const others: NodeRef[] = primaries.filter((id) => id !== this.c.membership.selfId).map((id) => ({ id, address: address.get(id) ?? id }))
      const dots = cand.versions.map((v) => v.dot)
      const ids = new Set(dots.map(versionId))
      try {
        const answers = await Promise.all(others.map((o) => this.c.nodes.versions(o, cand.bucket, cand.key)))
        const agree = answers.every((a) => a.versions.every((v) => v.tombstone && ids.has(versionId(v.dot))))
        if (!agree) continue
        await Promise.all(others.map((o) => this.c.nodes.reap(o, cand.bucket, cand.key, dots)))
        if (await this.c.store.reap(cand.bucket, cand.key, dots)) {
          reaped++
          this.reaped++
        }
      } catch (err) {
        this.c.log.debug({ bucket: cand.bucket, key: cand.key, err: String(err) }, 'tombstone not reaped this round')
      }
    }
    if (reaped > 0) this.c.log.info({ reaped, examined: candidates.length }, 'tombstones reaped')
    return reaped
  }
}
