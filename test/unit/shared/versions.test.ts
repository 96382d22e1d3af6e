import test from 'ava'
import type { VectorClock } from '../../../shared/vclock/vector-clock.js'
import {
  type CausalContext,
  clockOf,
  compact,
  contextOf,
  covers,
  type Dot,
  displayClock,
  EMPTY_CONTEXT,
  join,
  planCoordinatedWrite,
  pruneContext,
  reconcile,
  supersedes,
  type Versioned,
  versionId,
} from '../../../shared/vclock/versions.js'
import { forEachSeed, type Prng } from '../../helpers/prng.js'

const ids = (vs: readonly Versioned[]) => vs.map((v) => versionId(v.dot))
const sortedIds = (vs: readonly Versioned[]) => ids(vs).sort()

const dot = (actor: string, counter: number): Dot => ({ actor, counter })
const ctx = (vv: VectorClock = {}, dots: Dot[] = []): CausalContext => ({ vv, dots })
const version = (d: Dot, context: CausalContext = EMPTY_CONTEXT): Versioned => ({ dot: d, context })

/**
 * A coordinator's write as a node does it: plan, then hold the kept versions plus the new one.
 * `node` is the node's actor; the dot's actor is a per-key incarnation of it (`<node>~<n>`).
 */
function write(
  held: readonly Versioned[],
  context: CausalContext | undefined,
  node: string,
  lastIncarnation: number,
  maxEntries?: number,
  issued?: Record<string, number>,
) {
  const plan = planCoordinatedWrite(held, context, node, lastIncarnation, maxEntries, issued)
  const v: Versioned = { dot: plan.dot, context: plan.context }
  return { version: v, held: [...plan.kept, v], incarnation: plan.incarnation }
}

// ---------------------------------------------------------------------------------------------
// examples

test('versionId, covers, clockOf, displayClock, contextOf, supersedes on examples', (t) => {
  const v = version(dot('a', 3), ctx({ a: 1, b: 2 }))
  t.is(versionId(v.dot), 'a.3')
  t.true(covers(ctx({ a: 3 }), dot('a', 3)))
  t.true(covers(ctx({ a: 4 }), dot('a', 3)))
  t.false(covers(ctx({ a: 2 }), dot('a', 3)))
  t.false(covers(ctx({ b: 9 }), dot('a', 1)))
  t.false(covers(EMPTY_CONTEXT, dot('a', 1)))
  // Isolated dots: seen exactly, nothing below them implied.
  t.true(covers(ctx({ a: 1 }, [dot('a', 3)]), dot('a', 3)))
  t.false(covers(ctx({ a: 1 }, [dot('a', 3)]), dot('a', 2)), 'seeing a.3 over {a:1} is not seeing a.2')
  t.true(covers(ctx({ a: 1 }, [dot('a', 3)]), dot('a', 1)))
  t.false(covers(ctx({}, [dot('b', 5)]), dot('b', 4)))
  t.false(covers(ctx({}, [dot('b', 5)]), dot('b', 6)))
  t.false(covers(ctx({}, [dot('b', 5)]), dot('c', 5)), 'a dot of another actor with the same counter')

  t.deepEqual(clockOf(v), { a: 3, b: 2 })
  t.deepEqual(clockOf(version(dot('a', 1), ctx({ a: 5 }))), { a: 5 }, 'the dot never lowers the context')
  t.deepEqual(clockOf(version(dot('b', 1), ctx({ a: 1 }, [dot('a', 3)]))), { a: 3, b: 1 }, 'isolated dots are flattened for display')
  t.deepEqual(Object.keys(clockOf(version(dot('a', 1), ctx({ z: 1, m: 2 })))), ['a', 'm', 'z'])

  const w = version(dot('b', 2))
  t.true(supersedes(v, w))
  t.false(supersedes(w, v))
  t.false(supersedes(v, v), 'a version never supersedes itself')
  t.false(supersedes(v, { ...v, context: ctx({ a: 9 }) }), 'nor another copy of its own dot')
  const viaDot = version(dot('c', 1), ctx({}, [dot('a', 3)]))
  t.true(supersedes(viaDot, version(dot('a', 3))), 'an isolated dot of the context supersedes exactly that version')
  t.false(supersedes(viaDot, version(dot('a', 2))))

  t.deepEqual(contextOf([]), { vv: {}, dots: [] })
  t.deepEqual(displayClock([]), {})
  // What a reader of {v, w} has seen: the contexts and the dots, and no more.
  t.deepEqual(contextOf([v, w]), { vv: { a: 1, b: 2 }, dots: [dot('a', 3)] })
  t.false(covers(contextOf([v, w]), dot('a', 2)))
  // The display clock flattens it (and would claim a.2).
  t.deepEqual(displayClock([v, w]), { a: 3, b: 2 })
  t.deepEqual(contextOf([version(dot('a', 1)), version(dot('a', 2))]), { vv: { a: 2 }, dots: [] }, 'contiguous dots fold into the vector')
})

