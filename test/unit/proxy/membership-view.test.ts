/** The proxy's view at start: it waits until every seed is known, so its first ring is not partial. */
import test from 'ava'
import { MembershipView } from '../../../proxy/membership/membership-view.js'
import type { NodeClient } from '../../../shared/http/node-client.js'
import { createLogger } from '../../../shared/log.js'
import type { MemberView } from '../../../shared/wire/membership.js'
import type { RingEntry } from '../../../shared/wire/ring.js'

const member = (id: string, address: string): MemberView => ({ id, address, status: 'up', generation: 1, heartbeat: 1, last_seen: new Date(0).toISOString() })
const entry = (id: string, address: string): RingEntry => ({ id, address, state: 'member', version: 1, by: id, at: new Date(0).toISOString() })

test('start() waits for every seed: a freshly started seed that knows only itself does not make the ring', async (t) => {
  let calls = 0
  const client = {
    // a:1 answers at once but knows only itself; b:2 is unreachable for the first polls.
    membership: async (address: string) => {
      calls++
      if (address === 'a:1') return { node: 'a', members: [member('a', 'a:1')], ring: [entry('a', 'a:1')] }
      if (calls < 6) throw new Error('connection refused')
      return { node: 'b', members: [member('a', 'a:1'), member('b', 'b:2')], ring: [entry('a', 'a:1'), entry('b', 'b:2')] }
    },
  } as unknown as NodeClient
  const view = new MembershipView(client, { seeds: ['a:1', 'b:2'], vnodes: 16, pollIntervalMs: 60_000, localDownMs: 1000 }, createLogger('test', 'silent'))
  await view.start(5000)
  view.stop()
  t.deepEqual(
    view
      .preferenceList('bucket', 'key')
      .map((r) => r.id)
      .sort(),
    ['a', 'b'],
  )
})

test('start() gives up waiting after waitMs and serves with what it knows', async (t) => {
  const client = { membership: async () => ({ node: 'a', members: [member('a', 'a:1')], ring: [entry('a', 'a:1')] }) } as unknown as NodeClient
  const view = new MembershipView(client, { seeds: ['a:1', 'gone:9'], vnodes: 16, pollIntervalMs: 60_000, localDownMs: 1000 }, createLogger('test', 'silent'))
  const started = Date.now()
  await view.start(600)
  view.stop()
  t.true(Date.now() - started >= 600)
  t.deepEqual(
    view.preferenceList('bucket', 'key').map((r) => r.id),
    ['a'],
  )
})

test('the ring is the ring record, not gossip: a member gossip has forgotten keeps its ranges, a removed one has none, a leaving one keeps them', async (t) => {
  const view = new MembershipView({} as NodeClient, { seeds: [], vnodes: 16, pollIntervalMs: 60_000, localDownMs: 1000 }, createLogger('test', 'silent'))
  view.merge([member('a', 'a:1'), member('b', 'b:2')])
  view.mergeRing([entry('a', 'a:1'), entry('b', 'b:2'), entry('c', 'c:3')])
  t.deepEqual(
    view
      .preferenceList('bucket', 'key')
      .map((r) => r.id)
      .sort(),
    ['a', 'b', 'c'],
  )
  t.is(view.ref('c').address, 'c:3')
  t.false(view.isUsable('c'))
  t.like(
    view.view().find((m) => m.id === 'c'),
    { status: 'down', ring_state: 'member' },
  )
  view.mergeRing([{ ...entry('c', 'c:3'), state: 'leaving', version: 2 }])
  t.is(view.preferenceList('bucket', 'key').length, 3)
  view.mergeRing([{ ...entry('c', 'c:3'), state: 'removed', version: 3 }, entry('c', 'c:3')])
  t.deepEqual(
    view
      .preferenceList('bucket', 'key')
      .map((r) => r.id)
      .sort(),
    ['a', 'b'],
  )
  t.is(view.ringState('c'), 'removed')
})
