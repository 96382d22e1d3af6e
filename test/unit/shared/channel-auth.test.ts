import { PassThrough } from 'node:stream'
import test from 'ava'
import { memberKeys } from '../../../shared/http/signing.js'
import { channelProof, channelSealers, proofMatches, SealedFrameReader, sealedFrameWriter } from '../../../shared/rpc/channel-auth.js'
import { encodeFrame, type Frame, FrameError, FrameKind } from '../../../shared/rpc/frames.js'
import { forEachSeed, type Prng } from '../../../devtools/prng.js'

const KEYS = memberKeys('channel-auth-test-secret-0123')
const PARTIES = { clientNonce: 'client-nonce-0001', serverNonce: 'server-nonce-0001', from: 'proxy-1', target: 'node-1' }

function randomFrame(rng: Prng): Frame {
  const body = Buffer.alloc(rng.pick([0, 1, 4096, 70_000]))
  for (let i = 0; i < body.length; i += 997) body[i] = rng.int(256)
  return { id: rng.int(2 ** 32), kind: FrameKind.Request, head: rng.pick(['{}', '{"op":"versions","key":"ключ"}', 'x'.repeat(500)]), body }
}

/** Records of 1-5 frames each, sealed in order by the client's sending key. */
function records(rng: Prng, count: number): { bytes: Buffer[]; frames: Frame[] } {
  const { send } = channelSealers(KEYS, PARTIES, 'client')
  const bytes: Buffer[] = []
  const frames: Frame[] = []
  for (let r = 0; r < count; r++) {
    const batch = Array.from({ length: rng.range(1, 5) }, () => randomFrame(rng))
    const parts = batch.flatMap((f) => encodeFrame(f.id, f.kind, f.head, f.body))
    const { prefix, tag } = send.seal(parts)
    bytes.push(Buffer.concat([prefix, ...parts, tag]))
    frames.push(...batch)
  }
  return { bytes, frames }
}

function cut(rng: Prng, bytes: Buffer): Buffer[] {
  const out: Buffer[] = []
  for (let at = 0; at < bytes.length; ) {
    const n = rng.pick([1, 3, 17, 4096, 100_000])
    out.push(bytes.subarray(at, at + n))
    at += n
  }
  return out
}

const serverReader = () => new SealedFrameReader(channelSealers(KEYS, PARTIES, 'server').receive, 1 << 20)

test('property: sealed records open to the frames they carry, whatever the chunk boundaries', (t) => {
  forEachSeed(40, 0x5ea1, (rng, seed) => {
    const { bytes, frames } = records(rng, rng.range(1, 6))
    const reader = serverReader()
    const got = cut(rng, Buffer.concat(bytes)).flatMap((c) => reader.push(c))
    t.deepEqual(
      got.map((f) => [f.id, f.head, f.body.length]),
      frames.map((f) => [f.id, f.head, f.body.length]),
      `seed ${seed}`,
    )
  })
})

test("property: any flipped byte, a dropped, swapped or replayed record, or the other direction's key fails the check", (t) => {
  forEachSeed(60, 0xbad, (rng, seed) => {
    const { bytes } = records(rng, 3)
    const whole = Buffer.concat(bytes)
    const flipped = Buffer.from(whole)
    const at = rng.int(flipped.length)
    flipped[at] = (flipped[at] as number) ^ (1 << rng.int(8))
    const variants: [string, Buffer][] = [
      ['flipped', flipped],
      ['dropped', Buffer.concat([bytes[0] as Buffer, bytes[2] as Buffer])],
      ['swapped', Buffer.concat([bytes[1] as Buffer, bytes[0] as Buffer])],
      ['replayed', Buffer.concat([bytes[0] as Buffer, bytes[0] as Buffer])],
    ]
    for (const [what, wire] of variants) {
      const reader = serverReader()
      const readAll = () => {
        for (const c of cut(rng, wire)) reader.push(c)
      }
      t.throws(readAll, { instanceOf: FrameError }, `seed ${seed}: ${what} at ${at}`)
    }
    const wrongDirection = new SealedFrameReader(channelSealers(KEYS, PARTIES, 'client').receive, 1 << 20)
    t.throws(() => wrongDirection.push(whole), { instanceOf: FrameError }, `seed ${seed}: a client's record read as the server's`)
  })
})

test('a record over the limit is refused before its bytes are buffered', (t) => {
  const prefix = Buffer.alloc(4)
  prefix.writeUInt32BE(64 * 1024 * 1024)
  t.throws(() => serverReader().push(prefix), { instanceOf: FrameError })
})

test('the writer seals the frames of one turn as one record, which the reader opens', async (t) => {
  const socket = new PassThrough()
  const wire: Buffer[] = []
  socket.on('data', (c: Buffer) => wire.push(c))
  const write = sealedFrameWriter(socket, channelSealers(KEYS, PARTIES, 'client').send)
  for (let i = 0; i < 10; i++) write(encodeFrame(i, FrameKind.Request, `{"i":${i}}`))
  await new Promise((r) => setImmediate(r))
  await new Promise((r) => setImmediate(r))
  const bytes = Buffer.concat(wire)
  t.is(bytes.readUInt32BE(0) + 4 + 16, bytes.length, 'one record')
  t.deepEqual(
    serverReader()
      .push(bytes)
      .map((f) => f.id),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  )
})

test("the node's channel proof verifies only for the same nonces, members and secret", (t) => {
  const proof = channelProof(KEYS, PARTIES)
  t.true(proofMatches(KEYS, PARTIES, proof))
  for (const change of [{ clientNonce: 'other' }, { serverNonce: 'other' }, { from: 'node-9' }, { target: 'node-2' }]) t.false(proofMatches(KEYS, { ...PARTIES, ...change }, proof))
  t.false(proofMatches(memberKeys('another-secret-0123456789'), PARTIES, proof))
  t.false(proofMatches(KEYS, PARTIES, undefined))
})
