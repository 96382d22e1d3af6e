import test from 'ava'
import { type ManifestPart, partSpans } from '../../../shared/wire/manifest.js'

const md5 = '0'.repeat(32)
const parts = (...sizes: number[]): ManifestPart[] => sizes.map((size, i) => ({ key: `p/x/${i + 1}`, size, md5 }))

/** Every byte of the span, as (part index, offset in part), the slow way. */
function bytesOf(ps: readonly ManifestPart[], start: number, end: number): string[] {
  const out: string[] = []
  let offset = 0
  ps.forEach((p, i) => {
    for (let b = 0; b < p.size; b++) if (offset + b >= start && offset + b <= end) out.push(`${i}:${b}`)
    offset += p.size
  })
  return out
}

test('the whole object: every non-empty part, whole, in order', (t) => {
  t.deepEqual(
    partSpans(parts(3, 0, 2)).map((s) => [s.index, s.start, s.end]),
    [
      [0, 0, 2],
      [2, 0, 1],
    ],
  )
})

test('a range opens only the parts it covers, from the offset within the first (property: every span against a byte-by-byte walk)', (t) => {
  let seed = 7
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed % n
  }
  for (let round = 0; round < 300; round++) {
    const ps = parts(...Array.from({ length: 1 + random(6) }, () => random(5)))
    const total = ps.reduce((n, p) => n + p.size, 0)
    if (total === 0) continue
    const start = random(total)
    const end = start + random(total - start)
    const got: string[] = []
    for (const s of partSpans(ps, { start, end })) {
      t.true(s.start <= s.end && s.end < s.part.size)
      for (let b = s.start; b <= s.end; b++) got.push(`${s.index}:${b}`)
    }
    t.deepEqual(got, bytesOf(ps, start, end))
  }
})
