/**
 * Dotted version vectors (Preguica et al. 2010; Riak's dvv_enabled): the pure rules that decide
 * which versions of a key survive. A version is written over a *context* (the clock the writer had
 * read) and carries its own *dot* (actor, counter). Version v supersedes w exactly when v's context
 * covers w's dot. Two writes over the same stale context through the same coordinator get dots
 * (a,2) and (a,3); neither context covers the other's dot, so both survive as siblings instead of
 * the second silently erasing the first, as plain per-node clocks would.
 */
import { type ActorId, counterOf, merge, sortKeys, type VectorClock } from './vector-clock.js'

export interface Dot {
  readonly actor: ActorId
  readonly counter: number
}

/** What reconciliation needs of a version; stored and wire versions extend it. */
export interface Versioned {
  readonly dot: Dot
  readonly context: VectorClock
}

/** Stable id of a version, unique in the cluster because a dot is never reused. */
export function versionId(dot: Dot): string {
  return `${dot.actor}.${dot.counter}`
}

/** True when `clock` has seen `dot`. */
export function covers(clock: VectorClock, dot: Dot): boolean {
  return counterOf(clock, dot.actor) >= dot.counter
}

/** The version's whole clock (context plus its own dot): what users see as `vector_clock`. */
export function clockOf(v: Versioned): VectorClock {
  return sortKeys({ ...v.context, [v.dot.actor]: Math.max(counterOf(v.context, v.dot.actor), v.dot.counter) })
}

/** A clock covering every given version: the context a reader hands back to supersede exactly them. */
export function mergedClock(versions: readonly Versioned[]): VectorClock {
  return merge(...versions.map(clockOf))
}

function sameDot(a: Dot, b: Dot): boolean {
  return a.actor === b.actor && a.counter === b.counter
}

/** True when v makes w obsolete. */
export function supersedes(v: Versioned, w: Versioned): boolean {
  return !sameDot(v.dot, w.dot) && covers(v.context, w.dot)
}

/**
 * The versions of `a` and `b` that no other version supersedes, one per dot, sorted by id.
 * Laws (tested as properties): commutative, associative, idempotent; a version is dropped only
 * when another surviving-or-dropped version's context covers its dot.
 */
export function reconcile<V extends Versioned>(...sets: ReadonlyArray<readonly V[]>): V[] {
  const byId = new Map<string, V>()
  for (const set of sets) for (const v of set) if (!byId.has(versionId(v.dot))) byId.set(versionId(v.dot), v)
  const all = [...byId.values()]
  return all
    .filter((w) => !all.some((v) => supersedes(v, w)))
    .sort((x, y) => (versionId(x.dot) < versionId(y.dot) ? -1 : versionId(x.dot) > versionId(y.dot) ? 1 : 0))
}

/**
 * A coordinator's write: the new version's dot is (actor, next counter) and its context is the
 * client's context, or, when the client sent none, the clock of everything the coordinator holds
 * (so a plain re-upload updates the file). Returns the dot to use and the held versions it keeps.
 */
export function planCoordinatedWrite<V extends Versioned>(
  held: readonly V[],
  clientContext: VectorClock | undefined,
  actor: ActorId,
  lastCounter: number,
): { dot: Dot; context: VectorClock; kept: V[] } {
  const context = clientContext ?? mergedClock(held)
  // Never reuse a counter: also stay above anything this actor's dots reached elsewhere.
  const counter = Math.max(lastCounter, counterOf(context, actor), ...held.filter((h) => h.dot.actor === actor).map((h) => h.dot.counter)) + 1
  const dot = { actor, counter }
  return { dot, context: sortKeys({ ...context }), kept: held.filter((h) => !covers(context, h.dot)) }
}

/**
 * Bound a context to `maxEntries` actors by dropping the entries with the smallest counters.
 * With dotted version vectors this is safe in the direction that matters: a pruned context covers
 * fewer dots, so it can only leave extra siblings, never supersede (lose) a version it had not seen.
 */
export function pruneContext(context: VectorClock, maxEntries: number): VectorClock {
  const entries = Object.entries(context)
  if (entries.length <= maxEntries) return context
  entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
  return sortKeys(Object.fromEntries(entries.slice(0, maxEntries)))
}
