import test from 'ava'
import { descends, merge, type VectorClock } from '../../../shared/vclock/vector-clock.js'
import {
  type CausalContext,
  clockOf,
  compact,
  contextOf,
  covers,
  distinctWrites,
  isRetired,
  type Dot,
  displayClock,
  EMPTY_CONTEXT,
  join,
  planCoordinatedWrite,
  pruneContext,
  reconcile,
  retiredBy,
  supersedes,
  type ReadContext,
  readContextOf,
  type Versioned,
  versionId,
} from '../../../shared/vclock/versions.js'
import { MAX_RETIRED } from '../../../shared/vclock/schemas.js'
import { forEachSeed, type Prng } from '../../../devtools/prng.js'

const ids = (vs: readonly Versioned[]) => vs.map((v) => versionId(v.dot))
const sortedIds = (vs: readonly Versioned[]) => ids(vs).sort()

const dot = (actor: string, counter: number): Dot => ({ actor, counter })
const ctx = (vv: VectorClock = {}, dots: Dot[] = []): CausalContext => ({ vv, dots })
const version = (d: Dot, context: CausalContext = EMPTY_CONTEXT): Versioned => ({ dot: d, context })

/**
 * One key as a simulated node's store keeps it (StoredRecord in storage-node/store/records.ts):
 * the versions it holds, and the node's own record of the highest counter it issued per incarnation
 * for this key. Only a coordinated write here sets `issued`; replication keeps it as it is.
 */
interface KeyRecord {
  held: Versioned[]
  issued?: Record<string, number>
}

/** A simulated node: its actor, its persisted count of key incarnations (node-wide), and its records per key. */
interface SimNode {
  readonly actor: string
  incarnations: number
  readonly keys: Map<string, KeyRecord>
}

/** The key of the single-key examples. */
const K = 'k'

const node = (actor: string, incarnations = 0): SimNode => ({ actor, incarnations, keys: new Map() })

/** What a node holds of a key (nothing when it has no record of it). */
const heldOn = (n: SimNode, key = K): Versioned[] => n.keys.get(key)?.held ?? []

/** The version a coordinator makes from its plan, as LmdbObjectStore.coordinate does (request id, retry mark, retired requests). */
function planned(plan: ReturnType<typeof planCoordinatedWrite>, request: { writeId?: string; retried?: boolean }): Versioned {
  return {
    dot: plan.dot,
    context: plan.context,
    ...(request.writeId ? { writeId: request.writeId } : {}),
    ...(request.retried ? { retried: true } : {}),
    ...(plan.retired.length > 0 ? { retired: plan.retired } : {}),
  }
}

/**
 * A coordinator's write as the store does it (LmdbObjectStore.coordinate): plan with the key's own
 * `issued` record, then hold the kept versions plus the new one, record the new dot as issued and
 * persist the incarnation count. The node's actor is `node.actor`; the dot's actor is a per-key
 * incarnation of it (`<node>~<n>`).
 */
function write(n: SimNode, context: ReadContext | undefined, opts: { key?: string; maxEntries?: number; writeId?: string; retried?: boolean } = {}) {
  const key = opts.key ?? K
  const rec = n.keys.get(key)
  // As the store: an attempt of a request retired here is refused (WriteExpired).
  if (isRetired(rec?.held ?? [], opts.writeId)) throw new Error(`request ${opts.writeId} is retired on ${n.actor}`)
  const plan = planCoordinatedWrite(rec?.held ?? [], context, n.actor, n.incarnations, opts.maxEntries, rec?.issued, { writeId: opts.writeId, retired: context?.retired })
  const v = planned(plan, opts)
  const held = [...plan.kept, v]
  n.keys.set(key, { held, issued: { ...rec?.issued, [plan.dot.actor]: plan.dot.counter } })
  n.incarnations = plan.incarnation
  return { ...plan, version: v, held }
}

/** Versions replicated to a node (LmdbObjectStore.replicate): reconciled into what it holds; its `issued` record is untouched. */
function receive(n: SimNode, versions: readonly Versioned[], key = K): void {
  const rec = n.keys.get(key)
  const held = reconcile(rec?.held ?? [], versions)
  if (held.length === 0) n.keys.delete(key)
  else n.keys.set(key, rec?.issued ? { held, issued: rec.issued } : { held })
}

/** The node forgets the key (reaped, or its last version dropped): the versions and the `issued` record go together. */
function reap(n: SimNode, key = K): void {
  n.keys.delete(key)
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
  const a = node('a')
  // First write, then a client reads it.
  const first = write(a, undefined)
  t.deepEqual(first.version.dot, { actor: 'a~1', counter: 1 })
  t.is(first.incarnation, 1)
  t.deepEqual(a.keys.get(K)?.issued, { 'a~1': 1 }, 'the node records what it issued for the key')
  const staleContext = contextOf(first.held)
  t.deepEqual(staleContext, { vv: { 'a~1': 1 }, dots: [] })

  // Two clients write over that same context through the same coordinator.
  const second = write(a, staleContext)
  const third = write(a, staleContext)
  t.deepEqual(second.version.dot, { actor: 'a~1', counter: 2 })
  t.deepEqual(third.version.dot, { actor: 'a~1', counter: 3 })
  t.is(a.incarnations, 1, 'the recorded incarnation is continued: no new one')
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
  const resolved = write(a, both)
  t.deepEqual(resolved.held, [resolved.version])
  t.deepEqual(ids(reconcile([first.version, second.version, third.version], [resolved.version])), ['a~1.4'])
  t.deepEqual(ids(reconcile([resolved.version], [third.version], [second.version])), ['a~1.4'])
  t.deepEqual(a.keys.get(K)?.issued, { 'a~1': 4 })
})

