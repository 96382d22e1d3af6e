import test from 'ava'
import type { NodeRef } from '../../../shared/http/node-client.js'
import { planTargets, replacementFor, type Target } from '../../../proxy/coordinator/sloppy-quorum.js'
import { forEachSeed } from '../../../devtools/prng.js'

const ref = (id: string): NodeRef => ({ id, address: `127.0.0.1:${19000 + Number(id.replace(/\D/g, '') || 0)}` })
/** A preference list: p1..p3 are the primaries (N = 3), f1.. the fallbacks, in ring order. */
const PREFS = ['p1', 'p2', 'p3', 'f1', 'f2', 'f3'].map(ref)
const N = 3
const upExcept =
  (...down: string[]) =>
  (id: string) =>
    !down.includes(id)
/** A target as [node id, hintFor] for compact comparisons. */
const pairs = (ts: readonly Target[]) => ts.map((t) => [t.node.id, t.hintFor ?? null])
const idsOf = (ns: readonly NodeRef[]) => ns.map((n) => n.id)

test('all primaries up: the targets are the primaries, with no hints; every usable fallback is spare', (t) => {
  const plan = planTargets(PREFS, N, upExcept())
  t.deepEqual(idsOf(plan.primaries), ['p1', 'p2', 'p3'])
  t.deepEqual(pairs(plan.targets), [
    ['p1', null],
    ['p2', null],
    ['p3', null],
  ])
  t.true(plan.targets.every((x) => x.hintFor === undefined))
  t.is(plan.targets[0]?.node, PREFS[0], 'the node references themselves')
  t.deepEqual(idsOf(plan.spares), ['f1', 'f2', 'f3'])
  t.deepEqual(plan.extraHints, [])
  // Down fallbacks are never spares.
  t.deepEqual(idsOf(planTargets(PREFS, N, upExcept('f2')).spares), ['f1', 'f3'])
})

test('one primary down: replaced in place by the first usable fallback, which holds a hint for it', (t) => {
  const plan = planTargets(PREFS, N, upExcept('p2'))
  t.deepEqual(pairs(plan.targets), [
    ['p1', null],
    ['f1', 'p2'],
    ['p3', null],
  ])
  t.deepEqual(idsOf(plan.primaries), ['p1', 'p2', 'p3'], 'primaries are reported as the preference list has them')
  t.deepEqual(idsOf(plan.spares), ['f2', 'f3'])
  t.deepEqual(plan.extraHints, [])

  // The first *usable* fallback: a down one is skipped.
  const skip = planTargets(PREFS, N, upExcept('p1', 'f1'))
  t.deepEqual(pairs(skip.targets), [
    ['f2', 'p1'],
    ['p2', null],
    ['p3', null],
  ])
  t.deepEqual(idsOf(skip.spares), ['f3'])

  // Several down: stand-ins are handed out in preference order, each in its primary's place.
  const two = planTargets(PREFS, N, upExcept('p1', 'p3'))
  t.deepEqual(pairs(two.targets), [
    ['f1', 'p1'],
    ['p2', null],
    ['f2', 'p3'],
  ])
  t.deepEqual(idsOf(two.spares), ['f3'])
})

test('more primaries down than usable fallbacks: fewer targets, and the orphans ride along as extra hints', (t) => {
  const plan = planTargets(PREFS, N, upExcept('p1', 'p2', 'f2', 'f3'))
  t.deepEqual(pairs(plan.targets), [
    ['f1', 'p1'],
    ['p3', null],
  ])
  t.deepEqual(plan.spares, [])
  t.deepEqual(pairs(plan.extraHints), [['f1', 'p2']], 'a live target also keeps a hint for the primary left without a stand-in')

  const none = planTargets(PREFS.slice(0, 3), N, upExcept('p1', 'p2'))
  t.deepEqual(pairs(none.targets), [['p3', null]])
  t.deepEqual(pairs(none.extraHints), [
    ['p3', 'p1'],
    ['p3', 'p2'],
  ])

  const allDown = planTargets(PREFS, N, () => false)
  t.deepEqual(allDown.targets, [])
  t.deepEqual(allDown.spares, [])
  t.deepEqual(allDown.extraHints, [], 'no live node to hold them')
  t.deepEqual(idsOf(allDown.primaries), ['p1', 'p2', 'p3'])
})

test('a preference list shorter than N: every node is a primary, none is a fallback', (t) => {
  const plan = planTargets(PREFS.slice(0, 2), N, upExcept())
  t.deepEqual(idsOf(plan.primaries), ['p1', 'p2'])
  t.deepEqual(pairs(plan.targets), [
    ['p1', null],
    ['p2', null],
  ])
  t.deepEqual(plan.spares, [])
  t.deepEqual(planTargets([], N, upExcept()), { primaries: [], targets: [], spares: [], extraHints: [] })
})

