/**
 * The proxy's copy of the cluster's metadata: bucket records (`.buckets`) and access keys, grants and
 * public flags (`.access`), both kept on every member. Every `refreshMs` the proxy lists both
 * namespaces on every usable member and merges what they hold by clock, so one member holding a change
 * is enough for every proxy to see it; the bytes of a version are fetched once (versions never
 * change). A proxy that has not completed a refresh for `staleMs` refuses requests (503) rather than
 * act on grants that may have been revoked.
 */
import { ACCESS_NAMESPACE, BUCKETS_NAMESPACE } from '../../shared/constants.js'
import { AccessCatalogStaleError } from '../../shared/errors.js'
import { isNodeFailure, type NodeClient, type NodeRef } from '../../shared/http/node-client.js'
import type { Logger } from '../../shared/log.js'
import { reconcile, versionId } from '../../shared/vclock/versions.js'
import type { Version } from '../../shared/wire/internal-api.js'
import type { MembershipView } from '../membership/membership-view.js'
import { type CatalogEntry, Policy } from './policy.js'

const NAMESPACES = [BUCKETS_NAMESPACE, ACCESS_NAMESPACE] as const
const PAGE = 1000
/** How long a refresh waits for the other members once one has answered (a healthy member lists both namespaces in milliseconds). */
export const SLOW_MEMBER_GRACE_MS = 1000
/** Reads of the catalog start at most this often when asked for on demand (an unknown key id or bucket). */
const ON_DEMAND_MIN_GAP_MS = 200

export interface AccessCatalogInit {
  refreshMs: number
  staleMs: number
}

interface Listed {
  node: NodeRef
  versions: Version[]
}

export class AccessCatalog {
  private current = new Policy(new Map())
  private entries = new Map<string, Map<string, CatalogEntry>>()
  private readonly bodies = new Map<string, Buffer>()
  private lastComplete = 0
  private lastStarted = 0
  private running: Promise<void> | undefined
  private queued: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined
  /** Listings under way, per member. */
  private readonly listing = new Map<string, Promise<{ key: string; versions: Version[] }[][]>>()
  /** Refreshes completed and failed since start (GET /health). */
  readonly stats = { refreshes: 0, failures: 0 }

