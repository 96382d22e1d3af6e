/** The token bucket that bounds ownership transfers' bandwidth. */
import test from 'ava'
import { ByteRateLimit } from '../../../shared/byte-rate-limit.js'

test('within the burst nothing waits; past it each take waits for the bytes to refill, in order', (t) => {
  let now = 0
  const limit = new ByteRateLimit(1000, 1000, () => now)
  t.is(limit.reserve(600), 0)
  t.is(limit.reserve(400), 0)
  t.is(limit.reserve(500), 500, 'half a second for 500 bytes at 1,000 B/s')
  t.is(limit.reserve(1000), 1500, 'queued behind the one before')
  now = 3000
  t.is(limit.reserve(100), 0, 'refilled (up to the burst) after a pause')
})

test('property: over any sequence, the bytes let go by time T never exceed burst + rate x T', (t) => {
  for (let seed = 1; seed <= 50; seed++) {
    let x = seed
    const rnd = () => {
      x = (x * 1103515245 + 12345) % 2 ** 31
      return x / 2 ** 31
    }
    let now = 0
    const rate = 100 + Math.floor(rnd() * 10_000)
    const burst = Math.floor(rnd() * rate) + 1
    const limit = new ByteRateLimit(rate, burst, () => now)
    let sent = 0
    for (let i = 0; i < 200; i++) {
      now += rnd() * 50
      const n = Math.floor(rnd() * rate)
      const wait = limit.reserve(n)
      sent += n
      // The bytes of this take leave at now + wait: by then no more than burst + rate x (now + wait) may have gone.
      t.true(sent <= burst + (rate * (now + wait)) / 1000 + 1e-6, `seed ${seed}, take ${i}`)
    }
  }
})

test('rate 0 is no limit', (t) => {
  const limit = new ByteRateLimit(0)
  t.is(limit.reserve(1e12), 0)
})