test('compact folds contiguous dots, drops covered ones, dedups and sorts the rest', (t) => {
  t.deepEqual(compact({}, []), { vv: {}, dots: [] })
  t.deepEqual(compact({ a: 1 }, [dot('a', 2)]), { vv: { a: 2 }, dots: [] })
  t.deepEqual(compact({ a: 1 }, [dot('a', 3)]), { vv: { a: 1 }, dots: [dot('a', 3)] })
  t.deepEqual(compact({ a: 1 }, [dot('a', 3), dot('a', 2)]), { vv: { a: 3 }, dots: [] }, 'dot order does not matter')
  t.deepEqual(compact({ a: 5 }, [dot('a', 2), dot('a', 5)]), { vv: { a: 5 }, dots: [] }, 'covered dots are dropped')
  t.deepEqual(compact({}, [dot('b', 2), dot('a', 4), dot('b', 2), dot('a', 3)]), { vv: {}, dots: [dot('a', 3), dot('a', 4), dot('b', 2)] })
  t.deepEqual(compact({}, [dot('a', 1), dot('a', 2), dot('a', 4)]), { vv: { a: 2 }, dots: [dot('a', 4)] })
  t.deepEqual(compact({ b: 1 }, [dot('a', 1), dot('b', 3), dot('b', 2)]), { vv: { a: 1, b: 3 }, dots: [] })
  t.deepEqual(Object.keys(compact({ z: 1, b: 1, m: 0 }, []).vv), ['b', 'z'], 'vector keys are sorted; zero entries say nothing and are dropped')
  // Inputs are not mutated.
  const vv = { a: 1 }
  const dots = [dot('a', 3), dot('a', 2)]
  compact(vv, dots)
  t.deepEqual(vv, { a: 1 })
  t.deepEqual(dots, [dot('a', 3), dot('a', 2)])
})

test('join and pruneContext on examples', (t) => {
  t.deepEqual(join(), { vv: {}, dots: [] })
  t.deepEqual(join(ctx({ a: 1 }), ctx({ b: 2 }, [dot('a', 3)])), { vv: { a: 1, b: 2 }, dots: [dot('a', 3)] })
  t.deepEqual(join(ctx({ a: 1 }, [dot('a', 3)]), ctx({}, [dot('a', 2)])), { vv: { a: 3 }, dots: [] }, 'the gap is filled by the other side')
  t.deepEqual(join(ctx({ a: 4 }), ctx({ a: 1 }, [dot('a', 3)])), { vv: { a: 4 }, dots: [] })

  const big = ctx({ a: 5, b: 1, c: 3 }, [dot('b', 7)])
  t.is(pruneContext(big, 3), big, 'within the bound it is returned as is')
  t.is(pruneContext(big, 10), big)
  // An actor ranks by its highest counter, vector or dot: b (7) > a (5) > c (3).
  t.deepEqual(pruneContext(big, 2), { vv: { a: 5, b: 1 }, dots: [dot('b', 7)] })
  t.deepEqual(pruneContext(big, 1), { vv: { b: 1 }, dots: [dot('b', 7)] })
  t.deepEqual(pruneContext(big, 0), { vv: {}, dots: [] })
  t.deepEqual(pruneContext(ctx({ b: 1, a: 1 }), 1), { vv: { a: 1 }, dots: [] }, 'ties are broken by actor id')
  t.deepEqual(pruneContext(ctx({}, [dot('x', 9), dot('y', 1)]), 1), { vv: {}, dots: [dot('x', 9)] }, 'actors known only by dots count too')
})

test('reconcile keeps one copy per dot and sorts by id', (t) => {
  const a1 = version(dot('a', 1))
  const b1 = version(dot('b', 1))
  t.deepEqual(ids(reconcile([b1, a1], [a1], [b1])), ['a.1', 'b.1'])
  t.deepEqual(reconcile(), [])
  t.deepEqual(reconcile([], []), [])
})

