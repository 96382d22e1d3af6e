import test from 'ava'
import { ClockOffsets } from '../../../storage-node/service/clock-offsets.js'
import { forEachSeed } from '../../../devtools/prng.js'

test('a sender never heard from has offset 0; the estimate is the smallest sample', (t) => {
  const o = new ClockOffsets(30_000, () => 0)
  t.is(o.offset('10.0.0.1'), 0)
  o.sample('10.0.0.1', 1000, 1250)
  o.sample('10.0.0.1', 2000, 2210)
  o.sample('10.0.0.1', 3000, 3900)
  t.is(o.offset('10.0.0.1'), 210)
  t.is(o.offset('10.0.0.2'), 0)
})

test('property: with delays added to some samples, the estimate is the true offset plus the smallest delay', (t) => {
  forEachSeed(50, 0x0ff5e7, (rng, seed) => {
    const trueOffset = rng.range(-20_000, 20_000)
    const o = new ClockOffsets(30_000)
    let minDelay = Number.POSITIVE_INFINITY
    for (let i = 0, at = 1_000_000; i < 40; i++, at += rng.range(1, 500)) {
      const delay = rng.chance(0.2) ? rng.range(100, 14_000) : rng.range(0, 5)
      minDelay = Math.min(minDelay, delay)
      o.sample('p', at - trueOffset, at + delay)
    }
    t.is(o.offset('p'), trueOffset + minDelay, `seed ${seed}`)
  })
})

test('a stepped clock is followed within two windows; a silent sender keeps its last estimate', (t) => {
  const o = new ClockOffsets(1000)
  o.sample('p', 0, 100)
  t.is(o.offset('p'), 100)
  // The sender's clock steps 5 s back: samples rise, the old minimum ages out.
  o.sample('p', 600 - 5000, 700)
  t.is(o.offset('p'), 100)
  o.sample('p', 1500 - 5000, 1600)
  t.is(o.offset('p'), 100, 'still within the previous window')
  o.sample('p', 2600 - 5000, 2700)
  t.is(o.offset('p'), 5100)
  // Silent for long: the windows empty, the last estimate stays.
  o.sample('q', 0, 40)
  t.is(o.offset('p'), 5100)
})
