import test from 'ava'
import { encodeFrame, type Frame, FrameError, FrameKind, FrameReader } from '../../../shared/rpc/frames.js'
import { forEachSeed, type Prng } from '../../../devtools/prng.js'

const HEADS = ['{}', '{"op":"versions","bucket":"b","key":"ключ/🙂"}', '', 'x'.repeat(3000)]

function randomFrame(rng: Prng): Frame {
  const body = Buffer.alloc(rng.pick([0, 1, 7, 4096, 70_000]))
  for (let i = 0; i < body.length; i += 997) body[i] = rng.int(256)
  return { id: rng.int(2 ** 32), kind: rng.chance(0.5) ? FrameKind.Request : FrameKind.Response, head: rng.pick(HEADS), body }
}

/** The stream of bytes cut at random places, from 1-byte pieces to several frames at once. */
function cut(rng: Prng, bytes: Buffer): Buffer[] {
  const out: Buffer[] = []
  let at = 0
  while (at < bytes.length) {
    const n = rng.pick([1, 2, 3, 5, 13, 1000, 65_536, 200_000])
    out.push(bytes.subarray(at, at + n))
    at += n
  }
  return out
}

test('frames decode to what was encoded, whatever the chunk boundaries', (t) => {
  forEachSeed(60, 0x5eed, (rng, seed) => {
    const frames = Array.from({ length: rng.range(1, 8) }, () => randomFrame(rng))
    const wire = Buffer.concat(frames.flatMap((f) => encodeFrame(f.id, f.kind, f.head, f.body)))
    const reader = new FrameReader(1024 * 1024)
    const got = cut(rng, wire).flatMap((chunk) => reader.push(chunk))
    t.is(got.length, frames.length, `seed ${seed}`)
    got.forEach((g, i) => {
      const want = frames[i] as Frame
      t.is(g.id, want.id, `seed ${seed}`)
      t.is(g.kind, want.kind, `seed ${seed}`)
      t.is(g.head, want.head, `seed ${seed}`)
      t.true(g.body.equals(want.body), `seed ${seed}`)
    })
  })
})

test('an incomplete frame yields nothing until its last byte arrives', (t) => {
  const [prefix, body] = encodeFrame(7, FrameKind.Request, '{"a":1}', Buffer.from('hello')) as [Buffer, Buffer]
  const wire = Buffer.concat([prefix, body])
  const reader = new FrameReader(1024)
  t.deepEqual(reader.push(wire.subarray(0, wire.length - 1)), [])
  const [frame] = reader.push(wire.subarray(wire.length - 1))
  t.is(frame?.body.toString(), 'hello')
})

test('a frame over the limit is refused before its bytes are buffered', (t) => {
  const reader = new FrameReader(100)
  const prefix = encodeFrame(1, FrameKind.Request, '{}', Buffer.alloc(200))[0] as Buffer
  t.throws(() => reader.push(prefix.subarray(0, 4)), { instanceOf: FrameError })
})

test('malformed frames are refused: unknown kind, head longer than the frame, length shorter than the prefix', (t) => {
  const good = Buffer.concat(encodeFrame(1, FrameKind.Request, '{"x":1}'))
  const badKind = Buffer.from(good)
  badKind.writeUInt8(9, 8)
  t.throws(() => new FrameReader(1024).push(badKind), { instanceOf: FrameError })
  const longHead = Buffer.from(good)
  longHead.writeUInt32BE(1000, 9)
  t.throws(() => new FrameReader(1024).push(longHead), { instanceOf: FrameError })
  const short = Buffer.alloc(8)
  short.writeUInt32BE(2, 0)
  t.throws(() => new FrameReader(1024).push(short), { instanceOf: FrameError })
})