test('the classic trap: two writes over the same stale context through the same actor both survive', (t) => {
  // First write, then a client reads it.
  const first = write([], undefined, 'a', 0)
  t.deepEqual(first.version.dot, { actor: 'a~1', counter: 1 })
  t.is(first.incarnation, 1)
  const staleContext = contextOf(first.held)
  t.deepEqual(staleContext, { vv: { 'a~1': 1 }, dots: [] })

  // Two clients write over that same context through the same coordinator.
  const second = write(first.held, staleContext, 'a', 1)
  const third = write(second.held, staleContext, 'a', 1)
  t.deepEqual(second.version.dot, { actor: 'a~1', counter: 2 })
  t.deepEqual(third.version.dot, { actor: 'a~1', counter: 3 })
  t.deepEqual(third.version.context, { vv: { 'a~1': 1 }, dots: [] })
  t.deepEqual(sortedIds(third.held), ['a~1.2', 'a~1.3'], 'the coordinator keeps the earlier write as a sibling')
  t.deepEqual(ids(reconcile(third.held)), ['a~1.2', 'a~1.3'])
  // Whatever order replicas learn them in, both survive.
  t.deepEqual(ids(reconcile([second.version], [third.version])), ['a~1.2', 'a~1.3'])
  t.deepEqual(ids(reconcile([third.version], [second.version])), ['a~1.2', 'a~1.3'])
  t.deepEqual(ids(reconcile([first.version], [third.version], [second.version])), ['a~1.2', 'a~1.3'])

  // A write over the context of both supersedes both.
  const both = contextOf(third.held)
  t.deepEqual(both, { vv: { 'a~1': 3 }, dots: [] })
  const resolved = write(third.held, both, 'a', 1)
  t.deepEqual(resolved.held, [resolved.version])
  t.deepEqual(ids(reconcile([first.version, second.version, third.version], [resolved.version])), ['a~1.4'])
  t.deepEqual(ids(reconcile([resolved.version], [third.version], [second.version])), ['a~1.4'])
})

test('the trap through a different coordinator: siblings survive there too', (t) => {
  const first = write([], undefined, 'a', 0)
  const c = contextOf(first.held)
  const viaA = write(first.held, c, 'a', 1)
  const viaB = write(first.held, c, 'b', 0)
  t.deepEqual(ids(reconcile(viaA.held, viaB.held)), ['a~1.2', 'b~1.1'])
  const resolved = write(reconcile(viaA.held, viaB.held), contextOf([viaA.version, viaB.version]), 'b', 1)
  t.deepEqual(ids(reconcile(viaA.held, viaB.held, [resolved.version])), ['b~1.2'])
})

// Regression: the lost update that motivated causal contexts. With flat clocks, C (holding only
// (A,3), written over {A:1}) would write over {A:3} and so erase (A,2), which no client had seen
// next to (A,3) on C.
test('regression: a replica that missed a sibling cannot supersede it with a context-free write', (t) => {
  const a1 = write([], undefined, 'A', 0).version
  const A = a1.dot.actor // A's incarnation for this key
  t.deepEqual(a1.dot, dot(A, 1))
  const held: Record<'A' | 'B' | 'C', Versioned[]> = { A: [a1], B: [a1], C: [a1] }
  // Two clients read (A,1) and write over its context through A.
  const read = contextOf(held.A)
  const w2 = write(held.A, read, 'A', 1)
  const w3 = write(w2.held, read, 'A', 1)
  const a2 = w2.version
  const a3 = w3.version
  t.deepEqual([a2.dot, a3.dot], [dot(A, 2), dot(A, 3)])
  held.A = w3.held
  held.B = reconcile(held.B, [a2], [a3])
  held.C = reconcile(held.C, [a3]) // C missed (A,2)
  t.deepEqual(sortedIds(held.A), [`${A}.2`, `${A}.3`])
  t.deepEqual(sortedIds(held.B), [`${A}.2`, `${A}.3`])
  t.deepEqual(ids(held.C), [`${A}.3`])

  // What C would have claimed as a flat clock covers (A,2): that was the bug.
  t.deepEqual(displayClock(held.C), { [A]: 3 })
  t.true(covers(ctx(displayClock(held.C)), a2.dot))

  // A write with no client context, coordinated by C's actor over what C holds.
  const plan = planCoordinatedWrite(held.C, undefined, 'C', 0)
  t.deepEqual(plan.context, { vv: { [A]: 1 }, dots: [dot(A, 3)] })
  t.false(covers(plan.context, a2.dot), 'C never saw (A,2)')
  t.deepEqual(plan.kept, [])
  const c1: Versioned = { dot: plan.dot, context: plan.context }
  held.C = [...plan.kept, c1]
  const C1 = versionId(c1.dot)

  // Replicated to A and B, the new version supersedes (A,3) only; (A,2) stays as its sibling.
  held.A = reconcile(held.A, [c1])
  held.B = reconcile(held.B, [c1])
  t.deepEqual(sortedIds(held.A), [`${A}.2`, C1].sort())
  t.deepEqual(sortedIds(held.B), [`${A}.2`, C1].sort())
  t.deepEqual(sortedIds(reconcile(held.A, held.B, held.C)), [`${A}.2`, C1].sort())
  t.true(supersedes(c1, a3))
  t.false(supersedes(c1, a2))
})

