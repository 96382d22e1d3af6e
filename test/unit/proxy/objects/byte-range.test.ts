import test from 'ava'
import { Prng } from '../../../../devtools/prng.js'
import { contentRange, parseRange, spanLength, unsatisfiedRange } from '../../../../proxy/objects/byte-range.js'

/** The bytes a range-spec selects, by the letter of RFC 9110 14.1.2 (an index set, no arithmetic shortcuts). */
function selected(first: number | undefined, last: number | undefined, size: number): number[] {
  const out: number[] = []
  for (let i = 0; i < size; i++) {
    if (first === undefined ? i >= size - (last as number) : i >= first && (last === undefined || i <= last)) out.push(i)
  }
  return out
}

test('examples', (t) => {
  t.deepEqual(parseRange(undefined, 10), { kind: 'none' })
  t.deepEqual(parseRange('bytes=0-4', 10), { kind: 'range', start: 0, end: 4 })
  t.deepEqual(parseRange('bytes=5-', 10), { kind: 'range', start: 5, end: 9 })
  t.deepEqual(parseRange('bytes=-3', 10), { kind: 'range', start: 7, end: 9 })
  t.deepEqual(parseRange('bytes=-30', 10), { kind: 'range', start: 0, end: 9 })
  t.deepEqual(parseRange('bytes=8-100', 10), { kind: 'range', start: 8, end: 9 })
  t.deepEqual(parseRange('bytes=10-', 10), { kind: 'unsatisfiable' })
  t.deepEqual(parseRange('bytes=-0', 10), { kind: 'unsatisfiable' })
  t.deepEqual(parseRange('bytes=0-', 0), { kind: 'unsatisfiable' })
  t.deepEqual(parseRange('bytes=-5', 0), { kind: 'unsatisfiable' })
  t.deepEqual(parseRange('Bytes = 1-2', 10), { kind: 'range', start: 1, end: 2 })
})

test('ignored: other units, malformed specs, reversed bounds, several ranges', (t) => {
  for (const h of ['items=0-1', 'bytes=', 'bytes=-', 'bytes=a-b', 'bytes=1-2-3', 'bytes=5-1', 'bytes=0-1,3-4', 'bytes=0-1, 5-', '0-1', 'bytes=+1-2', 'bytes=1.5-2']) {
    t.deepEqual(parseRange(h, 10), { kind: 'none' }, h)
  }
})

test('headers', (t) => {
  t.is(contentRange({ start: 0, end: 4 }, 10), 'bytes 0-4/10')
  t.is(unsatisfiedRange(10), 'bytes */10')
  t.is(spanLength({ start: 3, end: 3 }), 1)
})

test('property: a range selects exactly the bytes RFC 9110 names, and nothing selected is unsatisfiable', (t) => {
  const rng = new Prng(28)
  for (let i = 0; i < 5000; i++) {
    const size = rng.chance(0.1) ? 0 : rng.range(1, 300)
    const form = rng.int(3)
    const a = rng.range(0, 320)
    const b = rng.range(0, 320)
    let header: string
    let expected: number[] | 'ignored'
    if (form === 0) {
      header = `bytes=${a}-${b}`
      expected = b < a ? 'ignored' : selected(a, b, size)
    } else if (form === 1) {
      header = `bytes=${a}-`
      expected = selected(a, undefined, size)
    } else {
      header = `bytes=-${b}`
      expected = selected(undefined, b, size)
    }
    const got = parseRange(header, size)
    const msg = `${header} of ${size} bytes (seed 28, case ${i})`
    if (expected === 'ignored') t.deepEqual(got, { kind: 'none' }, msg)
    else if (expected.length === 0) t.deepEqual(got, { kind: 'unsatisfiable' }, msg)
    else t.deepEqual(got, { kind: 'range', start: expected[0] as number, end: expected[expected.length - 1] as number }, msg)
  }
})
