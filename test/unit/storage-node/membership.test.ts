import test from 'ava'
import type { GossipMember } from '../../../shared/wire/membership.js'
import { detectStatus } from '../../../storage-node/gossip/failure-detector.js'
import type { GossipConfig } from '../../../storage-node/gossip/gossip-config.js'
import { defaultGossipConfig } from '../../../storage-node/gossip/gossip-config.js'
import { Membership } from '../../../storage-node/gossip/membership.js'
import { PROTOCOL_VERSION } from '../../../shared/wire/protocol.js'

const CFG: GossipConfig = { intervalMs: 100, fanout: 3, suspectAfterMs: 300, failAfterMs: 500, cleanupAfterMs: 1000 }

/** A membership table with its own fake clock. */
function table(id = 'a', generation = 1) {
  const clock = { now: 0 }
  const m = new Membership(id, `127.0.0.1:${id.charCodeAt(0)}`, generation, CFG, () => clock.now)
  return { m, clock }
}

function member(id: string, generation: number, heartbeat: number, left = false): GossipMember {
  return { id, address: `10.0.0.1:${id.charCodeAt(0)}`, generation, heartbeat, left }
}

const entry = (m: Membership, id: string) => m.digest().find((d) => d.id === id)

// ---------------------------------------------------------------------------------------------
// failure-detector.ts

test('detectStatus: up, then suspect at suspectAfterMs, then down at failAfterMs', (t) => {
  const cfg = { suspectAfterMs: 300, failAfterMs: 500 }
  t.is(detectStatus(1000, false, 1000, cfg), 'up')
  t.is(detectStatus(1000, false, 1299, cfg), 'up')
  t.is(detectStatus(1000, false, 1300, cfg), 'suspect')
  t.is(detectStatus(1000, false, 1499, cfg), 'suspect')
  t.is(detectStatus(1000, false, 1500, cfg), 'down')
  t.is(detectStatus(1000, false, 99_999, cfg), 'down')
  t.is(detectStatus(1000, true, 1000, cfg), 'down', 'a member that left is down at once')
})

test('the default config orders its thresholds', (t) => {
  const d = defaultGossipConfig()
  t.true(d.suspectAfterMs < d.failAfterMs && d.failAfterMs < d.cleanupAfterMs)
  t.true(d.intervalMs < d.suspectAfterMs)
})

// ---------------------------------------------------------------------------------------------
// membership.ts

test('self is listed and always up, however long it stays silent', (t) => {
  const { m, clock } = table('a', 3)
  t.deepEqual(m.digest(), [{ id: 'a', address: '127.0.0.1:97', generation: 3, heartbeat: 0, left: false, protocol: PROTOCOL_VERSION }])
  for (const now of [0, 299, 300, 500, 10_000, 10_000_000]) {
    clock.now = now
    t.is(m.status('a'), 'up', `at ${now}`)
  }
  t.deepEqual(m.peers(), [])
  t.is(m.views()[0]?.status, 'up')
  t.is(m.status('nobody'), undefined)
})

test('tick advances the own heartbeat', (t) => {
  const { m, clock } = table()
  m.tick()
  clock.now = 100
  m.tick()
  t.is(entry(m, 'a')?.heartbeat, 2)
})

test('merge ignores entries about self', (t) => {
  const { m } = table('a', 1)
  m.merge([member('a', 9, 99, true)])
  t.deepEqual(entry(m, 'a'), { id: 'a', address: '127.0.0.1:97', generation: 1, heartbeat: 0, left: false, protocol: PROTOCOL_VERSION })
  t.is(m.status('a'), 'up')
})

test('a newer heartbeat wins, an older one is ignored and does not refresh liveness', (t) => {
  const { m, clock } = table()
  m.merge([member('b', 1, 5)])
  t.is(entry(m, 'b')?.heartbeat, 5)
  clock.now = 350
  m.merge([member('b', 1, 3)])
  t.is(entry(m, 'b')?.heartbeat, 5)
  m.merge([member('b', 1, 5)])
  t.is(entry(m, 'b')?.heartbeat, 5)
  t.is(m.status('b'), 'suspect', 'an unchanged heartbeat is not a sign of life')
  m.merge([member('b', 1, 7)])
  t.is(entry(m, 'b')?.heartbeat, 7)
  t.is(m.status('b'), 'up', 'a grown heartbeat is')
  t.is(m.views().find((v) => v.id === 'b')?.last_seen, new Date(350).toISOString())
})

test('a higher generation beats a higher heartbeat of an old generation', (t) => {
  const { m } = table()
  m.merge([member('b', 1, 100)])
  m.merge([member('b', 2, 0)])
  t.like(entry(m, 'b'), { generation: 2, heartbeat: 0 })
  m.merge([member('b', 1, 500)])
  t.like(entry(m, 'b'), { generation: 2, heartbeat: 0 }, 'the old generation cannot come back')
  m.merge([member('b', 2, 1)])
  t.like(entry(m, 'b'), { generation: 2, heartbeat: 1 })
})