test('a write without context supersedes everything its coordinator holds', (t) => {
  const stale = EMPTY_CONTEXT
  const x = write([], stale, 'a', 0)
  const y = write(x.held, stale, 'a', 1)
  t.is(y.held.length, 2, 'explicit empty context: siblings')
  const blind = write(y.held, undefined, 'a', 1)
  t.deepEqual(blind.held, [blind.version])
  t.deepEqual(blind.version.context, { vv: { 'a~1': 2 }, dots: [] })
})

test('planCoordinatedWrite: a fresh incarnation when the node holds no trace of one, else the held one continued', (t) => {
  // No trace of this node in what it holds (new key): a new incarnation, counting from 1.
  t.like(planCoordinatedWrite([], undefined, 'a', 0), { dot: dot('a~1', 1), incarnation: 1 })
  t.like(planCoordinatedWrite([], undefined, 'a', 7), { dot: dot('a~8', 1), incarnation: 8 })
  t.like(planCoordinatedWrite([version(dot('b~1', 40))], EMPTY_CONTEXT, 'a', 2), { dot: dot('a~3', 1), incarnation: 3 }, 'other nodes\' incarnations do not count')
  const lookalikes = [version(dot('ab~1', 3)), version(dot('a~x', 2)), version(dot('a', 4)), version(dot('a~', 1))]
  t.like(planCoordinatedWrite(lookalikes, EMPTY_CONTEXT, 'a', 0), { dot: dot('a~1', 1), incarnation: 1 }, 'only `<node>~<digits>` is an incarnation of the node')
  // A held incarnation is continued above everything known of it; the incarnation count is unchanged.
  const held = [version(dot('a~3', 5)), version(dot('b~1', 40))]
  t.like(planCoordinatedWrite(held, EMPTY_CONTEXT, 'a', 9), { dot: dot('a~3', 6), incarnation: 9 })
  t.like(planCoordinatedWrite(held, ctx({ 'a~3': 9 }), 'a', 9), { dot: dot('a~3', 10) }, 'the context saw a~3:9')
  t.like(planCoordinatedWrite(held, ctx({ 'a~3': 2 }, [dot('a~3', 12)]), 'a', 9), { dot: dot('a~3', 13) }, 'isolated dots of the incarnation count too')
  t.like(planCoordinatedWrite([version(dot('b~1', 1), ctx({ 'a~3': 7 }))], undefined, 'a', 9), { dot: dot('a~3', 8) }, 'a trace in a held context counts')
  t.like(planCoordinatedWrite([version(dot('a~2', 4)), version(dot('a~10', 1))], undefined, 'a', 10), { dot: dot('a~10', 2) }, 'the highest incarnation (numerically) is continued')
  const plan = planCoordinatedWrite(held, ctx({ 'b~1': 40 }), 'a', 9)
  t.deepEqual(ids(plan.kept), ['a~3.5'])
  t.deepEqual(Object.keys(planCoordinatedWrite([], ctx({ z: 1, b: 1, m: 1 }), 'a', 0).context.vv), ['b', 'm', 'z'], 'context keys are sorted')
  t.deepEqual(planCoordinatedWrite([], ctx({ a: 1 }, [dot('a', 2), dot('b', 3)]), 'c', 0).context, { vv: { a: 2 }, dots: [dot('b', 3)] }, 'the client context is compacted')
})