test('property: targets are distinct usable nodes, each standing for a distinct primary; nothing is lost', (t) => {
  forEachSeed(300, 51, (rng, seed) => {
    const prefs = Array.from({ length: rng.range(0, 8) }, (_, i) => ref(`n${i}`))
    const n = rng.range(1, 5)
    const down = new Set(prefs.filter(() => rng.chance(0.35)).map((p) => p.id))
    const usable = (id: string) => !down.has(id)
    const plan = planTargets(prefs, n, usable)
    const msg = `seed ${seed}`
    const primaries = prefs.slice(0, n)
    const live = primaries.filter((p) => usable(p.id))
    const fallbacks = prefs.slice(n).filter((p) => usable(p.id))
    t.deepEqual(plan.primaries, primaries, msg)
    t.true(
      plan.targets.every((x) => usable(x.node.id)),
      `${msg}: only usable nodes`,
    )
    t.is(new Set(plan.targets.map((x) => x.node.id)).size, plan.targets.length, `${msg}: distinct nodes`)
    // Each target stands for a distinct primary, in primary order.
    const servedFor = plan.targets.map((x) => x.hintFor ?? x.node.id)
    const order = servedFor.map((id) => primaries.findIndex((p) => p.id === id))
    t.true(
      order.every((i, k) => i >= 0 && (k === 0 || i > (order[k - 1] as number))),
      `${msg}: targets follow primary order`,
    )
    t.is(plan.targets.length, Math.min(primaries.length, live.length + fallbacks.length), `${msg}: as many targets as can be had`)
    t.deepEqual(
      [...plan.targets.filter((x) => x.hintFor).map((x) => x.node), ...plan.spares].map((x) => x.id),
      fallbacks.map((x) => x.id),
      `${msg}: stand-ins then spares are the usable fallbacks, in order`,
    )
    // Every down primary is covered by a stand-in or (when some target exists) an extra hint.
    const hinted = [...plan.targets, ...plan.extraHints].flatMap((x) => (x.hintFor ? [x.hintFor] : []))
    const downPrimaries = primaries.filter((p) => !usable(p.id)).map((p) => p.id)
    if (plan.targets.length > 0) t.deepEqual(hinted.sort(), [...downPrimaries].sort(), `${msg}: each down primary hinted once`)
    t.true(
      plan.extraHints.every((x) => plan.targets.some((y) => y.node.id === x.node.id)),
      `${msg}: extra hints ride on targets`,
    )
  })
})

test('replacementFor consumes spares in order and keeps the primary the failed target served', (t) => {
  const spares = [ref('f1'), ref('f2')]
  // A primary failed: its replacement holds a hint for it.
  const r1 = replacementFor({ node: ref('p2') }, spares)
  t.deepEqual(r1 && [r1.node.id, r1.hintFor], ['f1', 'p2'])
  t.deepEqual(idsOf(spares), ['f2'], 'the spare is consumed')
  // A stand-in failed: its replacement holds the hint for the original primary, not for the stand-in.
  const r2 = replacementFor({ node: ref('f9'), hintFor: 'p1' }, spares)
  t.deepEqual(r2 && [r2.node.id, r2.hintFor], ['f2', 'p1'])
  t.deepEqual(spares, [])
  // No spare left.
  t.is(replacementFor({ node: ref('p3') }, spares), undefined)
  t.deepEqual(spares, [])

  // Chained failures keep pointing at the first primary.
  const more = [ref('f1'), ref('f2'), ref('f3')]
  let target: Target | undefined = { node: ref('p1') }
  const chain: string[] = []
  while (target) {
    target = replacementFor(target, more)
    if (target) chain.push(`${target.node.id}->${target.hintFor}`)
  }
  t.deepEqual(chain, ['f1->p1', 'f2->p1', 'f3->p1'])
})

test('planTargets spares feed replacementFor: a failed stand-in is replaced by the next usable fallback', (t) => {
  const plan = planTargets(PREFS, N, upExcept('p2', 'f2'))
  t.deepEqual(pairs(plan.targets), [
    ['p1', null],
    ['f1', 'p2'],
    ['p3', null],
  ])
  const r = replacementFor(plan.targets[1] as Target, plan.spares)
  t.deepEqual(r && [r.node.id, r.hintFor], ['f3', 'p2'])
  t.deepEqual(plan.spares, [])
})
