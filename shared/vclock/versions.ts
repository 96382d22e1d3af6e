/**
 * Dotted version vectors (Preguica et al. 2010; Riak's dvv_enabled): the pure rules that decide
 * which versions of a key survive. A version is written over a *causal context* (exactly what the
 * writer had seen) and carries its own *dot* (actor, counter). Version v supersedes w exactly when
 * v's context covers w's dot. Two writes over the same stale context through the same coordinator
 * get dots (a,2) and (a,3); neither context covers the other's dot, so both survive as siblings
 * instead of the second silently erasing the first, as plain per-node clocks would.
 *
 * A context is a version vector plus isolated dots. Seeing (a,3) written over {a:1} does not mean
 * having seen (a,2): collapsing it to {a:3} would let a reader of (a,3) alone supersede a sibling
 * (a,2) it never saw. Dots are folded into the vector only when contiguous with it.
 */
import type { z } from 'zod'
import { type CausalContextSchema, type DotSchema, MAX_RETIRED } from './schemas.js'
import { type ActorId, counterOf, fromCounters, merge, sortKeys, type VectorClock } from './vector-clock.js'

export type Dot = z.infer<typeof DotSchema>
export type CausalContext = z.infer<typeof CausalContextSchema>

/** What reconciliation needs of a version; stored and wire versions extend it. */
export interface Versioned {
  readonly dot: Dot
  readonly context: CausalContext
  /** Id of the client request that made it; a request retried on another coordinator can leave two versions of it. */
  readonly writeId?: string | undefined
  /** Made by a retry of its request on another coordinator: the first attempt may have stored a twin. */
  readonly retried?: boolean | undefined
  /** Requests whose versions this one replaced (see retiredBy): a late twin of one of them is superseded too. */
  readonly retired?: readonly string[] | undefined
}

export const EMPTY_CONTEXT: CausalContext = Object.freeze({ vv: {}, dots: [] })

/** Stable id of a version, unique in the cluster because a dot is never reused. */
export function versionId(dot: Dot): string {
  return `${dot.actor}.${dot.counter}`
}

/** True when the context has seen `dot`. */
export function covers(ctx: CausalContext, dot: Dot): boolean {
  return counterOf(ctx.vv, dot.actor) >= dot.counter || ctx.dots.some((d) => d.actor === dot.actor && d.counter === dot.counter)
}

/** Canonical form: dots contiguous with the vector are folded into it, covered ones dropped, the rest sorted. */
export function compact(vv: VectorClock, dots: readonly Dot[]): CausalContext {
  // A Map, not a plain object: an actor named like an inherited property (`constructor`) must read as absent.
  const out = new Map<ActorId, number>()
  for (const [a, n] of Object.entries(vv)) if (n > 0) out.set(a, n)
  const pending = [...dots].sort((a, b) => (a.actor < b.actor ? -1 : a.actor > b.actor ? 1 : a.counter - b.counter))
  const rest: Dot[] = []
  for (const d of pending) {
    const have = out.get(d.actor) ?? 0
    if (d.counter <= have) continue
    if (d.counter === have + 1) out.set(d.actor, d.counter)
    else if (!rest.some((r) => r.actor === d.actor && r.counter === d.counter)) rest.push(d)
  }
  // A fold can make later isolated dots contiguous: repeat until stable.
  const remaining = rest.filter((d) => d.counter > (out.get(d.actor) ?? 0))
  if (remaining.some((d) => d.counter === (out.get(d.actor) ?? 0) + 1)) return compact(fromCounters(out), remaining)
  return { vv: fromCounters(out), dots: remaining }
}

/** Least upper bound of contexts (commutative, associative, idempotent). */
export function join(...ctxs: readonly CausalContext[]): CausalContext {
  return compact(
    merge(...ctxs.map((c) => c.vv)),
    ctxs.flatMap((c) => c.dots),
  )
}

/**
 * What a client read, as its `X-Context` token carries it: the causal context, and the retried
 * requests the versions read retire (see retiredBy), so that the coordinator of the client's next
 * write retires them even when it does not hold those versions itself.
 */
export interface ReadContext extends CausalContext {
  readonly retired?: readonly string[] | undefined
}

/** The read context of `versions`: contextOf, with what they retire. */
export function readContextOf(versions: readonly Versioned[]): ReadContext {
  const retired = retiredBy(versions)
  const context = contextOf(versions)
  return retired.length > 0 ? { ...context, retired } : context
}

/** Exactly what a reader of `versions` has seen: their contexts and their own dots. */
export function contextOf(versions: readonly Versioned[]): CausalContext {
  return join(...versions.map((v) => v.context), { vv: {}, dots: versions.map((v) => v.dot) })
}

/** The version's clock as users see it (`vector_clock`): context and dot flattened to `{actor: counter}`. */
export function clockOf(v: Versioned): VectorClock {
  return displayClock([v])
}

