import test from 'ava'
import { gatherFirst, gatherQuorum, type QuorumResult } from '../../../proxy/coordinator/quorum.js'

/** A promise settled from outside. */
function deferred<T>() {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Let every pending promise callback run (a macrotask turn). */
const settle = () => new Promise<void>((r) => setImmediate(r))

/** Track whether a promise has settled yet, without awaiting it. */
function watch<T>(p: Promise<T>) {
  const state: { done: boolean; value?: T } = { done: false }
  p.then((value) => {
    state.done = true
    state.value = value
  })
  return state
}

/** `n` calls named n0.., each settled from outside. */
function calls<T>(n: number) {
  const ds = Array.from({ length: n }, () => deferred<T>())
  return { ds, calls: ds.map((d, i) => ({ node: `n${i}`, promise: d.promise })) }
}

const nodes = (xs: readonly { node: string }[]) => xs.map((x) => x.node)

test('resolves as soon as `needed` calls succeeded, while the others are still pending', async (t) => {
  const { ds, calls: cs } = calls<string>(3)
  const q = watch(gatherQuorum(cs, 2))
  await settle()
  t.false(q.done, 'nothing answered yet')
  ds[1]?.resolve('one')
  await settle()
  t.false(q.done, 'one of two')
  ds[0]?.resolve('zero')
  await settle()
  t.true(q.done, 'two of two, the third still pending')
  const r = q.value as QuorumResult<string>
  t.deepEqual(r.ok, [
    { node: 'n1', value: 'one' },
    { node: 'n0', value: 'zero' },
  ])
  t.deepEqual(r.failed, [])
  // The result is a snapshot: a late answer does not change it, but `all` sees it.
  ds[2]?.resolve('late')
  const all = await r.all
  t.is(r.ok.length, 2)
  t.deepEqual(all, [
    { node: 'n0', ok: true, value: 'zero' },
    { node: 'n1', ok: true, value: 'one' },
    { node: 'n2', ok: true, value: 'late' },
  ])
})

test('failures do not count; a quorum reached after some failures lists them', async (t) => {
  const { ds, calls: cs } = calls<number>(4)
  const q = watch(gatherQuorum(cs, 2))
  const boom = new Error('boom')
  ds[0]?.reject(boom)
  ds[1]?.resolve(1)
  await settle()
  t.false(q.done, 'one success and one failure: two calls still pending')
  ds[2]?.resolve(2)
  await settle()
  t.true(q.done)
  const r = q.value as QuorumResult<number>
  t.deepEqual(nodes(r.ok), ['n1', 'n2'])
  t.deepEqual(r.failed, [{ node: 'n0', error: boom }])
  ds[3]?.reject(new Error('late'))
  t.deepEqual(
    (await r.all).map((o) => [o.node, o.ok]),
    [
      ['n0', false],
      ['n1', true],
      ['n2', true],
      ['n3', false],
    ],
  )
})

test('resolves early when the quorum became impossible, with what it has', async (t) => {
  const { ds, calls: cs } = calls<string>(3)
  const q = watch(gatherQuorum(cs, 2))
  ds[0]?.reject(new Error('down'))
  await settle()
  t.false(q.done, 'still possible: two pending')
  ds[2]?.reject(new Error('down too'))
  await settle()
  t.true(q.done, 'impossible: one pending, two needed')
  const r = q.value as QuorumResult<string>
  t.deepEqual(r.ok, [])
  t.deepEqual(nodes(r.failed), ['n0', 'n2'])
  ds[1]?.resolve('too late')
  t.deepEqual(
    (await r.all).map((o) => o.ok),
    [false, true, false],
  )
  t.deepEqual(r.ok, [], 'the early result is not changed afterwards')
})

test('more needed than there are calls: resolves once everything answered', async (t) => {
  const { ds, calls: cs } = calls<string>(2)
  const q = watch(gatherQuorum(cs, 3))
  await settle()
  // Impossible from the start: resolved by the time a call has answered.
  ds[0]?.resolve('a')
  await settle()
  t.true(q.done)
  t.deepEqual(nodes((q.value as QuorumResult<string>).ok), ['n0'])
  ds[1]?.resolve('b')
})

test('`counts` excludes values from the count but keeps them in ok', async (t) => {
  interface Answer {
    versions: number
  }
  const { ds, calls: cs } = calls<Answer>(4)
  const q = watch(gatherQuorum(cs, 2, (a) => a.versions > 0))
  ds[0]?.resolve({ versions: 0 })
  ds[1]?.resolve({ versions: 2 })
  ds[2]?.resolve({ versions: 0 })
  await settle()
  t.false(q.done, 'three successes, only one counts')
  ds[3]?.resolve({ versions: 1 })
  await settle()
  t.true(q.done)
  const r = q.value as QuorumResult<Answer>
  t.deepEqual(nodes(r.ok), ['n0', 'n1', 'n2', 'n3'], 'uncounted successes are still reported')
  t.deepEqual(
    r.ok.map((o) => o.value.versions),
    [0, 2, 0, 1],
  )
  t.deepEqual(r.failed, [])
})

test('`counts`: impossibility counts only counting successes', async (t) => {
  const { ds, calls: cs } = calls<boolean>(3)
  const q = watch(gatherQuorum(cs, 2, (v) => v))
  ds[0]?.resolve(false)
  await settle()
  t.false(q.done, 'two pending could still make it')
  ds[1]?.resolve(true)
  await settle()
  t.false(q.done, 'one counted, one pending')
  ds[2]?.reject(new Error('down'))
  await settle()
  t.true(q.done)
  const r = q.value as QuorumResult<boolean>
  t.deepEqual(
    r.ok.map((o) => [o.node, o.value]),
    [
      ['n0', false],
      ['n1', true],
    ],
  )
  t.deepEqual(nodes(r.failed), ['n2'])

  // Uncounted successes make the quorum impossible just like failures do.
  const more = calls<boolean>(2)
  const q2 = watch(gatherQuorum(more.calls, 2, (v) => v))
  more.ds[0]?.resolve(false)
  await settle()
  t.true(q2.done, 'one uncounted, one pending: two can no longer count')
  t.deepEqual(nodes((q2.value as QuorumResult<boolean>).ok), ['n0'])
  more.ds[1]?.resolve(true)
})

test('all settles with every outcome, in call order, even when calls outlive the quorum', async (t) => {
  const { ds, calls: cs } = calls<string>(3)
  const r = await (async () => {
    const p = gatherQuorum(cs, 1)
    ds[2]?.resolve('fast')
    return p
  })()
  t.deepEqual(r.ok, [{ node: 'n2', value: 'fast' }])
  const all = watch(r.all)
  await settle()
  t.false(all.done, 'all waits for the stragglers')
  const err = new Error('slow failure')
  ds[0]?.reject(err)
  ds[1]?.resolve('slow')
  t.deepEqual(await r.all, [
    { node: 'n0', ok: false, error: err },
    { node: 'n1', ok: true, value: 'slow' },
    { node: 'n2', ok: true, value: 'fast' },
  ])
})

test('zero calls: resolves at once, with nothing', async (t) => {
  for (const needed of [0, 1, 2]) {
    const r = await gatherQuorum<string>([], needed)
    t.deepEqual(r.ok, [])
    t.deepEqual(r.failed, [])
    t.deepEqual(await r.all, [])
  }
})

// Bug (proxy/coordinator/quorum.ts, gatherQuorum): `check` runs only when a call settles (or when
// there are no calls), so with needed = 0 it waits for the first call to settle instead of
// resolving at once. WriteCoordinator.quorum calls it with needed = w - 1, so a W=1 write with
// N=3 waits for one more replica to answer (or to time out) after the coordinator's ack.
test('needed = 0 resolves at once, even while every call is pending', async (t) => {
  const { ds, calls: cs } = calls<string>(2)
  const q = watch(gatherQuorum(cs, 0))
  await settle()
  const resolvedAtOnce = q.done
  for (const d of ds) d.resolve('x')
  await settle()
  t.true(resolvedAtOnce, 'quorum of 0 already reached before any call settled')
})

/** `n` lazily started calls; `started` lists which were started, in order. */
function lazyCalls(n: number) {
  const ds = Array.from({ length: n }, () => deferred<string>())
  const started: number[] = []
  return {
    ds,
    started,
    calls: ds.map((d, i) => ({
      node: `n${i}`,
      start: () => {
        started.push(i)
        return d.promise
      },
    })),
  }
}

test('gatherFirst asks only `needed` replicas while they answer', async (t) => {
  const { ds, started, calls } = lazyCalls(3)
  const q = gatherFirst(calls, 2, 0)
  t.deepEqual(started, [0, 1])
  ds[1]?.resolve('b')
  ds[0]?.resolve('a')
  const r = await q
  t.deepEqual(r.ok.map((o) => o.value).sort(), ['a', 'b'])
  t.deepEqual(r.unasked, [2])
  t.is((await r.all).length, 2)
})

test('gatherFirst replaces a failed call with the next candidate', async (t) => {
  const { ds, started, calls } = lazyCalls(3)
  const q = gatherFirst(calls, 2, 0)
  ds[0]?.reject(new Error('down'))
  await settle()
  t.deepEqual(started, [0, 1, 2])
  ds[1]?.resolve('b')
  ds[2]?.resolve('c')
  const r = await q
  t.deepEqual(r.ok.map((o) => o.value).sort(), ['b', 'c'])
  t.is(r.failed.length, 1)
  t.deepEqual(r.unasked, [])
})

test('gatherFirst gives up when too few candidates are left', async (t) => {
  const { ds, calls } = lazyCalls(3)
  const q = gatherFirst(calls, 2, 0)
  ds[0]?.reject(new Error('x'))
  await settle()
  ds[1]?.reject(new Error('y'))
  const r = await q
  t.is(r.ok.length, 0)
  t.is(r.failed.length, 2)
  ds[2]?.resolve('c')
  t.is((await r.all).length, 3, 'all covers every started call')
})

test('gatherFirst speculates on one more replica when the quorum is slow', async (t) => {
  const { ds, started, calls } = lazyCalls(3)
  const q = gatherFirst(calls, 2, 20)
  ds[0]?.resolve('a')
  await new Promise((r) => setTimeout(r, 60))
  t.deepEqual(started, [0, 1, 2], 'a third replica was asked while the second stayed silent')
  ds[2]?.resolve('c')
  const r = await q
  t.deepEqual(r.ok.map((o) => o.value).sort(), ['a', 'c'])
  ds[1]?.resolve('b')
})