test('the trap through a different coordinator: siblings survive there too', (t) => {
  const a = node('a')
  const b = node('b')
  const first = write(a, undefined)
  receive(b, first.held)
  const c = contextOf(first.held)
  const viaA = write(a, c)
  // b holds a's incarnation but has no record of its own for the key: it starts one.
  const viaB = write(b, c)
  t.deepEqual(viaB.version.dot, dot('b~1', 1))
  t.deepEqual(ids(reconcile(viaA.held, viaB.held)), ['a~1.2', 'b~1.1'])
  receive(b, viaA.held)
  t.deepEqual(ids(heldOn(b)), ['a~1.2', 'b~1.1'])
  const resolved = write(b, contextOf([viaA.version, viaB.version]))
  t.deepEqual(ids(reconcile(viaA.held, viaB.held, [resolved.version])), ['b~1.2'])
})

// Regression: the lost update that motivated causal contexts. With flat clocks, C (holding only
// (A,3), written over {A:1}) would write over {A:3} and so erase (A,2), which no client had seen
// next to (A,3) on C.
test('regression: a replica that missed a sibling cannot supersede it with a context-free write', (t) => {
  const nodes = { A: node('A'), B: node('B'), C: node('C') }
  const a1 = write(nodes.A, undefined).version
  const A = a1.dot.actor // A's incarnation for this key
  t.deepEqual(a1.dot, dot(A, 1))
  receive(nodes.B, [a1])
  receive(nodes.C, [a1])
  // Two clients read (A,1) and write over its context through A.
  const read = contextOf(heldOn(nodes.A))
  const a2 = write(nodes.A, read).version
  const a3 = write(nodes.A, read).version
  t.deepEqual([a2.dot, a3.dot], [dot(A, 2), dot(A, 3)])
  receive(nodes.B, [a2])
  receive(nodes.B, [a3])
  receive(nodes.C, [a3]) // C missed (A,2)
  t.deepEqual(sortedIds(heldOn(nodes.A)), [`${A}.2`, `${A}.3`])
  t.deepEqual(sortedIds(heldOn(nodes.B)), [`${A}.2`, `${A}.3`])
  t.deepEqual(ids(heldOn(nodes.C)), [`${A}.3`])

  // What C would have claimed as a flat clock covers (A,2): that was the bug.
  t.deepEqual(displayClock(heldOn(nodes.C)), { [A]: 3 })
  t.true(covers(ctx(displayClock(heldOn(nodes.C))), a2.dot))

  // A write with no client context, coordinated by C (no record of its own for the key) over what C holds.
  const plan = write(nodes.C, undefined)
  t.deepEqual(plan.context, { vv: { [A]: 1 }, dots: [dot(A, 3)] })
  t.false(covers(plan.context, a2.dot), 'C never saw (A,2)')
  t.deepEqual(plan.kept, [])
  t.deepEqual(plan.dot, dot('C~1', 1), 'C starts its own incarnation')
  const c1 = plan.version
  t.deepEqual(heldOn(nodes.C), [c1])
  const C1 = versionId(c1.dot)

  // Replicated to A and B, the new version supersedes (A,3) only; (A,2) stays as its sibling.
  receive(nodes.A, [c1])
  receive(nodes.B, [c1])
  t.deepEqual(sortedIds(heldOn(nodes.A)), [`${A}.2`, C1].sort())
  t.deepEqual(sortedIds(heldOn(nodes.B)), [`${A}.2`, C1].sort())
  t.deepEqual(sortedIds(reconcile(heldOn(nodes.A), heldOn(nodes.B), heldOn(nodes.C))), [`${A}.2`, C1].sort())
  t.true(supersedes(c1, a3))
  t.false(supersedes(c1, a2))
})

test('a write without context supersedes everything its coordinator holds', (t) => {
  const a = node('a')
  const stale = EMPTY_CONTEXT
  write(a, stale)
  const y = write(a, stale)
  t.is(y.held.length, 2, 'explicit empty context: siblings')
  const blind = write(a, undefined)
  t.deepEqual(blind.held, [blind.version])
  t.deepEqual(blind.version.context, { vv: { 'a~1': 2 }, dots: [] })
  t.deepEqual(blind.version.dot, dot('a~1', 3))
})