test('a silent member turns suspect after suspectAfterMs and down after failAfterMs', (t) => {
  const { m, clock } = table()
  m.merge([member('b', 1, 1)])
  const at = (now: number) => {
    clock.now = now
    return m.status('b')
  }
  t.is(at(0), 'up')
  t.is(at(CFG.suspectAfterMs - 1), 'up')
  t.is(at(CFG.suspectAfterMs), 'suspect')
  t.is(at(CFG.failAfterMs - 1), 'suspect')
  t.is(at(CFG.failAfterMs), 'down')
  t.is(m.peers()[0]?.status, 'down')
  // A sign of life brings it back up.
  m.merge([member('b', 1, 2)])
  t.is(m.status('b'), 'up')
})

test('a silent member is forgotten after cleanupAfterMs; a stale digest does not resurrect it, a new generation does', (t) => {
  const { m, clock } = table()
  m.merge([member('b', 1, 5)])
  clock.now = CFG.cleanupAfterMs - 1
  m.tick()
  t.is(m.status('b'), 'down', 'still known just before cleanup')
  clock.now = CFG.cleanupAfterMs
  m.tick()
  t.is(m.status('b'), undefined)
  t.is(entry(m, 'b'), undefined)
  t.deepEqual(m.peers(), [])

  // Other peers still gossip what they last knew of it.
  m.merge([member('b', 1, 5)])
  t.is(m.status('b'), undefined, 'same (generation, heartbeat)')
  m.merge([member('b', 1, 4)])
  t.is(m.status('b'), undefined, 'older heartbeat')
  m.merge([member('b', 0, 999)])
  t.is(m.status('b'), undefined, 'older generation')

  // A restart comes back with a new generation.
  m.merge([member('b', 2, 0)])
  t.is(m.status('b'), 'up')
  t.like(entry(m, 'b'), { generation: 2, heartbeat: 0 })
})

test('a forgotten member comes back when its heartbeat grows in the same generation', (t) => {
  const { m, clock } = table()
  m.merge([member('b', 1, 5)])
  clock.now = CFG.cleanupAfterMs
  m.tick()
  t.is(m.status('b'), undefined)
  m.merge([member('b', 1, 6)])
  t.is(m.status('b'), 'up')
})

test('the forgotten record itself expires after another cleanupAfterMs (as documented)', (t) => {
  const { m, clock } = table()
  m.merge([member('b', 1, 5)])
  clock.now = CFG.cleanupAfterMs
  m.tick()
  clock.now = 2 * CFG.cleanupAfterMs - 1
  m.tick()
  m.merge([member('b', 1, 5)])
  t.is(m.status('b'), undefined, 'still remembered as forgotten')
  clock.now = 2 * CFG.cleanupAfterMs
  m.tick()
  m.merge([member('b', 1, 5)])
  t.is(m.status('b'), 'up', 'after the second T_cleanup a stale digest is news again')
})

test('leave() makes peers see the member down after merge, at once', (t) => {
  const a = table('a')
  const b = table('b')
  a.m.tick()
  b.m.merge(a.m.digest())
  t.is(b.m.status('a'), 'up')
  a.m.leave()
  t.is(a.m.status('a'), 'down', 'a leaving node reports itself down too')
  t.true(entry(a.m, 'a')?.left)
  b.m.merge(a.m.digest())
  t.is(b.m.status('a'), 'down')
  t.like(entry(b.m, 'a'), { left: true, heartbeat: 2 })
  // A later digest from a third node that missed the leave cannot undo it.
  b.m.merge([member('a', 1, 1, false)])
  t.is(b.m.status('a'), 'down')
})

test('leave is announced even without a heartbeat in between (same heartbeat, left flag wins)', (t) => {
  const { m } = table('b')
  m.merge([member('a', 1, 4, false)])
  m.merge([member('a', 1, 4, true)])
  t.is(m.status('a'), 'down')
  m.merge([member('a', 1, 4, false)])
  t.is(m.status('a'), 'down', 'the left flag is not reset by an equal, non-left entry')
})

test('views are sorted by id and carry what the table knows', (t) => {
  const { m } = table('m')
  m.merge([member('z', 1, 1), member('b', 4, 2)])
  t.deepEqual(
    m.views().map((v) => [v.id, v.status, v.generation, v.heartbeat]),
    [
      ['b', 'up', 4, 2],
      ['m', 'up', 1, 0],
      ['z', 'up', 1, 1],
    ],
  )
  t.deepEqual(
    m.peers().map((p) => p.id),
    ['b', 'z'],
  )
})

