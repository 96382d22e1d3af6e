/** Range reads of stored bytes: readFileStream from an offset (direct and page cache) and BlobFiles.openVerified with a range. */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import test from 'ava'
import { Prng } from '../../../devtools/prng.js'
import { BlobFiles } from '../../../storage-node/store/blobs/blob-files.js'
import { AlignedBufferPool, DIRECT_ALIGN, DIRECT_CHUNK, probeDirectIo, readFileStream } from '../../../storage-node/store/blobs/direct-io.js'

const root = await mkdtemp(join(tmpdir(), 'range-reads-test-'))
const DIRECT = await probeDirectIo(root, new AlignedBufferPool(1))

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of stream) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

const SIZE = 3 * DIRECT_CHUNK + 12_345
const bytes = randomBytes(SIZE)
const path = join(root, 'object')
await writeFile(path, bytes)
test.after.always(() => rm(root, { recursive: true, force: true }))

/** Spans at the edges that matter (blocks, chunks, the end) and at random, seeded. */
function spans(): { start: number; end: number }[] {
  const rng = new Prng(206)
  const edges = [0, 1, DIRECT_ALIGN - 1, DIRECT_ALIGN, DIRECT_ALIGN + 1, DIRECT_CHUNK - 1, DIRECT_CHUNK, DIRECT_CHUNK + 1, SIZE - 1]
  const out = edges.flatMap((start) => [start, start + 1, SIZE - 1].filter((end) => end >= start && end < SIZE).map((end) => ({ start, end })))
  for (let i = 0; i < 40; i++) {
    const start = rng.int(SIZE)
    out.push({ start, end: Math.min(SIZE - 1, start + rng.int(rng.chance(0.5) ? 5000 : 2 * DIRECT_CHUNK)) })
  }
  return out
}

for (const direct of [false, true]) {
  const name = `readFileStream from an offset gives exactly the span's bytes (${direct ? 'O_DIRECT' : 'page cache'})`
  const run = direct && !DIRECT ? test.skip : test
  run(name, async (t) => {
    const pool = direct ? new AlignedBufferPool(2) : undefined
    for (const { start, end } of spans()) {
      const got = await collect(readFileStream(path, end + 1, pool, start))
      t.true(got.equals(bytes.subarray(start, end + 1)), `${start}-${end}`)
    }
  })
}

test('openVerified with a range: small files verified whole then cut, large ones read from the offset only', async (t) => {
  const dir = await mkdtemp(join(root, 'blobs-'))
  const blobs = new BlobFiles({ dataDir: dir, inlineMaxBytes: 1024, maxObjectBytes: 8 * DIRECT_CHUNK })
  await blobs.start()
  const received = await blobs.receive(Readable.from([bytes]))
  if (received.kind !== 'file') return t.fail('expected a file')
  const name = await blobs.commit(received, 'v1')
  const sha = createHash('sha256').update(bytes).digest('hex')
  for (const verifyFirst of [SIZE, 1024]) {
    for (const span of spans().slice(0, 12)) {
      const got = await collect(await blobs.openVerified(name, sha, () => t.fail('no corruption'), verifyFirst, span))
      t.true(got.equals(bytes.subarray(span.start, span.end + 1)), `${span.start}-${span.end} (verify first up to ${verifyFirst})`)
    }
  }
})
