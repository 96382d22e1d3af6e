/**
 * `?explain=1`: what every replica of a key and every stand-in holds, and what reconciling it all
 * gives. Read-only: it asks each node for versions only (no bytes), marks no node failed, and
 * starts no read repair, so explaining a key never changes what it explains.
 */
import { performance } from 'node:perf_hooks'
import { isNodeFailure, type NodeClient, type NodeRef } from '../../shared/http/node-client.js'
import { replicaCount } from '../../shared/ring/placement.js'
import { covers, displayClock, distinctWrites, reconcile, supersedes, versionId, clockOf } from '../../shared/vclock/versions.js'
import type { ExplainAnswer, ExplainProbe, ExplainRead, ExplainVersion } from '../../shared/wire/explain.js'
import { etagOf, type Version } from '../../shared/wire/internal-api.js'
import type { MembershipView } from '../membership/membership-view.js'

export interface ExplainerComponents {
  view: MembershipView
  nodes: NodeClient
}

export interface ExplainerConfig {
  n: number
}

/** One question before its versions are judged. */
interface Asked {
  node: NodeRef
  role: 'primary' | 'stand-in'
  position: number
  hintFor?: string | undefined
}

type Answered = Omit<ExplainProbe, 'versions'> & { held: Version[] }

export class Explainer {
  constructor(
    private readonly c: ExplainerComponents,
    private readonly cfg: ExplainerConfig,
  ) {}

  /**
   * Ask each primary for its replica, and each live node beyond them for the hints it keeps for each
   * primary (a hint can outlive its primary's return until it is handed off), all at once.
   */
  async explain(bucket: string, key: string, requestId?: string): Promise<ExplainAnswer> {
    const prefs = this.c.view.preferenceList(bucket, key)
    const n = replicaCount(bucket, this.cfg.n, prefs.length)
    const primaries = prefs.slice(0, n)
    const asked: Asked[] = primaries.map((node, position) => ({ node, role: 'primary', position }))
    prefs.forEach((node, position) => {
      if (position < n || !this.c.view.isUsable(node.id)) return
      for (const p of primaries) asked.push({ node, role: 'stand-in', position, hintFor: p.id })
    })
    const statuses = new Map(this.c.view.view().map((m) => [m.id, m.status]))
    const answered = await Promise.all(asked.map((a) => this.ask(bucket, key, a, statuses.get(a.node.id) ?? 'unknown', requestId)))
    const held = answered.flatMap((a) => a.held)
    const survivors = reconcile(held)
    const surviving = new Set(survivors.map((v) => versionId(v.dot)))
    const siblings = distinctWrites(survivors.filter((v) => !v.tombstone))
    const probes = answered.map(({ held: versions, ...probe }): ExplainProbe => ({ ...probe, versions: versions.map((v) => judge(v, held, surviving)) }))
    return {
      success: true,
      bucket,
      key,
      n,
      preference_list: primaries.map((p) => p.id),
      probes,
      reconciled: { survivors: [...surviving], siblings: siblings.map((v) => versionId(v.dot)), vector_clock: displayClock(survivors) },
      read: readOf(siblings),
      unanswered: [...new Set(answered.filter((a) => a.outcome !== 'ok').map((a) => a.node))],
    }
  }

  private async ask(bucket: string, key: string, a: Asked, status: ExplainProbe['member_status'], requestId: string | undefined): Promise<Answered> {
    const base = { node: a.node.id, role: a.role, position: a.position, member_status: status, ...(a.hintFor ? { hint_for: a.hintFor } : {}) }
    const started = performance.now()
    const ms = () => Math.round((performance.now() - started) * 100) / 100
    try {
      const answer = await this.c.nodes.versions(a.node, bucket, key, { requestId, hintFor: a.hintFor })
      return { ...base, outcome: 'ok', held: answer.versions, ms: ms() }
    } catch (err) {
      return { ...base, outcome: isNodeFailure(err) ? 'unreachable' : 'error', error: String(err), held: [], ms: ms() }
    }
  }
}

/** One held version with its fate: surviving, or superseded by which held versions (survivors first) and why. */
function judge(w: Version, held: readonly Version[], surviving: ReadonlySet<string>): ExplainVersion {
  const id = versionId(w.dot)
  const by = new Map<string, ExplainVersion['superseded_by'][number]>()
  for (const v of held) {
    const vid = versionId(v.dot)
    if (!by.has(vid) && supersedes(v, w)) by.set(vid, { version: vid, reason: covers(v.context, w.dot) ? 'covered' : 'retired' })
  }
  const supersededBy = [...by.values()].sort((x, y) => Number(surviving.has(y.version)) - Number(surviving.has(x.version)) || (x.version < y.version ? -1 : 1))
  return {
    version: id,
    vector_clock: clockOf(w),
    tombstone: w.tombstone,
    size: w.size,
    etag: etagOf(w),
    content_sha256: w.etag,
    last_modified: new Date(w.lastModified).toISOString(),
    node: w.node,
    ...(w.writeId ? { write_id: w.writeId } : {}),
    survives: surviving.has(id),
    superseded_by: supersededBy,
    context: w.context,
    ...(w.meta?.manifest ? { manifest: { parts: w.meta.manifest.parts, bytes: w.meta.manifest.size } } : {}),
  }
}

/** What a plain GET answers given the live survivors (one per client request), as proxy/api/files.ts decides. */
function readOf(live: readonly Version[]): ExplainRead {
  const [only] = live
  if (live.length === 0) return { status: 404 }
  if (live.length === 1 && only) return { status: 200, version: versionId(only.dot) }
  return { status: 300, siblings: live.length }
}
