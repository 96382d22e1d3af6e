/**
 * Quorum reads (Dynamo 4.5): ask the live replicas of the preference list, wait for R answers,
 * reconcile their versions by dotted version vectors, and hand the stale replicas the merged
 * result in the background (read repair, counted).
 */
import type { Readable } from 'node:stream'
import { NoSuchVersionError, QuorumNotReachedError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import { reconcile, versionId } from '../../shared/vclock/versions.js'
import type { Version } from '../../shared/wire/internal-api.js'
import type { MembershipView } from '../membership/membership-view.js'
import { isNodeFailure, type NodeClient, type NodeRef } from '../../shared/http/node-client.js'
import { gatherQuorum } from './quorum.js'
import type { ReadRepairer } from './read-repair.js'

export interface ReadOutcome {
  /** Surviving versions, tombstones included (their clocks belong in the context). */
  versions: Version[]
  /** Which answering replicas hold each version. */
  holders: Map<string, NodeRef[]>
}

export interface ReadCoordinatorComponents {
  view: MembershipView
  nodes: NodeClient
  repairer: ReadRepairer
  log: Logger
}

export class ReadCoordinator {
  constructor(private readonly c: ReadCoordinatorComponents, private readonly cfg: { n: number }) {}

  async read(bucket: string, key: string, r: number, requestId?: string): Promise<ReadOutcome> {
    const primaries = this.c.view.preferenceList(bucket, key).slice(0, this.cfg.n)
    const targets = primaries.filter((p) => this.c.view.isUsable(p.id))
    if (targets.length < r) throw new QuorumNotReachedError(r, [], [`only ${targets.length} of ${primaries.length} replicas are up`])
    const calls = targets.map((t) => ({
      node: t.id,
      promise: this.c.nodes.versions(t, bucket, key, { requestId }).catch((err: unknown) => {
        if (isNodeFailure(err)) this.c.view.markFailed(t.id)
        throw err
      }),
    }))
    const q = await gatherQuorum(calls, r)
    if (q.ok.length < r) {
      throw new QuorumNotReachedError(
        r,
        q.ok.map((o) => o.node),
        q.failed.map((f) => String(f.error)),
      )
    }
    const outcome = merge(q.ok.map((o) => ({ node: this.c.view.ref(o.node), versions: o.value.versions })))
    // Repair once every replica has answered (or failed): the stale ones get what they miss.
    void q.all.then((all) => {
      const answers = all.flatMap((a) => (a.ok && a.value ? [{ node: this.c.view.ref(a.node), versions: a.value.versions }] : []))
      this.c.repairer.repair(bucket, key, merge(answers), answers)
    })
    return outcome
  }

  /** Stream one version's bytes from the first holder that serves them. */
  async openVersion(bucket: string, key: string, outcome: ReadOutcome, id: string, requestId?: string): Promise<Readable> {
    const holders = outcome.holders.get(id) ?? []
    for (const h of holders) {
      try {
        return await this.c.nodes.openData(h, bucket, key, id, { requestId })
      } catch (err) {
        if (isNodeFailure(err)) this.c.view.markFailed(h.id)
        this.c.log.warn({ target: h.id, version: id, err: String(err) }, 'version bytes unavailable')
      }
    }
    throw new NoSuchVersionError(`no replica could serve version ${id}`)
  }
}

/** Reconcile the answers of several replicas and note who holds what. */
export function merge(answers: readonly { node: NodeRef; versions: Version[] }[]): ReadOutcome {
  const versions = reconcile(...answers.map((a) => a.versions))
  const holders = new Map<string, NodeRef[]>()
  for (const v of versions) holders.set(versionId(v.dot), [])
  for (const a of answers) for (const v of a.versions) holders.get(versionId(v.dot))?.push(a.node)
  return { versions, holders }
}