test('planCoordinatedWrite prunes the context first: a pruned actor\'s version is kept as a sibling everywhere', (t) => {
  const held = [version(dot('x~1', 1)), version(dot('y~1', 1)), version(dot('z~1', 5), ctx({ 'z~1': 4 }))]
  const client = contextOf(held)
  t.deepEqual(client, { vv: { 'x~1': 1, 'y~1': 1, 'z~1': 5 }, dots: [] })
  const w = write(held, client, 'y', 1, 2)
  // z~1 (5) ranks first, then x~1 before y~1 on the tie.
  t.deepEqual(w.version.context, { vv: { 'x~1': 1, 'z~1': 5 }, dots: [] })
  t.deepEqual(w.version.dot, dot('y~1', 2), 'y~1 was pruned from the context, its held dot still keeps the counter above it')
  t.deepEqual(sortedIds(w.held), ['y~1.1', 'y~1.2'])
  t.deepEqual(ids(reconcile(held, [w.version])), ['y~1.1', 'y~1.2'], 'a replica drops exactly what the coordinator dropped')
  // Without a bound nothing is pruned.
  t.deepEqual(ids(write(held, client, 'y', 1).held), ['y~1.2'])
})

// A pruned context can hide the highest counter of an incarnation while a lower sibling keeps the
// incarnation visible; the node's own per-key record of what it issued (`issued`, kept by the store
// beside the versions) is what keeps the dot from being issued twice.
test('planCoordinatedWrite never reissues a dot, even when pruning hid the highest one of its incarnation', (t) => {
  const A: { held: Versioned[]; inc: number; mine: Record<string, number> } = { held: [], inc: 0, mine: {} }
  const C: { held: Versioned[]; inc: number; mine: Record<string, number> } = { held: [], inc: 0, mine: {} }
  const issued = new Set<string>()
  const on = (node: typeof A, name: string, context: CausalContext | undefined, maxEntries?: number) => {
    const w = write(node.held, context, name, node.inc, maxEntries, node.mine)
    node.held = w.held
    node.inc = w.incarnation
    node.mine = { ...node.mine, [w.version.dot.actor]: w.version.dot.counter }
    issued.add(versionId(w.version.dot))
    return w.version
  }
  const a1 = on(A, 'A', undefined) // (A~1,1)
  const a2 = on(A, 'A', EMPTY_CONTEXT) // (A~1,2), a sibling of (A~1,1)
  t.deepEqual(sortedIds(A.held), ['A~1.1', 'A~1.2'])
  // C holds only (A~1,2) and writes a few times; the last write's context is pruned to one actor.
  C.held = [a2]
  const c1 = on(C, 'C', undefined)
  on(C, 'C', undefined)
  on(C, 'C', undefined)
  const c4 = on(C, 'C', undefined, 1)
  t.deepEqual(c4.context, { vv: { 'C~1': 3 }, dots: [] }, 'A~1 (top 2) was pruned, C~1 (top 3) kept')
  // A learns c1 (which supersedes (A~1,2)), then c4 (which supersedes c1).
  A.held = reconcile(A.held, [c1])
  A.held = reconcile(A.held, [c4])
  t.deepEqual(sortedIds(A.held), ['A~1.1', 'C~1.4'])
  t.is(a1.dot.actor, 'A~1')
  // Without its record A would continue A~1 above what it still sees (1), i.e. (A~1,2) again, and a
  // replica still holding the first (A~1,2) would take the new version for one it already has.
  const before = new Set(issued)
  const next = on(A, 'A', undefined)
  t.false(before.has(versionId(next.dot)), `${versionId(next.dot)} was already issued for another write`)
})

// ---------------------------------------------------------------------------------------------
// properties of contexts

const CTX_ACTORS = ['a', 'b', 'c', 'd'] as const
const CTX_RUNS = 500

/** A random (not necessarily compact) context: small counters, so folds, gaps and duplicates are common. */
function randomContext(rng: Prng): CausalContext {
  const vv: Record<string, number> = {}
  for (const actor of rng.shuffle(CTX_ACTORS)) if (rng.chance(0.5)) vv[actor] = rng.range(1, 4)
  const dots = Array.from({ length: rng.int(6) }, () => dot(rng.pick(CTX_ACTORS), rng.range(1, 8)))
  return { vv, dots }
}

/** Dots to probe coverage with: random ones, plus every dot and vector boundary the contexts mention. */
function probeDots(rng: Prng, ...cs: CausalContext[]): Dot[] {
  const out = Array.from({ length: 20 }, () => dot(rng.pick([...CTX_ACTORS, 'e']), rng.range(1, 10)))
  for (const c of cs) {
    out.push(...c.dots)
    for (const [a, n] of Object.entries(c.vv)) out.push(dot(a, n), dot(a, n + 1), ...(n > 1 ? [dot(a, n - 1)] : []))
  }
  return out
}