/**
 * The flattened clock of a set of versions (what a replica holds), for display: the pointwise
 * maximum of their clocks (`merge` of each `clockOf`), gathered in one pass without an object per
 * dot and per version (every write answer carries one; it was ~8 % of a node's CPU under 4 KiB PUTs).
 */
export function displayClock(versions: readonly Versioned[]): VectorClock {
  const max = new Map<ActorId, number>()
  const raise = (actor: ActorId, n: number): void => {
    if (n > (max.get(actor) ?? 0)) max.set(actor, n)
  }
  for (const v of versions) {
    for (const [actor, n] of Object.entries(v.context.vv)) raise(actor, n)
    for (const d of v.context.dots) raise(d.actor, d.counter)
    raise(v.dot.actor, v.dot.counter)
  }
  return fromCounters(max)
}

function sameDot(a: Dot, b: Dot): boolean {
  return a.actor === b.actor && a.counter === b.counter
}

/**
 * True when v makes w obsolete: v's context covers w's dot, or w is a twin of a retried request
 * that v's writer read and replaced (w's request id is in v's `retired`). The second case is a
 * write whose first coordinator stored it but was not heard from (killed before answering, cut
 * off): the retry's version was read and overwritten, and the first attempt's copy, coming back
 * later through handoff or anti-entropy, would otherwise stand beside the newer write as a stale
 * sibling, since no context can cover a dot nobody saw. A twin whose own context covers v (an
 * attempt that ran after v existed, e.g. one delayed past its expiry) is not retired by v: the two
 * rules never make two versions supersede each other (both would vanish); it then supersedes v, as
 * its context says.
 */
export function supersedes(v: Versioned, w: Versioned): boolean {
  if (sameDot(v.dot, w.dot)) return false
  if (covers(v.context, w.dot)) return true
  return w.writeId !== undefined && v.retired?.includes(w.writeId) === true && !covers(w.context, v.dot)
}

/** True when some version in `held` retired request `writeId`: a retry of it was read and overwritten, so an attempt of it arriving now is obsolete. */
export function isRetired(held: readonly Versioned[], writeId: string | undefined): boolean {
  return writeId !== undefined && held.some((h) => h.retired?.includes(writeId) === true)
}

/**
 * The `retired` list of a new version that replaces `replaced`: the ids of replaced versions made
 * by a retried request (only those can have a twin elsewhere), then what the replaced versions had
 * retired themselves, so the protection outlives later overwrites, then `alsoRetired` (what the
 * client's read retired of versions not held here); without duplicates or the new write's own id,
 * at most MAX_RETIRED. An id left out only ever leaves a sibling, never drops one.
 */
export function retiredBy(replaced: readonly Versioned[], ownWriteId?: string, alsoRetired: readonly string[] = []): string[] {
  const out: string[] = []
  const add = (id: string | undefined) => {
    if (id !== undefined && id !== ownWriteId && !out.includes(id)) out.push(id)
  }
  for (const v of replaced) if (v.retried) add(v.writeId)
  for (const v of replaced) for (const id of v.retired ?? []) add(id)
  for (const id of alsoRetired) add(id)
  return out.slice(0, MAX_RETIRED)
}

/**
 * The versions of the given sets that no other version supersedes, one per dot, sorted by id.
 * Laws (tested as properties): commutative and idempotent; a version is dropped only when another
 * version's context covers its dot or, for a twin of a retried request, when another version
 * retired that request (see supersedes). Associative when contexts alone decide (every version
 * without request ids). With retirements it is not: a version covered only by a retired twin is
 * dropped where the twin arrives first and kept where the twin was already gone, so merges in
 * different orders can differ by such a version (one the twin's writer had seen and replaced).
 * Nothing else is at stake, and replicas still end equal: once the twin is gone everywhere, what
 * is left of such a version spreads again as a sibling.
 */
export function reconcile<V extends Versioned>(...sets: ReadonlyArray<readonly V[]>): V[] {
  const byId = new Map<string, V>()
  for (const set of sets) for (const v of set) if (!byId.has(versionId(v.dot))) byId.set(versionId(v.dot), v)
  const all = [...byId.values()]
  return all.filter((w) => !all.some((v) => supersedes(v, w))).sort((x, y) => (versionId(x.dot) < versionId(y.dot) ? -1 : versionId(x.dot) > versionId(y.dot) ? 1 : 0))
}

/**
 * Bound a context to `maxEntries` actors, dropping those with the smallest counters (and their
 * isolated dots). Safe in the direction that matters: a pruned context covers fewer dots, so it
 * can only leave extra siblings, never supersede a version it had not seen.
 */
export function pruneContext(ctx: CausalContext, maxEntries: number): CausalContext {
  const actors = new Set([...Object.keys(ctx.vv), ...ctx.dots.map((d) => d.actor)])
  if (actors.size <= maxEntries) return ctx
  const top = (actor: ActorId) => Math.max(counterOf(ctx.vv, actor), ...ctx.dots.filter((d) => d.actor === actor).map((d) => d.counter))
  const keep = new Set([...actors].sort((a, b) => top(b) - top(a) || (a < b ? -1 : 1)).slice(0, maxEntries))
  return {
    vv: sortKeys(Object.fromEntries(Object.entries(ctx.vv).filter(([a]) => keep.has(a)))),
    dots: ctx.dots.filter((d) => keep.has(d.actor)),
  }
}

