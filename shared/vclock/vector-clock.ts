/** Vector clocks as plain `{actor: counter}` objects (never strings): compare, merge, increment. */

/** An actor is a node's clock identity (`<node id>.<epoch>`); a fresh data directory gets a fresh epoch. */
export type ActorId = string
export type VectorClock = Readonly<Record<ActorId, number>>
export type Order = 'before' | 'after' | 'equal' | 'concurrent'

export const EMPTY_CLOCK: VectorClock = Object.freeze({})

/** Counter of `actor` in `clock` (0 when absent). */
export function counterOf(clock: VectorClock, actor: ActorId): number {
  return Object.hasOwn(clock, actor) ? (clock[actor] ?? 0) : 0
}

/** Total, pure order of two clocks: `before` means a happened before b. */
export function compare(a: VectorClock, b: VectorClock): Order {
  let aGreater = false
  let bGreater = false
  for (const actor of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = counterOf(a, actor)
    const y = counterOf(b, actor)
    if (x > y) aGreater = true
    else if (y > x) bGreater = true
    if (aGreater && bGreater) return 'concurrent'
  }
  if (aGreater) return 'after'
  if (bGreater) return 'before'
  return 'equal'
}

/** True when a has seen everything b has (a >= b). */
export function descends(a: VectorClock, b: VectorClock): boolean {
  const o = compare(a, b)
  return o === 'after' || o === 'equal'
}

/**
 * Least upper bound: the pointwise maximum.
 * Laws (tested): commutative, associative, idempotent, and the result descends both inputs.
 */
export function merge(...clocks: VectorClock[]): VectorClock {
  const max = new Map<ActorId, number>()
  for (const c of clocks) {
    for (const [actor, n] of Object.entries(c)) if (n > (max.get(actor) ?? 0)) max.set(actor, n)
  }
  return fromCounters(max)
}

/** The clock with `actor` advanced by one; it strictly dominates the input. */
export function increment(clock: VectorClock, actor: ActorId): VectorClock {
  return sortKeys({ ...clock, [actor]: counterOf(clock, actor) + 1 })
}

/** Same clock with keys in a canonical order, so equal clocks serialise identically. */
export function sortKeys(clock: Record<ActorId, number>): VectorClock {
  return fromCounters(new Map(Object.entries(clock)))
}

/**
 * A clock from actor -> counter, keys sorted. Built with Object.fromEntries (own data properties):
 * assigning `out[actor]` on a plain object would read inherited names (`constructor`, `toString`)
 * as counters and turn `__proto__` into a prototype instead of a key.
 */
export function fromCounters(counters: ReadonlyMap<ActorId, number>): VectorClock {
  return Object.fromEntries([...counters.keys()].sort().map((actor) => [actor, counters.get(actor) as number]))
}