test('property: compact is idempotent and preserves coverage', (t) => {
  let folded = 0
  forEachSeed(CTX_RUNS, 41, (rng, seed) => {
    const raw = randomContext(rng)
    const c = compact(raw.vv, raw.dots)
    t.deepEqual(compact(c.vv, c.dots), c, `seed ${seed}: idempotent`)
    t.deepEqual(compact(raw.vv, rng.shuffle(raw.dots)), c, `seed ${seed}: independent of dot order`)
    for (const d of probeDots(rng, raw)) {
      t.is(covers(c, d), covers(raw, d), `seed ${seed}: coverage of ${versionId(d)} changed`)
    }
    // Canonical: no isolated dot is covered by, or contiguous with, the vector; dots are unique and sorted.
    for (const d of c.dots) t.true(d.counter > (c.vv[d.actor] ?? 0) + 1, `seed ${seed}: ${versionId(d)} should have been folded or dropped`)
    const keys = c.dots.map((d) => `${d.actor}\u0000${String(d.counter).padStart(4, '0')}`)
    t.deepEqual(keys, [...new Set(keys)].sort(), `seed ${seed}: dots unique and sorted`)
    if (c.dots.length < raw.dots.length) folded++
  })
  t.true(folded > 0, 'the generator exercises folding')
})

test('property: join is commutative, associative, idempotent and covers exactly what its inputs cover', (t) => {
  forEachSeed(CTX_RUNS, 42, (rng, seed) => {
    const [x, y, z] = [randomContext(rng), randomContext(rng), randomContext(rng)]
    const msg = `seed ${seed}`
    t.deepEqual(join(x, y), join(y, x), `${msg}: commutative`)
    const xyz = join(x, y, z)
    t.deepEqual(join(join(x, y), z), xyz, `${msg}: associative (left)`)
    t.deepEqual(join(x, join(y, z)), xyz, `${msg}: associative (right)`)
    t.deepEqual(join(z, x, y), xyz, `${msg}: any order`)
    t.deepEqual(join(x, x), join(x), `${msg}: idempotent`)
    t.deepEqual(join(x), compact(x.vv, x.dots), `${msg}: join of one is its compact form`)
    t.deepEqual(join(xyz, x), xyz, `${msg}: absorbing a part changes nothing`)
    const xy = join(x, y)
    for (const d of probeDots(rng, x, y)) {
      const either = covers(x, d) || covers(y, d)
      if (either) t.true(covers(xy, d), `${msg}: join lost ${versionId(d)}`)
      t.is(covers(xy, d), either, `${msg}: join covers ${versionId(d)} that neither input covers`)
    }
  })
})

test('property: pruneContext never covers a dot the original did not, and keeps at most maxEntries actors', (t) => {
  let pruned = 0
  forEachSeed(CTX_RUNS, 43, (rng, seed) => {
    const raw = randomContext(rng)
    const original = rng.chance(0.5) ? compact(raw.vv, raw.dots) : raw
    const max = rng.int(5)
    const p = pruneContext(original, max)
    const actors = new Set([...Object.keys(p.vv), ...p.dots.map((d) => d.actor)])
    t.true(actors.size <= max, `seed ${seed}: ${actors.size} actors kept, limit ${max}`)
    for (const d of probeDots(rng, original)) {
      if (covers(p, d)) t.true(covers(original, d), `seed ${seed}: pruned context covers ${versionId(d)}`)
      // What survives pruning is kept whole: a kept actor's coverage is unchanged.
      if (actors.has(d.actor)) t.is(covers(p, d), covers(original, d), `seed ${seed}: kept actor ${d.actor} lost coverage`)
    }
    if (p !== original) pruned++
  })
  t.true(pruned > 0, 'the generator exercises pruning')
})

// ---------------------------------------------------------------------------------------------
// property: random legitimate histories

const ACTORS = ['A', 'B', 'C'] as const
const RUNS = 300

/** What a client got from a read: the context it sends back, and (ground truth) every dot it has seen. */
interface Read {
  context: CausalContext
  seen: ReadonlySet<string>
}

