import test from 'ava'
import { RecentEvents } from '../../../proxy/coordinator/recent-events.js'

test('newest first, bounded, and the same key one after another folded into one entry', (t) => {
  let now = 1000
  const log = new RecentEvents(3, () => now)
  log.add('b', 'k1', '2 siblings')
  now = 2000
  log.add('b', 'k1', '2 siblings')
  t.deepEqual(log.list(), [{ at: 2000, bucket: 'b', key: 'k1', count: 2, detail: '2 siblings' }])
  log.add('b', 'k2', 'to node-2')
  log.add('b', 'k3', 'to node-2')
  log.add('b', 'k4', 'to node-3')
  t.deepEqual(
    log.list().map((e) => e.key),
    ['k4', 'k3', 'k2'],
  )
  log.add('b', 'k4', 'to node-1')
  t.is(log.list()[0]?.count, 1, 'another detail is another event')
  const copy = log.list()
  ;(copy[0] as { count: number }).count = 99
  t.is(log.list()[0]?.count, 1, 'list() hands out copies')
})