test("planCoordinatedWrite: a fresh incarnation unless the node's record for the key names one, else the recorded one continued", (t) => {
  // No record for the key on this node (new key, reaped, or never coordinated here): a new
  // incarnation, counting from 1, whatever the node holds or the client sends.
  t.like(planCoordinatedWrite([], undefined, 'a', 0), { dot: dot('a~1', 1), incarnation: 1 })
  t.like(planCoordinatedWrite([], undefined, 'a', 7, undefined, {}), { dot: dot('a~8', 1), incarnation: 8 })
  t.like(planCoordinatedWrite([version(dot('b~1', 40))], EMPTY_CONTEXT, 'a', 2, undefined, {}), { dot: dot('a~3', 1), incarnation: 3 }, "other nodes' incarnations do not count")
  const held = [version(dot('a~3', 5)), version(dot('b~1', 40))]
  t.like(planCoordinatedWrite(held, EMPTY_CONTEXT, 'a', 9, undefined, {}), { dot: dot('a~10', 1), incarnation: 10 }, 'its own incarnation merely held is not continued')
  t.like(planCoordinatedWrite(held, ctx({ 'a~3': 9 }), 'a', 9, undefined, {}), { dot: dot('a~10', 1), incarnation: 10 }, 'nor one seen in the client context')
  t.like(planCoordinatedWrite([], ctx({ 'a~3': 2 }, [dot('a~3', 12)]), 'a', 9, undefined, {}), { dot: dot('a~10', 1) }, 'nor one seen as an isolated dot')
  t.like(planCoordinatedWrite([version(dot('b~1', 1), ctx({ 'a~3': 7 }))], undefined, 'a', 9, undefined, {}), { dot: dot('a~10', 1) }, 'nor one traced in a held context')
  t.like(planCoordinatedWrite(held, EMPTY_CONTEXT, 'a', 9, undefined, { 'b~1': 40 }), { dot: dot('a~10', 1) }, "another node's actor in the record is not the node's")
  const lookalikes = { 'ab~1': 3, 'a~x': 2, a: 4, 'a~': 1 }
  t.like(planCoordinatedWrite([], EMPTY_CONTEXT, 'a', 0, undefined, lookalikes), { dot: dot('a~1', 1), incarnation: 1 }, 'only `<node>~<digits>` is an incarnation of the node')
  // The recorded incarnation is continued above everything known of it; the incarnation count is unchanged.
  const mine = { 'a~3': 5 }
  t.like(planCoordinatedWrite(held, EMPTY_CONTEXT, 'a', 9, undefined, mine), { dot: dot('a~3', 6), incarnation: 9 })
  t.like(planCoordinatedWrite(held, ctx({ 'a~3': 9 }), 'a', 9, undefined, mine), { dot: dot('a~3', 10) }, 'the context saw a~3:9')
  t.like(planCoordinatedWrite(held, ctx({ 'a~3': 2 }, [dot('a~3', 12)]), 'a', 9, undefined, mine), { dot: dot('a~3', 13) }, 'isolated dots of the incarnation count too')
  t.like(planCoordinatedWrite([version(dot('b~1', 1), ctx({ 'a~3': 7 }))], undefined, 'a', 9, undefined, mine), { dot: dot('a~3', 8) }, 'a trace in a held context counts')
  t.like(planCoordinatedWrite([], EMPTY_CONTEXT, 'a', 9, undefined, { 'a~3': 12 }), { dot: dot('a~3', 13), incarnation: 9 }, 'the record counts when nothing of it is seen')
  t.like(planCoordinatedWrite([], undefined, 'a', 10, undefined, { 'a~2': 4, 'a~10': 1 }), { dot: dot('a~10', 2) }, 'the highest incarnation (numerically) is continued')
  const plan = planCoordinatedWrite(held, ctx({ 'b~1': 40 }), 'a', 9, undefined, mine)
  t.deepEqual(ids(plan.kept), ['a~3.5'])
  t.deepEqual(Object.keys(planCoordinatedWrite([], ctx({ z: 1, b: 1, m: 1 }), 'a', 0).context.vv), ['b', 'm', 'z'], 'context keys are sorted')
  t.deepEqual(planCoordinatedWrite([], ctx({ a: 1 }, [dot('a', 2), dot('b', 3)]), 'c', 0).context, { vv: { a: 2 }, dots: [dot('b', 3)] }, 'the client context is compacted')
})

test("planCoordinatedWrite prunes the context first: a pruned actor's version is kept as a sibling everywhere", (t) => {
  // y wrote (y~1,1) itself; x's and z's versions reached it by replication.
  const setup = () => {
    const y = node('y')
    write(y, undefined)
    receive(y, [version(dot('x~1', 1)), version(dot('z~1', 5), ctx({ 'z~1': 4 }))])
    return y
  }
  const y = setup()
  const held = heldOn(y)
  t.deepEqual(sortedIds(held), ['x~1.1', 'y~1.1', 'z~1.5'])
  t.deepEqual(y.keys.get(K)?.issued, { 'y~1': 1 })
  const client = contextOf(held)
  t.deepEqual(client, { vv: { 'x~1': 1, 'y~1': 1, 'z~1': 5 }, dots: [] })
  const w = write(y, client, { maxEntries: 2 })
  // z~1 (5) ranks first, then x~1 before y~1 on the tie.
  t.deepEqual(w.version.context, { vv: { 'x~1': 1, 'z~1': 5 }, dots: [] })
  t.deepEqual(w.version.dot, dot('y~1', 2), 'y~1 was pruned from the context; the recorded incarnation still continues above its held dot')
  t.deepEqual(sortedIds(w.held), ['y~1.1', 'y~1.2'])
  t.deepEqual(ids(reconcile(held, [w.version])), ['y~1.1', 'y~1.2'], 'a replica drops exactly what the coordinator dropped')
  // Without a bound nothing is pruned.
  t.deepEqual(ids(write(setup(), client).held), ['y~1.2'])
})