interface History {
  /** Versions each replica holds (an antichain). */
  held: Versioned[][]
  /** Each node's persisted count of key incarnations. */
  incarnations: number[]
  /** Every version ever created, in creation order. */
  all: Versioned[]
  /** Reads clients have made earlier (stale reads are legitimate too). */
  reads: Read[]
  /** Ground truth per version id: every dot its writer had seen (directly or through what it read). */
  seen: Map<string, ReadonlySet<string>>
  /** maxContextEntries of every coordinated write. */
  maxEntries: number
}

const EMPTY_READ: Read = { context: EMPTY_CONTEXT, seen: new Set() }

/** A read of a replica's set: its context, and everything its versions and their writers saw. */
function readOf(h: History, set: readonly Versioned[]): Read {
  const seen = new Set<string>()
  for (const v of set) {
    seen.add(versionId(v.dot))
    for (const s of h.seen.get(versionId(v.dot)) ?? []) seen.add(s)
  }
  return { context: contextOf(set), seen }
}

/** A coordinated write through a random actor; `read` undefined is a write with no client context. */
function coordinatedWrite(h: History, rng: Prng, read: Read | undefined): Versioned {
  const x = rng.int(ACTORS.length)
  const held = h.held[x] as Versioned[]
  const plan = planCoordinatedWrite(held, read?.context, ACTORS[x] as string, h.incarnations[x] as number, h.maxEntries)
  const v: Versioned = { dot: plan.dot, context: plan.context }
  h.held[x] = [...plan.kept, v]
  h.incarnations[x] = plan.incarnation
  h.all.push(v)
  h.seen.set(versionId(v.dot), (read ?? readOf(h, held)).seen)
  return v
}

function step(h: History, rng: Prng): void {
  const nonEmpty = h.held.flatMap((s, i) => (s.length > 0 ? [i] : []))
  if (nonEmpty.length > 0 && rng.chance(0.45)) {
    // Replicate one version from a replica that holds it to another replica.
    const src = rng.pick(nonEmpty)
    const dst = (src + 1 + rng.int(ACTORS.length - 1)) % ACTORS.length
    const v = rng.pick(h.held[src] as Versioned[])
    h.held[dst] = reconcile(h.held[dst] as Versioned[], [v])
    return
  }
  // A client reads a replica (or remembers an earlier read) and writes through some actor.
  const read = readOf(h, h.held[rng.int(ACTORS.length)] as Versioned[])
  h.reads.push(read)
  const r = rng.float()
  coordinatedWrite(h, rng, r < 0.55 ? read : r < 0.75 ? undefined : rng.pick(h.reads))
}

function randomHistory(rng: Prng, maxEntries = Number.POSITIVE_INFINITY): History {
  const h: History = { held: ACTORS.map(() => []), incarnations: ACTORS.map(() => 0), all: [], reads: [], seen: new Map(), maxEntries }
  const steps = rng.range(5, 60)
  for (let i = 0; i < steps; i++) step(h, rng)
  return h
}

const coveredByAnother = (all: readonly Versioned[], v: Versioned) => all.some((u) => u !== v && covers(u.context, v.dot))

test('property: reconcile is commutative, associative and idempotent over replicas of random histories', (t) => {
  forEachSeed(RUNS, 21, (rng, seed) => {
    const h = randomHistory(rng)
    const [s0, s1, s2] = h.held as [Versioned[], Versioned[], Versioned[]]
    const msg = `seed ${seed}`
    for (const s of h.held) {
      t.deepEqual(ids(reconcile(s)), sortedIds(s), `${msg}: a replica's set is already reconciled`)
      t.deepEqual(ids(reconcile(s, s)), ids(reconcile(s)), `${msg}: idempotent`)
    }
    t.deepEqual(ids(reconcile(s0, s1)), ids(reconcile(s1, s0)), `${msg}: commutative 0,1`)
    t.deepEqual(ids(reconcile(s1, s2)), ids(reconcile(s2, s1)), `${msg}: commutative 1,2`)
    t.deepEqual(ids(reconcile(s0, s2)), ids(reconcile(s2, s0)), `${msg}: commutative 0,2`)
    const whole = ids(reconcile(s0, s1, s2))
    t.deepEqual(ids(reconcile(reconcile(s0, s1), s2)), whole, `${msg}: associative (left)`)
    t.deepEqual(ids(reconcile(s0, reconcile(s1, s2))), whole, `${msg}: associative (right)`)
    t.deepEqual(ids(reconcile(s2, s0, s1)), whole, `${msg}: any order`)
    t.deepEqual(ids(reconcile(reconcile(s0, s1, s2), s0)), whole, `${msg}: absorbing a part changes nothing`)
  })
})