// Regressions: the forgotten record used to keep (generation, heartbeat) but not `left`, and newer()
// ranks a left entry above a non-left one with the same (generation, heartbeat). So a peer that had
// not yet forgotten a departed member re-gossiped its unchanged, `left: true` entry and resurrected
// it (as 'down', with a fresh lastGrowthMs, so it lingered another T_cleanup).
test('a member that left and was forgotten is not resurrected by the same stale left entry', (t) => {
  const { m, clock } = table('b')
  const departed = member('a', 1, 3, true)
  m.merge([departed])
  t.is(m.status('a'), 'down')
  clock.now = CFG.cleanupAfterMs
  m.tick()
  t.is(m.status('a'), undefined, 'forgotten')
  m.merge([departed]) // a peer that learnt of the leave later still gossips it
  t.is(m.status('a'), undefined, 'the very same entry must not bring it back')
})

test('two peers that forget a departed member at different times do not keep it alive forever', (t) => {
  const b = table('b')
  const c = table('c')
  const departed = member('a', 1, 3, true)
  b.m.merge([departed]) // b hears of the leave at 0
  c.clock.now = 500
  c.m.merge([departed]) // c hears of it at 500
  // Both gossip with each other every 100 ms for a while.
  for (let now = 0; now <= 10 * CFG.cleanupAfterMs; now += CFG.intervalMs) {
    b.clock.now = now
    c.clock.now = now
    b.m.tick()
    c.m.tick()
    b.m.merge(c.m.digest())
    c.m.merge(b.m.digest())
  }
  t.is(b.m.status('a'), undefined)
  t.is(c.m.status('a'), undefined)
})

test('a node below its disk reserve says so with its heartbeats; peers see it full until a later heartbeat says otherwise', (t) => {
  const { m: a } = table('a')
  const { m: b } = table('b')
  a.setFull(true)
  a.tick()
  b.merge(a.digest())
  t.true(b.isFull('a'))
  t.true(b.views().find((v) => v.id === 'a')?.full)
  t.false(b.isFull('b'))
  t.is(b.views().find((v) => v.id === 'b')?.full, undefined, 'a node with room shows no flag')
  a.setFull(false)
  a.tick()
  b.merge(a.digest())
  t.false(b.isFull('a'))
  t.is(b.views().find((v) => v.id === 'a')?.full, undefined)
})

test('a member the ring record still gives ranges is never forgotten, however long it is silent (only its removal lets gossip forget it)', (t) => {
  const clock = { now: 0 }
  const inRing = new Set(['b'])
  const m = new Membership(
    'a',
    'a:1',
    1,
    CFG,
    () => clock.now,
    (id) => inRing.has(id),
  )
  m.merge([
    { id: 'b', address: 'b:1', generation: 1, heartbeat: 1, left: false },
    { id: 'c', address: 'c:1', generation: 1, heartbeat: 1, left: false },
  ])
  clock.now = 10 * CFG.cleanupAfterMs
  m.tick()
  t.is(m.status('b'), 'down')
  t.is(m.status('c'), undefined)
  inRing.delete('b')
  m.tick()
  t.is(m.status('b'), undefined)
})

test('protocol: a member announces its own; an entry relayed without one (an older node drops it) keeps the version known for its generation; a new generation without one is unknown', (t) => {
  const { m } = table()
  t.is(entry(m, 'a')?.protocol, PROTOCOL_VERSION)
  m.merge([{ ...member('b', 1, 1), protocol: 7 }])
  t.is(m.protocolOf('b'), 7)
  m.merge([member('b', 1, 2)])
  t.is(entry(m, 'b')?.heartbeat, 2)
  t.is(m.protocolOf('b'), 7, 'relayed by an older node')
  m.merge([member('b', 2, 0)])
  t.is(m.protocolOf('b'), undefined, 'restarted, maybe as another build: unknown until it says')
  t.false('protocol' in (m.views().find((v) => v.id === 'b') ?? {}))
  m.merge([{ ...member('b', 2, 1), protocol: 3 }])
  t.is(m.views().find((v) => v.id === 'b')?.protocol, 3)
})

test('--vnodes: a member announces its own; one that announces another is listed as disagreeing; a relayed entry without it keeps it for its generation', (t) => {
  const { m } = table()
  m.setVnodes(128)
  t.is(entry(m, 'a')?.vnodes, 128)
  m.merge([{ ...member('b', 1, 1), vnodes: 128 }, { ...member('c', 1, 1), vnodes: 64 }, member('d', 1, 1)])
  t.deepEqual(m.vnodesDisagreeing(), ['c (--vnodes 64)'], 'b agrees; d (an older build) says nothing')
  m.merge([member('c', 1, 2)])
  t.deepEqual(m.vnodesDisagreeing(), ['c (--vnodes 64)'], 'relayed without it by an older node')
  m.merge([{ ...member('c', 2, 0), vnodes: 128 }])
  t.deepEqual(m.vnodesDisagreeing(), [], 'restarted with the same value')
})