// A pruned context can hide the highest counter of an incarnation while a lower sibling keeps the
// incarnation visible; the node's own per-key record of what it issued (`issued`, kept by the store
// beside the versions) is what keeps the dot from being issued twice.
test('planCoordinatedWrite never reissues a dot, even when pruning hid the highest one of its incarnation', (t) => {
  const A = node('A')
  const C = node('C')
  const issued = new Set<string>()
  const on = (n: SimNode, context: CausalContext | undefined, maxEntries?: number) => {
    const w = write(n, context, maxEntries === undefined ? {} : { maxEntries })
    issued.add(versionId(w.version.dot))
    return w.version
  }
  const a1 = on(A, undefined) // (A~1,1)
  const a2 = on(A, EMPTY_CONTEXT) // (A~1,2), a sibling of (A~1,1)
  t.deepEqual(sortedIds(heldOn(A)), ['A~1.1', 'A~1.2'])
  // C holds only (A~1,2) and writes a few times; the last write's context is pruned to one actor.
  receive(C, [a2])
  const c1 = on(C, undefined)
  on(C, undefined)
  on(C, undefined)
  const c4 = on(C, undefined, 1)
  t.deepEqual(c4.context, { vv: { 'C~1': 3 }, dots: [] }, 'A~1 (top 2) was pruned, C~1 (top 3) kept')
  // A learns c1 (which supersedes (A~1,2)), then c4 (which supersedes c1).
  receive(A, [c1])
  receive(A, [c4])
  t.deepEqual(sortedIds(heldOn(A)), ['A~1.1', 'C~1.4'])
  t.is(a1.dot.actor, 'A~1')
  t.deepEqual(A.keys.get(K)?.issued, { 'A~1': 2 }, "replication left A's record as it was")
  // Without its record A would continue A~1 above what it still sees (1), i.e. (A~1,2) again, and a
  // replica still holding the first (A~1,2) would take the new version for one it already has.
  const before = new Set(issued)
  const next = on(A, undefined)
  t.false(before.has(versionId(next.dot)), `${versionId(next.dot)} was already issued for another write`)
  t.deepEqual(next.dot, dot('A~1', 3))
})

// Regression: a context is a client's, and a client may send one it read from another key. The
// node's incarnation A~9 belongs to K2; continuing it on K1 would issue (A~9,4) for K1 while A's next
// write to K2 issues (A~9,4) there too: one dot, two versions (and version ids key stored bytes).
test("regression: a context taken from another key never makes the node continue that key's incarnation", (t) => {
  const A = node('A', 8)
  for (let i = 0; i < 3; i++) write(A, contextOf(heldOn(A, 'K2')), { key: 'K2' })
  t.deepEqual(ids(heldOn(A, 'K2')), ['A~9.3'])
  t.deepEqual(A.keys.get('K2')?.issued, { 'A~9': 3 })
  const fromK2 = contextOf(heldOn(A, 'K2'))
  t.deepEqual(fromK2, { vv: { 'A~9': 3 }, dots: [] })

  // K1 on A: no record (here it holds another node's version; the same holds with nothing at all).
  receive(A, [version(dot('B~1', 1))], 'K1')
  t.is(A.keys.get('K1')?.issued, undefined)
  const w = write(A, fromK2, { key: 'K1' })
  t.notDeepEqual(w.version.dot, dot('A~9', 4), "K2's incarnation is not continued on K1")
  t.deepEqual(w.version.dot, dot('A~10', 1), 'a fresh incarnation')
  t.is(A.incarnations, 10)
  t.deepEqual(A.keys.get('K1')?.issued, { 'A~10': 1 })
  t.deepEqual(sortedIds(heldOn(A, 'K1')), ['A~10.1', 'B~1.1'], 'the foreign context supersedes nothing of K1')
  // The same with nothing held for K1.
  const A2 = node('A', 8)
  for (let i = 0; i < 3; i++) write(A2, contextOf(heldOn(A2, 'K2')), { key: 'K2' })
  t.deepEqual(write(A2, fromK2, { key: 'K1' }).version.dot, dot('A~10', 1))

  // K2 goes on with its own incarnation: (A~9,4) is issued once, for K2.
  t.deepEqual(write(A, fromK2, { key: 'K2' }).version.dot, dot('A~9', 4))
  t.deepEqual(write(A, contextOf(heldOn(A, 'K1')), { key: 'K1' }).version.dot, dot('A~10', 2))
})

