/**
 * Read repair: after a read, every replica that answered without some surviving version gets it
 * (bytes streamed from a holder). Fire-and-forget; counted, and each repair is logged.
 */
import type { Logger } from '../../shared/log.js'
import { versionId } from '../../shared/vclock/versions.js'
import type { Version } from '../../shared/wire/internal-api.js'
import { isNodeFailure, type NodeClient, type NodeRef } from '../../shared/http/node-client.js'
import type { Holder, ReadOutcome } from './read-outcome.js'
import { RecentEvents } from './recent-events.js'

export class ReadRepairer {
  /** Versions pushed to stale replicas since start (shown by GET /cluster). */
  repaired = 0
  failed = 0
  /** The last versions pushed (the cluster page's recent repairs). */
  readonly recent = new RecentEvents()

  constructor(
    private readonly nodes: NodeClient,
    private readonly log: Logger,
    private readonly onNodeFailure: (id: string) => void,
  ) {}

  repair(bucket: string, key: string, merged: ReadOutcome, answers: readonly { node: NodeRef; versions: Version[] }[]): void {
    for (const a of answers) {
      const has = new Set(a.versions.map((v) => versionId(v.dot)))
      for (const v of merged.versions) {
        const id = versionId(v.dot)
        if (has.has(id)) continue
        void this.push(bucket, key, v, a.node, merged.holders.get(id) ?? [])
      }
    }
  }

  /** Push one version to replicas known to lack it (e.g. after they quarantined a corrupt copy). */
  repairVersion(bucket: string, key: string, v: Version, targets: readonly NodeRef[], sources: Holder[]): void {
    for (const t of targets) void this.push(bucket, key, v, t, sources)
  }

  /** (target, bucket, key, version) pushes under way: concurrent reads of one stale key start one copy. */
  private readonly inFlight = new Set<string>()

  private async push(bucket: string, key: string, v: Version, target: NodeRef, holders: Holder[]): Promise<void> {
    const id = versionId(v.dot)
    const flight = `${target.id}\u0000${bucket}\u0000${key}\u0000${id}`
    if (this.inFlight.has(flight)) return
    this.inFlight.add(flight)
    try {
      const source = holders[0]
      if (!source) return
      const body = v.tombstone ? null : { stream: await this.nodes.openData(source, bucket, key, id, { hintFor: source.hintFor }) }
      await this.nodes.replicate(target, bucket, key, v, body)
      this.repaired++
      this.recent.add(bucket, key, `to ${target.id}`)
      this.log.info({ bucket, key, version: id, target: target.id }, 'read repair')
    } catch (err) {
      this.failed++
      if (isNodeFailure(err)) this.onNodeFailure(target.id)
      this.log.warn({ bucket, key, version: id, target: target.id, err: String(err) }, 'read repair failed')
    } finally {
      this.inFlight.delete(flight)
    }
  }
}
