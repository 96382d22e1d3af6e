/** BlobFiles: bodies received inline or into a temp file, their limits, and the orphan sweep's rule for names committed again. */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import test, { type ExecutionContext } from 'ava'
import { EntityTooLargeError } from '../../../shared/errors.js'
import { BlobFiles, EMPTY_ETAG, type ReceivedBody } from '../../../storage-node/store/blobs/blob-files.js'

const INLINE_MAX = 1024
const MAX_OBJECT = 64 * 1024

/** Started blob files in a fresh data directory, removed after the test. */
async function openBlobs(t: ExecutionContext): Promise<{ blobs: BlobFiles; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'blob-files-test-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const blobs = new BlobFiles({ dataDir: dir, inlineMaxBytes: INLINE_MAX, maxObjectBytes: MAX_OBJECT })
  await blobs.start()
  return { blobs, dir }
}

async function body(blobs: BlobFiles, bytes: Buffer | string): Promise<ReceivedBody> {
  return blobs.receive(Readable.from([Buffer.from(bytes)]))
}

test('receive keeps small bodies inline and spills larger ones to a temp file', async (t) => {
  const { blobs } = await openBlobs(t)
  const small = await body(blobs, 'hello')
  t.like(small, { kind: 'inline', size: 5 })
  t.is(small.etag, '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824')
  const edge = await body(blobs, Buffer.alloc(INLINE_MAX, 1))
  t.is(edge.kind, 'inline', 'exactly inlineMaxBytes stays inline')
  const big = await body(blobs, Buffer.alloc(INLINE_MAX + 1, 1))
  t.is(big.kind, 'file')
  t.is(big.size, INLINE_MAX + 1)
  const empty = await blobs.receive(Readable.from([]))
  t.like(empty, { kind: 'inline', size: 0, etag: EMPTY_ETAG })
})

test('receive of a body larger than maxObjectBytes throws EntityTooLargeError and leaves no temp file', async (t) => {
  const { blobs, dir } = await openBlobs(t)
  const tmp = join(dir, 'tmp')
  // One big chunk: refused before anything is written.
  await t.throwsAsync(blobs.receive(Readable.from([randomBytes(MAX_OBJECT + 1)])), { instanceOf: EntityTooLargeError })
  t.deepEqual(await readdir(tmp), [])
  // Several chunks: a temp file is already open when the limit is crossed; it must be removed.
  const chunks = Array.from({ length: 40 }, () => randomBytes(2048))
  await t.throwsAsync(blobs.receive(Readable.from(chunks)), { instanceOf: EntityTooLargeError })
  t.deepEqual(await readdir(tmp), [])
  // A declared size above the limit is refused before reading.
  await t.throwsAsync(blobs.receive(Readable.from([Buffer.from('x')]), MAX_OBJECT + 1), { instanceOf: EntityTooLargeError })
  t.deepEqual(await readdir(tmp), [])
  // Exactly the limit is fine.
  const ok = await blobs.receive(Readable.from([randomBytes(MAX_OBJECT)]))
  t.is(ok.size, MAX_OBJECT)
  await blobs.discard(ok)
  t.deepEqual(await readdir(tmp), [])
})

test('receive refuses a body shorter than its declared size and leaves no temp file', async (t) => {
  const { blobs, dir } = await openBlobs(t)
  await t.throwsAsync(blobs.receive(Readable.from([randomBytes(3000)]), 4000))
  t.deepEqual(await readdir(join(dir, 'tmp')), [])
})

test('sweepOrphans keeps a candidate whose version is committed again during the sweep (re-sent after the crash)', async (t) => {
  const { blobs, dir } = await openBlobs(t)
  // The orphan a kill between rename and commit left: the file of version v-1.
  const name = createHash('sha256').update('v-1').digest('hex')
  await writeFile(join(dir, 'blobs', name.slice(0, 2), name), 'half-committed')
  const listed = await blobs.listFiles()
  t.deepEqual(listed, [name])
  const resent = randomBytes(INLINE_MAX + 3)
  // Read repair commits v-1 while the sweep scans the store (the scan saw no reference to it).
  const referenced = async () => {
    const received = await blobs.fromBuffer(resent)
    if (received.kind !== 'file') throw new Error('expected a file body')
    t.is(await blobs.commit(received, 'v-1'), name)
    return new Set<string>()
  }
  t.is(await blobs.sweepOrphans(listed, referenced), 0)
  t.deepEqual(await readFile(join(dir, 'blobs', name.slice(0, 2), name)), resent)
})