/** Separator between a node's actor and the key incarnation it writes under (`node-1.3f2a9c01~17`). */
export const INCARNATION_SEPARATOR = '~'

function actorsIn(versions: readonly Versioned[]): Map<ActorId, number> {
  const top = new Map<ActorId, number>()
  const see = (actor: ActorId, counter: number) => top.set(actor, Math.max(top.get(actor) ?? 0, counter))
  for (const v of versions) {
    see(v.dot.actor, v.dot.counter)
    for (const [a, n] of Object.entries(v.context.vv)) see(a, n)
    for (const d of v.context.dots) see(d.actor, d.counter)
  }
  return top
}

/**
 * A coordinator's write: the new version's context is the client's context, or, when the client
 * sent none, exactly what the coordinator holds (so a plain re-upload updates the file). The
 * context is pruned first, so what the coordinator drops is what every replica will drop.
 *
 * Dots count per key, so a key's dots from one writer are contiguous and contexts stay compact
 * version vectors. The writer is a per-key *incarnation* of the node's actor. `issued` is the
 * node's own record, kept beside the key's versions, of the highest counter it issued per
 * incarnation for this key: the newest incarnation in it is continued above everything seen of it;
 * with no record (a new key, a key reaped or never coordinated here) a fresh incarnation
 * `<node actor>~<lastIncarnation + 1>` starts at 1. So a counter is never reused, not after the node
 * forgot a key (riak kv679's reaped-tombstone case), not through a context taken from another key:
 * losing track only ever means a new name.
 *
 * `retired` is what the new version (made by client request `request.writeId`) retires: of what
 * it replaces here (see retiredBy), and what the client's read context retired (`request.retired`,
 * versions read elsewhere); `kept` leaves out the held twins of those requests, as reconcile would.
 */
export function planCoordinatedWrite<V extends Versioned>(
  held: readonly V[],
  clientContext: CausalContext | undefined,
  nodeActor: ActorId,
  lastIncarnation: number,
  maxContextEntries = Number.POSITIVE_INFINITY,
  issued: Readonly<Record<ActorId, number>> = {},
  request: { writeId?: string | undefined; retired?: readonly string[] | undefined } = {},
): { dot: Dot; context: CausalContext; kept: V[]; incarnation: number; retired: string[] } {
  const context = pruneContext(clientContext ? compact(clientContext.vv, clientContext.dots) : contextOf(held), maxContextEntries)
  const prefix = `${nodeActor}${INCARNATION_SEPARATOR}`
  // Only an incarnation this node's own record for this key says it issued may be continued: one
  // seen in a context (which may come from another key, or from before the key was reaped) may not.
  const mine = Object.keys(issued).filter((a) => a.startsWith(prefix) && /^\d+$/.test(a.slice(prefix.length)))
  let incarnation = lastIncarnation
  let actor: ActorId
  if (mine.length > 0) {
    actor = mine.reduce((a, b) => (Number(b.slice(prefix.length)) > Number(a.slice(prefix.length)) ? b : a))
  } else {
    incarnation = lastIncarnation + 1
    actor = `${prefix}${incarnation}`
  }
  const seen = actorsIn([...held, { dot: { actor: nodeActor, counter: 1 }, context }])
  const dot = { actor, counter: Math.max(seen.get(actor) ?? 0, issued[actor] ?? 0) + 1 }
  const retired = retiredBy(
    held.filter((h) => covers(context, h.dot)),
    request.writeId,
    request.retired,
  )
  const kept = held.filter((h) => !supersedes({ dot, context, retired }, h))
  return { dot, context, kept, incarnation, retired }
}

/**
 * The versions a reader should see as distinct: versions made by one client request (same
 * `writeId`, same bytes, same kind) are one write, though a retry on another coordinator gave
 * them different dots. The first in version-id order stands for the group; the context of a read
 * still covers every dot, so the next write supersedes them all.
 */
export function distinctWrites<V extends Versioned & { writeId?: string | undefined; etag: string; tombstone: boolean }>(versions: readonly V[]): V[] {
  const seen = new Map<string, V>()
  const out: V[] = []
  const ordered = [...versions].sort((a, b) => (versionId(a.dot) < versionId(b.dot) ? -1 : versionId(a.dot) > versionId(b.dot) ? 1 : 0))
  for (const v of ordered) {
    if (!v.writeId) {
      out.push(v)
      continue
    }
    const key = `${v.writeId}\u0000${v.etag}\u0000${v.tombstone}`
    if (seen.has(key)) continue
    seen.set(key, v)
    out.push(v)
  }
  return versions.filter((v) => out.includes(v))
}