for (const [label, maxEntries, base] of [
  ['', Number.POSITIVE_INFINITY, 22],
  [' (contexts pruned to 2 actors)', 2, 25],
] as const) {
  test(`property: a version is lost only when another version covers its dot; an uncovered one always survives${label}`, (t) => {
    let dropped = 0
    let siblings = 0
    forEachSeed(RUNS, base, (rng, seed) => {
      const h = randomHistory(rng, maxEntries)
      const survivors = new Set(ids(reconcile(...h.held)))
      for (const v of h.all) {
        const covered = coveredByAnother(h.all, v)
        if (!survivors.has(versionId(v.dot))) {
          dropped++
          t.true(covered, `seed ${seed}: ${versionId(v.dot)} vanished though no context covers it`)
        } else {
          t.false(
            h.all.some((u) => survivors.has(versionId(u.dot)) && supersedes(u, v)),
            `seed ${seed}: ${versionId(v.dot)} survives next to a version that supersedes it`,
          )
        }
        if (!covered) t.true(survivors.has(versionId(v.dot)), `seed ${seed}: uncovered ${versionId(v.dot)} lost`)
      }
      if (survivors.size > 1) siblings++
    })
    t.log(`${dropped} superseded versions dropped; ${siblings}/${RUNS} histories end with siblings`)
    t.true(dropped > 0 && siblings > 0, 'the generator produces both supersession and siblings')
  })

  test(`property: a context covers only dots its writer had seen${label}`, (t) => {
    let isolated = 0
    let prunedAway = 0
    forEachSeed(RUNS, base + 100, (rng, seed) => {
      const h = randomHistory(rng, maxEntries)
      for (const v of h.all) {
        const seen = h.seen.get(versionId(v.dot)) as ReadonlySet<string>
        if (v.context.dots.length > 0) isolated++
        for (const u of h.all) {
          const c = covers(v.context, u.dot)
          if (c) t.true(seen.has(versionId(u.dot)), `seed ${seed}: ${versionId(v.dot)} supersedes ${versionId(u.dot)}, which its writer never saw`)
          // Without pruning the context is exact: everything seen is covered.
          else if (seen.has(versionId(u.dot))) {
            prunedAway++
            t.true(Number.isFinite(maxEntries), `seed ${seed}: ${versionId(v.dot)}'s context misses ${versionId(u.dot)} it had seen`)
          }
        }
      }
    })
    t.log(`${isolated} contexts with isolated dots; ${prunedAway} seen dots left uncovered by pruning`)
    t.true(isolated > 0, 'the generator produces contexts with isolated dots (the lost-update shape)')
    if (Number.isFinite(maxEntries)) t.true(prunedAway > 0, 'pruning happens')
  })
}

test('property: a write over the full context of everything leaves exactly one survivor once replicated everywhere', (t) => {
  forEachSeed(RUNS, 23, (rng, seed) => {
    const h = randomHistory(rng)
    const v = coordinatedWrite(h, rng, readOf(h, h.held.flat()))
    for (let r = 0; r < h.held.length; r++) h.held[r] = reconcile(h.held[r] as Versioned[], [v])
    t.deepEqual(ids(reconcile(...h.held)), [versionId(v.dot)], `seed ${seed}`)
    for (const s of h.held) t.deepEqual(ids(s), [versionId(v.dot)], `seed ${seed}: every replica converges`)
  })
})

test('property: planCoordinatedWrite never reuses a dot across a whole run', (t) => {
  forEachSeed(RUNS, 24, (rng, seed) => {
    const h = randomHistory(rng)
    // A few more writes through every actor with contexts of every kind.
    for (let i = 0; i < 10; i++) coordinatedWrite(h, rng, rng.chance(0.5) ? undefined : rng.pick([EMPTY_READ, ...h.reads]))
    const seen = new Set<string>()
    const perActor = new Map<string, number>()
    for (const v of h.all) {
      const id = versionId(v.dot)
      t.false(seen.has(id), `seed ${seed}: dot ${id} reused`)
      seen.add(id)
      // Each actor's counters grow strictly in creation order.
      t.true(v.dot.counter > (perActor.get(v.dot.actor) ?? 0), `seed ${seed}: ${id} not above earlier dots of its actor`)
      perActor.set(v.dot.actor, v.dot.counter)
      // A new dot is never already covered by the context it was written over.
      t.false(covers(v.context, v.dot), `seed ${seed}: ${id} covered by its own context`)
    }
  })
})