// Regression (riak kv679, reaped tombstone): A's record for the key goes with the key. A late copy
// of one of A's versions coming back must not make A continue that incarnation: the next counter
// may already have been issued (here, the reaped tombstone), and a replica or a client context that
// still has it would take the new write for one already seen.
test("regression: after a key is reaped, a late version of the node's old incarnation does not make it continue it", (t) => {
  const A = node('A', 2)
  for (let i = 0; i < 4; i++) write(A, contextOf(heldOn(A)))
  const late = heldOn(A)[0] as Versioned
  t.deepEqual(late.dot, dot('A~3', 4))
  const tombstone = write(A, contextOf(heldOn(A))).version // the delete, (A~3,5)
  t.deepEqual(tombstone.dot, dot('A~3', 5))
  t.deepEqual(A.keys.get(K)?.issued, { 'A~3': 5 })
  const sawTombstone = contextOf([tombstone]) // what a client (or a replica) that read the tombstone holds

  reap(A, K)
  t.deepEqual(heldOn(A), [])
  // (A~3,4) comes back late (a hint handed off, a replica that was away).
  receive(A, [late])
  t.deepEqual(ids(heldOn(A)), ['A~3.4'])
  t.is(A.keys.get(K)?.issued, undefined, 'the record did not come back with it')

  for (const context of [undefined, contextOf([late]), EMPTY_CONTEXT]) {
    const plan = planCoordinatedWrite(heldOn(A), context, A.actor, A.incarnations, undefined, A.keys.get(K)?.issued)
    t.notDeepEqual(plan.dot, dot('A~3', 5), '(A~3,5) was the reaped tombstone')
    t.deepEqual(plan.dot, dot('A~4', 1), 'a fresh incarnation')
  }
  const w = write(A, undefined)
  t.deepEqual(w.version.dot, dot('A~4', 1))
  t.false(covers(sawTombstone, w.version.dot), 'what saw the tombstone has not seen the new write')
  t.deepEqual(ids(reconcile([tombstone], [w.version])), ['A~3.5', 'A~4.1'], 'a replica still holding the tombstone keeps the new write')
  t.deepEqual(w.held, [w.version], 'the new write supersedes the late version it was written over')
  t.deepEqual(A.keys.get(K)?.issued, { 'A~4': 1 })
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

test("property: displayClock is the pointwise maximum of each version's context and dot, keys sorted; clockOf is it for one version", (t) => {
  // The definition, written out on its own: every (actor, counter) a version mentions, the largest
  // positive counter per actor, actors in sorted order. Compared as entries, so that actors named
  // like inherited properties (`constructor`, `__proto__`) count as the plain names they are.
  const flat = (vs: readonly Versioned[]): [string, number][] => {
    const pairs = vs.flatMap((v) => [...Object.entries(v.context.vv), ...v.context.dots.map((d): [string, number] => [d.actor, d.counter]), [v.dot.actor, v.dot.counter] as [string, number]])
    const actors = [...new Set(pairs.filter(([, n]) => n > 0).map(([a]) => a))].sort()
    return actors.map((a) => [a, Math.max(...pairs.filter(([b]) => b === a).map(([, n]) => n))])
  }
  const odd = ['constructor', 'toString', '__proto__', 'hasOwnProperty']
  forEachSeed(CTX_RUNS, 44, (rng, seed) => {
    const actor = () => rng.pick([...CTX_ACTORS, 'e', ...(seed % 3 === 0 ? odd : [])])
    const context = (): CausalContext => {
      const vv: Record<string, number> = Object.fromEntries(Array.from({ length: rng.int(3) }, () => [actor(), rng.int(4)]))
      return { vv, dots: Array.from({ length: rng.int(3) }, () => dot(actor(), rng.range(1, 8))) }
    }
    const vs = Array.from({ length: rng.int(4) }, () => version(dot(actor(), rng.range(1, 9)), rng.chance(0.5) ? randomContext(rng) : context()))
    const shown = displayClock(vs)
    t.deepEqual(Object.entries(shown), flat(vs), `seed ${seed}`)
    t.deepEqual(Object.entries(displayClock(rng.shuffle(vs))), Object.entries(shown), `seed ${seed}: independent of order`)
    t.deepEqual(Object.entries(shown), Object.entries(merge(...vs.map(clockOf))), `seed ${seed}: the merge of each version's clock`)
    for (const v of vs) {
      t.deepEqual(Object.entries(clockOf(v)), flat([v]), `seed ${seed}: clockOf`)
      t.true(descends(shown, clockOf(v)), `seed ${seed}: covers each version's clock`)
    }
  })
})

test('compact keeps dots of actors named like inherited properties', (t) => {
  t.deepEqual(compact({}, [dot('constructor', 2)]), { vv: {}, dots: [dot('constructor', 2)] })
  t.deepEqual(Object.entries(compact({ constructor: 1 }, [dot('constructor', 2)]).vv), [['constructor', 2]])
  t.deepEqual(Object.entries(compact(JSON.parse('{"__proto__": 1}') as VectorClock, [dot('__proto__', 2), dot('toString', 1)]).vv), [
    ['__proto__', 2],
    ['toString', 1],
  ])
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
  context: ReadContext
  seen: ReadonlySet<string>
}

interface History {
  /** Versions each replica holds (an antichain). */
  held: Versioned[][]
  /** Each node's persisted count of key incarnations. */
  incarnations: number[]
  /** Each node's own record for the key of the highest counter it issued per incarnation (the store's `issued`). */
  issued: Record<string, number>[]
  /** Every version ever created, in creation order. */
  all: Versioned[]
  /** Reads clients have made earlier (stale reads are legitimate too). */
  reads: Read[]
  /** Ground truth per version id: every dot its writer had seen (directly or through what it read). */
  seen: Map<string, ReadonlySet<string>>
  /** maxContextEntries of every coordinated write. */
  maxEntries: number
  /** Chance per step that a replica forgets the key (versions and record), when all it holds is held elsewhere too. */
  forget: number
  /** Times a replica forgot the key. */
  forgotten: number
  /** Writes through a node with no record for the key while its own old incarnation was in what it held or was sent. */
  freshOverOwn: number
}

const EMPTY_READ: Read = { context: EMPTY_CONTEXT, seen: new Set() }

/** A read of a replica's set: its context, and everything its versions and their writers saw. */
function readOf(h: History, set: readonly Versioned[]): Read {
  const seen = new Set<string>()
  for (const v of set) {
    seen.add(versionId(v.dot))
    for (const s of h.seen.get(versionId(v.dot)) ?? []) seen.add(s)
  }
  return { context: readContextOf(set), seen }
}

/** A coordinated write through a random actor; `read` undefined is a write with no client context. */
function coordinatedWrite(h: History, rng: Prng, read: Read | undefined, request: { at?: number; writeId?: string; retried?: boolean } = {}): Versioned {
  const x = request.at ?? rng.int(ACTORS.length)
  const held = h.held[x] as Versioned[]
  const actor = ACTORS[x] as string
  const issued = h.issued[x] as Record<string, number>
  const plan = planCoordinatedWrite(held, read?.context, actor, h.incarnations[x] as number, h.maxEntries, issued, { writeId: request.writeId, retired: read?.context.retired })
  const v = planned(plan, request)
  if (Object.keys(issued).length === 0) {
    const own = (a: string) => a.startsWith(`${actor}~`)
    const contexts = [...held.map((u) => u.context), ...(read ? [read.context] : [])]
    if (held.some((u) => own(u.dot.actor)) || contexts.some((c) => Object.keys(c.vv).some(own) || c.dots.some((d) => own(d.actor)))) h.freshOverOwn++
  }
  h.held[x] = [...plan.kept, v]
  h.incarnations[x] = plan.incarnation
  h.issued[x] = { ...issued, [plan.dot.actor]: plan.dot.counter }
  h.all.push(v)
  h.seen.set(versionId(v.dot), (read ?? readOf(h, held)).seen)
  return v
}

function step(h: History, rng: Prng): void {
  if (h.forget > 0 && rng.chance(h.forget)) {
    // A replica forgets the key (reaped, or its last copy quarantined): its record goes with it.
    // Only when every version it holds is held elsewhere too, so nothing is lost with it.
    const x = rng.int(ACTORS.length)
    const elsewhere = h.held.filter((_, i) => i !== x).flat()
    const mine = h.held[x] as Versioned[]
    if (mine.length > 0 && mine.every((v) => elsewhere.some((u) => versionId(u.dot) === versionId(v.dot)))) {
      h.held[x] = []
      h.issued[x] = {}
      h.forgotten++
      return
    }
  }
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

function randomHistory(rng: Prng, maxEntries = Number.POSITIVE_INFINITY, forget = 0, steps = rng.range(5, 60)): History {
  const h: History = {
    held: ACTORS.map(() => []),
    incarnations: ACTORS.map(() => 0),
    issued: ACTORS.map(() => ({})),
    all: [],
    reads: [],
    seen: new Map(),
    maxEntries,
    forget,
    forgotten: 0,
    freshOverOwn: 0,
  }
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
        // Isolated dots come from one incarnation's siblings: a node writing twice over a stale
        // context issues (A~1,2) and (A~1,3); a read of a replica holding only the second sees {A~1:1}+(A~1,3).
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
  let forgotten = 0
  let freshOverOwn = 0
  forEachSeed(RUNS, 24, (rng, seed) => {
    // Replicas also forget the key now and then (and its record with it), then get old versions back.
    const h = randomHistory(rng, Number.POSITIVE_INFINITY, 0.08)
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
    forgotten += h.forgotten
    freshOverOwn += h.freshOverOwn
  })
  t.log(`${forgotten} keys forgotten; ${freshOverOwn} writes with no record over the node's own old incarnation`)
  t.true(forgotten > 0 && freshOverOwn > 0, 'the generator makes nodes write again after forgetting a key they wrote')
})

test('distinctWrites: versions of one retried request count once; everything else is kept', (t) => {
  const w = (actor: string, counter: number, writeId?: string, etag = 'a', tombstone = false) => ({ ...version(dot(actor, counter)), etag, tombstone, ...(writeId ? { writeId } : {}) })
  const a = w('n1', 1, 'req-00001')
  const b = w('n2', 1, 'req-00001')
  const c = w('n3', 1, 'req-00002')
  const d = w('n4', 1)
  const e = w('n5', 1)
  t.deepEqual(ids(distinctWrites([b, a])), [versionId(a.dot)], 'the lower version id stands for the pair')
  t.deepEqual(sortedIds(distinctWrites([a, b, c, d, e])), sortedIds([a, c, d, e]), 'one of the pair, all others')
  t.is(distinctWrites([a, w('n2', 1, 'req-00001', 'other-bytes')]).length, 2, 'same id, different bytes: both kept')
  t.is(distinctWrites([a, w('n2', 1, 'req-00001', 'a', true)]).length, 2, 'a tombstone is not the same write as a value')
  t.deepEqual(distinctWrites([]), [])
})

test('property: distinctWrites keeps one per (writeId, etag, kind) group and every version without an id', (t) => {
  forEachSeed(200, 91, (rng, seed) => {
    const vs = Array.from({ length: rng.int(8) }, (_, i) => ({
      ...version(dot(`n${i}`, 1 + rng.int(3))),
      etag: rng.pick(['x', 'y']),
      tombstone: rng.chance(0.2),
      ...(rng.chance(0.7) ? { writeId: rng.pick(['req-aaaaaaaa', 'req-bbbbbbbb']) } : {}),
    }))
    const out = distinctWrites(vs)
    const groups = new Set(vs.filter((v) => v.writeId).map((v) => `${v.writeId}/${v.etag}/${v.tombstone}`))
    t.is(out.length, vs.filter((v) => !v.writeId).length + groups.size, `seed ${seed}`)
    t.true(
      out.every((v) => vs.includes(v)),
      `seed ${seed}: only inputs`,
    )
  })
})

// ---------------------------------------------------------------------------------------------
// retried requests: a late twin of a request that was read and overwritten is superseded with it

test('supersedes and retiredBy: a version supersedes the twins of the retried requests it retired', (t) => {
  const twin = { ...version(dot('A~1', 2), ctx({ 'A~1': 1 })), writeId: 'req-W' }
  const retry = { ...version(dot('B~1', 1), ctx({ 'A~1': 1 })), writeId: 'req-W', retried: true }
  const over = { ...version(dot('B~1', 2), ctx({ 'A~1': 1, 'B~1': 1 })), writeId: 'req-X', retired: ['req-W'] }
  t.true(supersedes(over, retry), 'by its context')
  t.true(supersedes(over, twin), 'by the retired request id: no context covers a dot nobody saw')
  t.false(supersedes(over, { ...twin, writeId: 'req-Y' }), 'another request is not')
  t.false(supersedes(over, { ...twin, writeId: undefined }), 'nor a version with no request id')
  t.false(supersedes(over, over))
  t.deepEqual(ids(reconcile([twin], [retry], [over])), [versionId(over.dot)])

  t.deepEqual(retiredBy([retry]), ['req-W'], 'a retried request is retired')
  t.deepEqual(retiredBy([twin]), [], 'a first attempt is not (only a retry can have a twin elsewhere)')
  t.deepEqual(retiredBy([over]), ['req-W'], 'what a replaced version retired is carried on')
  t.deepEqual(retiredBy([retry, over]), ['req-W'], 'once')
  t.deepEqual(retiredBy([retry], 'req-W'), [], "never the new write's own request")
  const many = Array.from({ length: MAX_RETIRED + 3 }, (_, i) => ({ ...version(dot(`n${i}`, 1)), writeId: `req-${String(i).padStart(5, '0')}`, retried: true }))
  t.is(retiredBy(many).length, MAX_RETIRED, 'bounded')
  t.deepEqual(
    retiredBy([
      { ...retry, retired: ['req-P'] },
      { ...over, retired: ['req-Q'] },
    ]),
    ['req-W', 'req-P', 'req-Q'],
    'own retried ids first, then carried ones',
  )
})

test('a retried request whose first coordinator stored it unheard: the retry is read and overwritten, and the first copy coming back later is superseded everywhere', (t) => {
  for (const order of ['twin-after', 'twin-before'] as const) {
    const [A, B, C] = [node('A'), node('B'), node('C')]
    const v1 = write(A, undefined).version
    receive(B, [v1])
    receive(C, [v1])
    const read1 = contextOf([v1])
    // The proxy sends request W to A, which stores it and is killed before it answers; the proxy
    // retries W on B (marked retried) and replicates the retry to C.
    const first = write(A, read1, { writeId: 'req-W' }).version
    const retry = write(B, read1, { writeId: 'req-W', retried: true }).version
    receive(C, [retry])
    if (order === 'twin-before') receive(C, [first])
    // A client reads B (A is down) and overwrites: its context never saw A's copy.
    const read2 = contextOf(heldOn(B))
    t.false(covers(read2, first.dot))
    const over = write(B, read2, { writeId: 'req-X' })
    t.deepEqual(over.retired, ['req-W'], order)
    receive(C, [over.version])
    // A returns: handoff and anti-entropy exchange everything.
    for (let round = 0; round < 2; round++) {
      for (const [from, to] of [
        [A, B],
        [A, C],
        [B, A],
        [C, A],
        [B, C],
        [C, B],
      ] as const)
        receive(to, heldOn(from))
    }
    for (const n of [A, B, C]) t.deepEqual(ids(heldOn(n)), [versionId(over.version.dot)], `${order}: ${n.actor} holds the overwrite alone`)
    // A later overwrite carries the retirement on, and a copy arriving after it is still superseded.
    const later = write(C, contextOf(heldOn(C)), { writeId: 'req-Y' })
    t.deepEqual(later.retired, ['req-W'])
    receive(C, [first])
    t.deepEqual(ids(heldOn(C)), [versionId(later.version.dot)], order)
  }
})

test("a coordinator that does not hold the retry retires its request from the client's read context (the X-Context token carries it)", (t) => {
  const [A, B, C, D] = [node('A'), node('B'), node('C'), node('D')]
  const v1 = write(A, undefined).version
  for (const n of [B, C]) receive(n, [v1])
  const read1 = readContextOf([v1])
  t.is(read1.retired, undefined, 'nothing retired: a bare context')
  const first = write(A, read1, { writeId: 'req-W' }).version
  // The retry went to a stand-in, D, and was replicated to C; B never got it.
  const retry = write(D, read1, { writeId: 'req-W', retried: true }).version
  receive(C, [retry])
  // B holds A's first attempt (handed to it) but not the retry.
  receive(B, [first])
  const read2 = readContextOf(heldOn(C))
  t.deepEqual(read2.retired, ['req-W'])
  const withoutToken = planCoordinatedWrite(heldOn(B), { vv: read2.vv, dots: read2.dots }, B.actor, B.incarnations, undefined, B.keys.get(K)?.issued, { writeId: 'req-X' })
  t.deepEqual(withoutToken.retired, [], 'B alone could not have known')
  t.is(withoutToken.kept.length, 1, 'and would have kept the first attempt')
  const over = write(B, read2, { writeId: 'req-X' })
  t.deepEqual(over.retired, ['req-W'], 'from the read context')
  t.deepEqual(ids(over.held), [versionId(over.version.dot)], 'the held first attempt is not kept beside the overwrite')
  for (let round = 0; round < 2; round++) {
    for (const from of [A, B, C, D]) for (const to of [A, B, C, D]) if (from !== to) receive(to, heldOn(from))
  }
  for (const n of [A, B, C, D]) t.deepEqual(ids(heldOn(n)), [versionId(over.version.dot)], `${n.actor} holds the overwrite alone`)
})

test('an attempt of a request a held version retired is refused (a late first attempt): stored, a write without context would replace the overwrite', (t) => {
  const [A, B] = [node('A'), node('B')]
  const v1 = write(B, undefined).version
  receive(A, [v1])
  const retry = write(B, contextOf([v1]), { writeId: 'req-W', retried: true }).version
  const over = write(B, contextOf([v1, retry]), { writeId: 'req-X' }).version
  receive(A, [over])
  t.true(isRetired(heldOn(A), 'req-W'))
  t.false(isRetired(heldOn(A), 'req-X'))
  t.false(isRetired(heldOn(A), undefined))
  // A gets request W's first attempt only now (it sat in a socket; its expiry did not catch it).
  t.throws(() => write(A, undefined, { writeId: 'req-W' }), { message: /retired/ })
  t.deepEqual(ids(heldOn(A)), [versionId(over.dot)])
})

test('a twin that saw the version retiring its request is not retired by it: the two never supersede each other', (t) => {
  const over = { ...version(dot('B~1', 3), ctx({ 'B~1': 2 })), writeId: 'req-X', retired: ['req-W'] }
  // An attempt of W that ran after `over` existed, elsewhere, as a write without context: it covers `over`.
  const late = { ...version(dot('A~1', 1), ctx({ 'B~1': 3 })), writeId: 'req-W' }
  t.false(supersedes(over, late))
  t.true(supersedes(late, over))
  t.deepEqual(ids(reconcile([over], [late])), [versionId(late.dot)], 'the later write stands, as its context says; nothing vanishes')
})

test('only retried requests are retired: a write that replaces a first attempt retires nothing (only a retry can have a twin elsewhere)', (t) => {
  const [A, B] = [node('A'), node('B')]
  const v1 = write(A, undefined, { writeId: 'req-W' }).version
  receive(B, [v1])
  const over = write(B, contextOf([v1]), { writeId: 'req-X' })
  t.deepEqual(over.retired, [])
  t.deepEqual(ids(over.held), [versionId(over.version.dot)], 'v1 is covered by the context')
})

/**
 * Random single-key histories with retried requests: a request is coordinated on one node (the
 * first attempt, which stays there, unheard) and again, marked retried, on another over the same
 * read; then replication, reads and writes as in randomHistory.
 */
function retriedHistory(rng: Prng): { h: History; writeIds: Map<string, string> } {
  const h = randomHistory(rng, Number.POSITIVE_INFINITY, 0, 0)
  const writeIds = new Map<string, string>()
  const steps = rng.range(10, 50)
  let requests = 0
  for (let i = 0; i < steps; i++) {
    if (rng.chance(0.25)) {
      const read = readOf(h, h.held[rng.int(ACTORS.length)] as Versioned[])
      const writeId = `req-${String(requests++).padStart(5, '0')}`
      const x = rng.int(ACTORS.length)
      const y = (x + 1 + rng.int(ACTORS.length - 1)) % ACTORS.length
      for (const [at, retried] of [
        [x, false],
        [y, true],
      ] as const) {
        const v = coordinatedWrite(h, rng, read, { at, writeId, retried })
        writeIds.set(versionId(v.dot), writeId)
      }
    } else step(h, rng)
  }
  return { h, writeIds }
}

test('property: with retried requests, reconcile stays commutative and idempotent, drops a version only when covered or retired by a writer that saw its request, and the union of every replica keeps no twin of a retired request beside its retirer', (t) => {
  let retiredDrops = 0
  forEachSeed(RUNS, 31, (rng, seed) => {
    const { h, writeIds } = retriedHistory(rng)
    const [s0, s1, s2] = h.held as [Versioned[], Versioned[], Versioned[]]
    const msg = `seed ${seed}`
    for (const s of h.held) t.deepEqual(ids(reconcile(s, s)), ids(reconcile(s)), `${msg}: idempotent`)
    t.deepEqual(ids(reconcile(s0, s1, s2)), ids(reconcile(s2, s1, s0)), `${msg}: commutative`)
    const survivors = reconcile(s0, s1, s2)
    const alive = new Set(ids(survivors))
    for (const v of h.all) {
      if (alive.has(versionId(v.dot))) continue
      if (h.all.some((u) => u !== v && covers(u.context, v.dot))) continue
      // Dropped though no context covers it: a version that retired its request must exist, and its
      // writer must have seen a version of that request (the retry it overwrote).
      retiredDrops++
      const writeId = writeIds.get(versionId(v.dot))
      t.truthy(writeId, `${msg}: ${versionId(v.dot)} vanished with no context covering it and no request id`)
      const retirers = h.all.filter((u) => u.retired?.includes(writeId as string))
      t.true(retirers.length > 0, `${msg}: ${versionId(v.dot)} vanished and no version retired ${writeId}`)
      for (const u of retirers) {
        const seen = h.seen.get(versionId(u.dot)) ?? new Set()
        t.true(
          [...seen].some((d) => writeIds.get(d) === writeId),
          `${msg}: ${versionId(u.dot)} retired ${writeId} without having seen it`,
        )
      }
    }
    for (const v of survivors) {
      t.false(
        survivors.some((u) => v.writeId !== undefined && u.retired?.includes(v.writeId)),
        `${msg}: ${versionId(v.dot)} survives next to a version that retired its request`,
      )
    }
  })
  t.log(`${retiredDrops} versions dropped by a retired request id alone`)
  t.true(retiredDrops > 0, 'the generator produces late twins that a retirement drops')
})
