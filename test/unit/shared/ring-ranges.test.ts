import test from 'ava'
import { HashRing } from '../../../shared/ring/hash-ring.js'

const RING = 2 ** 32

/** Is `p` in the arc `(start, end]`, which may wrap past 2^32 (start = end: the whole ring)? */
function inArc(p: number, a: { start: number; end: number }): boolean {
  if (a.start === a.end) return true
  return a.start < a.end ? p > a.start && p <= a.end : p > a.start || p <= a.end
}

test('the arcs cover the ring once, each owned by the first node of the preference list of its positions', (t) => {
  const ring = new HashRing(['node-1', 'node-2', 'node-3', 'node-4'], 32)
  const arcs = ring.ranges()
  t.true(arcs.length > 4 && arcs.length <= 4 * 32)
  const total = arcs.reduce((sum, a) => sum + ((a.end - a.start + RING) % RING), 0)
  t.is(total, RING, 'the sweeps add up to the whole ring')
  for (let i = 0; i < arcs.length; i++) {
    const next = arcs[(i + 1) % arcs.length] as { start: number; node: string }
    const arc = arcs[i] as { end: number; node: string }
    t.is(next.start, arc.end, 'each arc starts where the one before ended')
    t.not(next.node, arc.node, 'neighbouring arcs of one node are merged')
  }
  for (let k = 0; k < 2000; k++) {
    const p = Math.floor((k / 2000) * RING) + 7
    const owners = arcs.filter((a) => inArc(p, a))
    t.is(owners.length, 1, `position ${p}`)
    t.is(owners[0]?.node, ring.preferenceList(p)[0], `position ${p}`)
  }
  const shares = ring.ownership()
  for (const id of ring.nodes) {
    const mine = arcs.filter((a) => a.node === id).reduce((sum, a) => sum + ((a.end - a.start + RING) % RING), 0)
    t.true(Math.abs(mine / RING - (shares[id] ?? 0)) < 1e-9, `${id}'s arcs add up to its ownership`)
  }
})

test('one node owns the whole ring (start = end); no node, no arc', (t) => {
  const arcs = new HashRing(['node-1'], 8).ranges()
  t.is(arcs.length, 1)
  t.is(arcs[0]?.start, arcs[0]?.end)
  t.deepEqual(new HashRing([]).ranges(), [])
})