  constructor(
    private readonly view: MembershipView,
    private readonly nodes: NodeClient,
    private readonly init: AccessCatalogInit,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.refresh().catch(() => undefined)
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), this.init.refreshMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
  }

  /** The resolved policy; throws AccessCatalogStaleError when the last complete refresh is too old. */
  policy(): Policy {
    const age = Date.now() - this.lastComplete
    if (age > this.init.staleMs) {
      throw new AccessCatalogStaleError(
        `access keys and grants could not be read from any storage node for ${this.lastComplete ? `${Math.round(age / 1000)} s` : 'as long as this proxy runs'}: refusing rather than acting on stale grants`,
      )
    }
    return this.current
  }

  /** The versions held of one record, for a write's context. */
  versionsOf(namespace: string, key: string): readonly Version[] {
    return this.entries.get(namespace)?.get(key)?.versions ?? []
  }

  get ageMs(): number {
    return Date.now() - this.lastComplete
  }

  /**
   * Refresh, and resolve once a read that started after this call has completed: joins the one
   * queued behind the read under way, so any number of callers share at most one running and one
   * queued read, and reads start at most every ON_DEMAND_MIN_GAP_MS (unknown ids cannot flood the members).
   */
  async refresh(): Promise<void> {
    if (!this.running) return this.begin()
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => new Promise((r) => setTimeout(r, Math.max(0, this.lastStarted + ON_DEMAND_MIN_GAP_MS - Date.now()))))
      .then(() => {
        this.queued = undefined
        return this.running ?? this.begin()
      })
    return this.queued
  }

  private begin(): Promise<void> {
    this.lastStarted = Date.now()
    // A failed read is not the caller's error: policy() answers 503 once the catalog is too old.
    const run = this.load()
      .catch((err: unknown) => this.log.debug({ err: String(err) }, 'access catalog: could not be read from any storage node (metrics: refresh failures)'))
      .finally(() => {
        if (this.running === run) this.running = undefined
      })
    this.running = run
    return run
  }

  private async load(): Promise<void> {
    const targets = this.view.usableNodes()
    const merged = new Map<string, Map<string, Listed[]>>()
    let answered = 0
    let closed = false
    let firstAnswer: () => void = () => undefined
    const someAnswered = new Promise<void>((r) => {
      firstAnswer = r
    })
    const calls = targets.map(async (node) => {
      try {
        const lists = await this.listBoth(node)
        // Late answers (a member skipped as slow) go to the next refresh, not into this one's merge.
        if (closed) return
        lists.forEach((entries, i) => {
          const ns = NAMESPACES[i] as string
          const m = merged.get(ns) ?? new Map<string, Listed[]>()
          merged.set(ns, m)
          for (const e of entries) m.set(e.key, [...(m.get(e.key) ?? []), { node, versions: e.versions }])
        })
        answered++
        firstAnswer()
      } catch (err) {
        if (isNodeFailure(err)) this.view.markFailed(node.id)
        this.log.debug({ node: node.id, err: String(err) }, 'access catalog: listing failed')
      }
    })
    // A member that is paused or cut off but not yet known down must not hold every refresh until its
    // call times out (then every request would get 503 once the catalog is staleMs old): once one
    // member has answered, the others get SLOW_MEMBER_GRACE_MS, and one still silent is left out of
    // this refresh as a failed one is. A change is on W members, and they are asked too.
    await Promise.race([Promise.all(calls), someAnswered.then(() => new Promise((r) => setTimeout(r, SLOW_MEMBER_GRACE_MS)))])
    closed = true
    if (answered === 0) {
      this.stats.failures++
      throw new Error('no storage node answered')
    }
    if (answered < targets.length) this.log.debug({ answered, asked: targets.length }, 'access catalog: refreshed without the members that did not answer in time')
    const next = new Map<string, Map<string, CatalogEntry>>()
    for (const [ns, keys] of merged) {
      const out = new Map<string, CatalogEntry>()
      for (const [key, held] of keys) {
        const versions = reconcile(...held.map((h) => h.versions))
        const bodies = new Map<string, Buffer>()
        for (const v of versions) {
          if (v.tombstone) continue
          const id = versionId(v.dot)
          const body = await this.body(
            ns,
            key,
            id,
            held.filter((h) => h.versions.some((w) => versionId(w.dot) === id)).map((h) => h.node),
          )
          if (body) bodies.set(id, body)
        }
        out.set(key, { versions, bodies })
      }
      next.set(ns, out)
    }
    this.entries = next
    this.current = new Policy(next)
    this.lastComplete = Date.now()
    this.stats.refreshes++
    this.forgetBodies()
  }

  /**
   * Both namespaces as `node` holds them. A listing still under way from an earlier refresh (a slow
   * member) is joined, not asked again, so a paused member does not pile up requests.
   */
  private listBoth(node: NodeRef): Promise<{ key: string; versions: Version[] }[][]> {
    const running = this.listing.get(node.id)
    if (running) return running
    const started = Promise.all(NAMESPACES.map((ns) => this.listAll(node, ns))).finally(() => this.listing.delete(node.id))
    this.listing.set(node.id, started)
    return started
  }

  private async listAll(node: NodeRef, ns: string): Promise<{ key: string; versions: Version[] }[]> {
    const out: { key: string; versions: Version[] }[] = []
    let after: string | undefined
    for (;;) {
      const page = await this.nodes.list(node, ns, { prefix: '', after, limit: PAGE })
      out.push(...page.entries)
      if (!page.truncated || page.entries.length === 0) return out
      after = page.entries[page.entries.length - 1]?.key
    }
  }

  /** A version's bytes, from the cache or from the first holder that serves them. */
  private async body(ns: string, key: string, id: string, holders: readonly NodeRef[]): Promise<Buffer | undefined> {
    const cacheKey = `${ns}\u0000${key}\u0000${id}`
    const cached = this.bodies.get(cacheKey)
    if (cached) return cached
    for (const node of holders) {
      try {
        const chunks: Buffer[] = []
        for await (const c of await this.nodes.openData(node, ns, key, id)) chunks.push(c as Buffer)
        const body = Buffer.concat(chunks)
        this.bodies.set(cacheKey, body)
        return body
      } catch (err) {
        this.log.debug({ node: node.id, ns, key, err: String(err) }, 'access catalog: record bytes not served')
      }
    }
    return undefined
  }

  /** Keep only the bytes of versions still held. */
  private forgetBodies(): void {
    const live = new Set<string>()
    for (const [ns, keys] of this.entries) for (const [key, e] of keys) for (const id of e.bodies.keys()) live.add(`${ns}\u0000${key}\u0000${id}`)
    for (const k of this.bodies.keys()) if (!live.has(k)) this.bodies.delete(k)
  }
}
