import { createHash, randomBytes } from 'node:crypto'
import { type FileHandle, mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Readable } from 'node:stream'
import test from 'ava'
import { CorruptReplicaError, InvalidRequestError } from '../../../shared/errors.js'
import { BlobFiles, type ReceivedBody } from '../../../storage-node/store/blobs/blob-files.js'
import { AlignedBufferPool, DIRECT_ALIGN, DIRECT_CHUNK, DirectFileWriter, readFileStream, probeDirectIo, readFileWhole } from '../../../storage-node/store/blobs/direct-io.js'

/**
 * The directory the tests write in: under the first of the OS temp dir and the repo's own `.tmp/`
 * (git-ignored) whose filesystem takes O_DIRECT (tmpfs before Linux 6.6 and some overlay mounts do
 * not). Where neither does, the tests of the direct path are skipped, and say so, and the rest check
 * that the store falls back to the page cache.
 */
async function pickRoot(): Promise<{ root: string; direct: boolean; refused: string[] }> {
  const repoTmp = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '.tmp')
  const refused: string[] = []
  for (const base of [tmpdir(), repoTmp]) {
    await mkdir(base, { recursive: true })
    const dir = await mkdtemp(join(base, 'direct-io-test-'))
    if (await probeDirectIo(dir, new AlignedBufferPool(1))) return { root: dir, direct: true, refused }
    refused.push(base)
    await rm(dir, { recursive: true, force: true })
  }
  return { root: await mkdtemp(join(tmpdir(), 'direct-io-test-')), direct: false, refused }
}
const { root, direct: DIRECT, refused } = await pickRoot()
/** Whether device reads show in /proc/self/io here (see deviceReadsCounted): found before any test is declared. */
const COUNTED = await deviceReadsCounted()
/** A test of the direct path: skipped (and counted as skipped) where no filesystem here takes O_DIRECT. */
const directTest = DIRECT ? test : test.skip
test.after.always(async () => {
  await rm(root, { recursive: true, force: true })
})

/** Sizes around every boundary the writer and readers care about: blocks, chunks, nothing at all. */
const SIZES = [0, 1, DIRECT_ALIGN - 1, DIRECT_ALIGN, DIRECT_ALIGN + 1, DIRECT_CHUNK - 1, DIRECT_CHUNK, DIRECT_CHUNK + 1, 3 * DIRECT_CHUNK + 12_345]

/** `bytes` cut into pieces of random sizes (1 byte to a bit over a chunk), as a socket delivers them. */
function pieces(bytes: Buffer, seed: number): Buffer[] {
  let s = seed
  const next = () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31
    return s
  }
  const out: Buffer[] = []
  for (let at = 0; at < bytes.length; ) {
    const n = Math.min(bytes.length - at, 1 + (next() % (DIRECT_CHUNK + 70_000)))
    out.push(bytes.subarray(at, at + n))
    at += n
  }
  return out
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of stream) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

test('the probe says whether a directory takes O_DIRECT, and leaves nothing behind', async (t) => {
  if (refused.length > 0) t.log(`O_DIRECT refused under ${refused.join(' and ')}${DIRECT ? '' : ': the tests of the direct path are skipped'}`)
  const pool = new AlignedBufferPool()
  t.is(await probeDirectIo(root, pool), DIRECT)
  t.false(await probeDirectIo(join(root, 'no-such-dir'), pool), 'a directory that does not exist is refused')
  t.is(pool.available, 8, 'the probe gave its buffer back')
  t.deepEqual(
    (await readdir(root)).filter((f) => f.startsWith('.direct-io-probe')),
    [],
    'the probe file is gone',
  )
})

test('aligned buffers are whole chunks, distinct while held, reused once given back, and no more than the pool may make', (t) => {
  const pool = new AlignedBufferPool(10)
  const held = Array.from({ length: 10 }, () => pool.acquire())
  const bufs = held.filter((b): b is Buffer => b !== undefined)
  t.is(bufs.length, 10)
  for (const b of bufs) t.is(b.length, DIRECT_CHUNK)
  bufs[0]?.fill(1)
  t.false(
    bufs.slice(1).some((b) => b[0] === 1),
    'writing one buffer touches no other',
  )
  t.is(pool.acquire(), undefined, 'the pool is spent')
  t.is(pool.acquirePair(), undefined)
  pool.release(bufs[9] as Buffer)
  t.is(pool.acquirePair(), undefined, 'one buffer is not a pair')
  t.is(pool.available, 1, 'a pair that could not be made gives its first buffer back')
  for (const b of bufs.slice(0, 9)) pool.release(b)
  t.is(pool.available, 10)
  t.is(pool.acquire(), bufs[8], 'the last buffer given back is handed out again')
})

async function writeDirect(path: string, pool: AlignedBufferPool, parts: Buffer[]): Promise<void> {
  const w = await DirectFileWriter.create(path, pool, true)
  if (!w) throw new Error('no aligned buffers')
  for (const p of parts) await w.append(p)
  await w.finish()
}

directTest('a direct writer stores exactly the bytes appended, whatever the pieces, and gives its buffers back', async (t) => {
  const pool = new AlignedBufferPool()
  for (const [i, size] of SIZES.entries()) {
    const bytes = randomBytes(size)
    const path = join(root, `w-${i}`)
    await writeDirect(path, pool, pieces(bytes, i + 1))
    t.is((await stat(path)).size, size, `size ${size}: no padding left at the end`)
    t.true((await readFile(path)).equals(bytes), `size ${size}: the bytes read back through the page cache`)
    t.true((await readFileWhole(path, size, pool)).equals(bytes), `size ${size}: readFileWhole`)
    t.true((await collect(readFileStream(path, size, pool))).equals(bytes), `size ${size}: readFileStream`)
  }
  t.is(pool.available, 8, 'every buffer is back in the pool')
})

directTest('several direct writers on one pool do not mix their bytes', async (t) => {
  const pool = new AlignedBufferPool()
  const bodies = Array.from({ length: 4 }, (_, i) => randomBytes(2 * DIRECT_CHUNK + 1000 * i))
  await Promise.all(bodies.map((b, i) => writeDirect(join(root, `many-${i}`), pool, pieces(b, 50 + i))))
  for (const [i, b] of bodies.entries()) t.true((await readFile(join(root, `many-${i}`))).equals(b))
  t.is(pool.available, 8)
})

directTest('a direct writer refuses an existing file, and says no (without opening it) when the pool is spent', async (t) => {
  const pool = new AlignedBufferPool(2)
  const path = join(root, 'exists')
  await writeFile(path, 'x')
  await t.throwsAsync(DirectFileWriter.create(path, pool, true), { code: 'EEXIST' })
  t.is(pool.available, 2, 'the buffers went back')
  const held = pool.acquire()
  t.is(await DirectFileWriter.create(join(root, 'never'), pool, true), undefined)
  await t.throwsAsync(stat(join(root, 'never')), { code: 'ENOENT' })
  pool.release(held as Buffer)
})

/**
 * A file handle whose writes take a while and check that their buffer does not change meanwhile;
 * the `failAt`-th write fails (a full disk).
 */
function slowHandle(failAt: number) {
  const log = { writes: 0, finished: 0, changedInFlight: 0, closed: 0 }
  const handle = {
    async write(buf: Buffer, offset: number, length: number, position: number) {
      const n = ++log.writes
      const before = createHash('sha256')
        .update(buf.subarray(offset, offset + length))
        .digest('hex')
      await new Promise((r) => setTimeout(r, 20))
      if (
        createHash('sha256')
          .update(buf.subarray(offset, offset + length))
          .digest('hex') !== before
      )
        log.changedInFlight++
      log.finished++
      if (n === failAt) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })
      return { bytesWritten: length, buffer: buf, position }
    },
    async truncate() {},
    async sync() {},
    async close() {
      log.closed++
    },
  }
  return { handle: handle as unknown as FileHandle, log }
}

/** A direct writer over slowHandle(failAt), with buffers from `pool`. */
function slowWriter(pool: AlignedBufferPool, failAt: number) {
  const { handle, log } = slowHandle(failAt)
  const pair = pool.acquirePair()
  if (!pair) throw new Error('no aligned buffers')
  return { w: new DirectFileWriter(handle, 'fake', pair, pool, true), log }
}

test('a direct writer never refills a buffer while it is being written, and a failed write fails the file', async (t) => {
  const pool = new AlignedBufferPool()
  const { w, log } = slowWriter(pool, 2)
  const appending = (async () => {
    for (const p of pieces(randomBytes(5 * DIRECT_CHUNK), 7)) await w.append(p)
    await w.finish()
  })()
  await t.throwsAsync(appending, { code: 'ENOSPC' })
  await w.abort()
  t.is(log.changedInFlight, 0, 'no buffer changed under a write in flight')
  t.is(log.writes, 2, 'the failure stopped the writer before a further write began')
  t.is(pool.available, 8, 'abort waited for the write in flight, then gave the buffers back')
  t.true(log.closed >= 1)
})

test('an aborted direct writer gives its buffers back only once the write in flight is done', async (t) => {
  const pool = new AlignedBufferPool()
  const { w, log } = slowWriter(pool, 0)
  await w.append(randomBytes(DIRECT_CHUNK + 1))
  t.is(log.finished, 0, 'the first write is in flight')
  await w.abort()
  t.is(log.finished, 1, 'abort waited for it')
  t.is(pool.available, 8)
})

directTest('direct reads of a file shorter than expected fail instead of coming up short', async (t) => {
  const pool = new AlignedBufferPool()
  const path = join(root, 'short')
  await writeFile(path, randomBytes(DIRECT_CHUNK + 100))
  await t.throwsAsync(readFileWhole(path, DIRECT_CHUNK + 101, pool), { message: /ended after/ })
  await t.throwsAsync(collect(readFileStream(path, 2 * DIRECT_CHUNK, pool)), { message: /ended after/ })
  await t.throwsAsync(collect(readFileStream(join(root, 'missing'), 10, pool)), { code: 'ENOENT' })
  // Give the streams' destroy a turn to hand their buffers back.
  await new Promise((r) => setImmediate(r))
  t.is(pool.available, 8)
})

directTest('a direct read stream destroyed mid-file gives its buffer back only after its read settled', async (t) => {
  const pool = new AlignedBufferPool()
  const path = join(root, 'mid')
  await writeFile(path, randomBytes(4 * DIRECT_CHUNK))
  const s = readFileStream(path, 4 * DIRECT_CHUNK, pool)
  const first = await new Promise<Buffer>((resolve) => s.once('data', resolve))
  t.is(first.length, DIRECT_CHUNK)
  s.destroy()
  await new Promise((r) => s.once('close', r))
  t.is(pool.available, 8)
})

/**
 * Direct I/O on, off, on with too few aligned buffers for a writer (every upload falls back to the
 * page cache, reads go direct), and on with files up to 5 MiB read through the page cache.
 */
for (const [directIo, alignedBuffers, cachedReadMaxBytes] of [
  ['auto', undefined, 0],
  ['off', undefined, 0],
  ['auto', 1, 0],
  ['auto', undefined, 5 * DIRECT_CHUNK],
] as const) {
  const INLINE = 1024
  const label = `${directIo}${alignedBuffers === undefined ? '' : `, ${alignedBuffers} buffer`}${cachedReadMaxBytes ? ', reads up to 5 MiB cached' : ''}`
  const start = async () => {
    const dataDir = await mkdtemp(join(root, `blobs-${directIo}-`))
    const blobs = new BlobFiles({ dataDir, inlineMaxBytes: INLINE, maxObjectBytes: 64 * 1024 * 1024, directIo, alignedBuffers, cachedReadMaxBytes })
    await blobs.start()
    return { blobs, dataDir }
  }
  const blobPath = (dataDir: string, name: string) => join(dataDir, 'blobs', name.slice(0, 2), name)

  test(`blob files (direct I/O ${label}): received, committed and read back whole, checked against their SHA-256`, async (t) => {
    const { blobs, dataDir } = await start()
    t.is(blobs.directIo, directIo === 'auto' && DIRECT)
    // Up to VERIFY_FIRST_MAX_BYTES (8 MiB) a file is read whole and checked first; past it, streamed.
    // With direct I/O and reads up to 5 MiB cached, the 1 MiB file is read through the page cache.
    for (const [i, size] of [0, INLINE, INLINE + 1, DIRECT_CHUNK + 1, 6 * DIRECT_CHUNK + 3, 9 * DIRECT_CHUNK + 7].entries()) {
      const bytes = randomBytes(size)
      const etag = createHash('sha256').update(bytes).digest('hex')
      const body: ReceivedBody = await blobs.receive(Readable.from(pieces(bytes, 100 + i)), size)
      t.is(body.size, size)
      t.is(body.etag, etag)
      if (body.kind === 'inline') {
        t.true(size <= INLINE)
        t.true(body.bytes.equals(bytes))
        continue
      }
      const name = await blobs.commit(body, `version-${i}`)
      t.is((await stat(blobPath(dataDir, name))).size, size)
      t.true((await collect(await blobs.openVerified(name, etag, () => t.fail('no corruption here')))).equals(bytes), `size ${size}`)
    }
    t.deepEqual(await readdir(join(dataDir, 'tmp')), [], 'no temp file left behind')
  })

  test(`blob files (direct I/O ${label}): a corrupt file is refused before a byte is sent, or fails its stream at the end`, async (t) => {
    const { blobs, dataDir } = await start()
    for (const [i, size] of [DIRECT_CHUNK + 1, 6 * DIRECT_CHUNK, 9 * DIRECT_CHUNK].entries()) {
      const bytes = randomBytes(size)
      const etag = createHash('sha256').update(bytes).digest('hex')
      const body = await blobs.receive(Readable.from([bytes]), size)
      if (body.kind !== 'file') return t.fail('a file was expected')
      const name = await blobs.commit(body, `corrupt-${i}`)
      const fh = await open(blobPath(dataDir, name), 'r+')
      await fh.write(Buffer.from([bytes[size - 1] === 0 ? 1 : 0]), 0, 1, size - 1)
      await fh.close()
      let late = 0
      if (size <= 8 * 1024 * 1024) {
        await t.throwsAsync(
          blobs.openVerified(name, etag, () => late++),
          { instanceOf: CorruptReplicaError },
        )
      } else {
        await t.throwsAsync(collect(await blobs.openVerified(name, etag, () => late++)), { instanceOf: CorruptReplicaError })
        t.is(late, 1, 'the late corruption is reported')
      }
    }
  })

  test(`blob files (direct I/O ${label}): a body cut short or aborted leaves no temp file`, async (t) => {
    const { blobs, dataDir } = await start()
    const bytes = randomBytes(2 * DIRECT_CHUNK + 3)
    await t.throwsAsync(blobs.receive(Readable.from([bytes]), bytes.length + 1), { instanceOf: InvalidRequestError })
    const failing = new Readable({
      read() {
        this.push(bytes.subarray(0, DIRECT_CHUNK + 10))
        this.destroy(new Error('connection reset'))
      },
    })
    await t.throwsAsync(blobs.receive(failing), { instanceOf: InvalidRequestError, message: /upload aborted/ })
    t.deepEqual(await readdir(join(dataDir, 'tmp')), [])
  })
}

/** Bytes this process has had fetched from the block device so far (/proc/self/io: the page cache's misses and direct reads). */
async function deviceReadBytes(): Promise<number> {
  const m = /^read_bytes: (\d+)$/m.exec(await readFile('/proc/self/io', 'utf8'))
  if (!m) throw new Error('/proc/self/io has no read_bytes')
  return Number(m[1])
}

/**
 * Whether this process's reads from the device show in /proc/self/io (task I/O accounting): a file
 * written and read back with O_DIRECT must count at least its size. Not on a kernel without the
 * accounting, nor on tmpfs (which takes O_DIRECT since Linux 6.6 but has no device), nor, likely,
 * on network and FUSE filesystems.
 */
async function deviceReadsCounted(): Promise<boolean> {
  if (!DIRECT) return false
  try {
    const pool = new AlignedBufferPool(2)
    const path = join(root, 'io-accounting-probe')
    await writeDirect(path, pool, [randomBytes(16 * DIRECT_ALIGN)])
    const before = await deviceReadBytes()
    await readFileWhole(path, 16 * DIRECT_ALIGN, pool)
    return (await deviceReadBytes()) - before >= 16 * DIRECT_ALIGN
  } catch {
    return false
  }
}

/** Skipped where device reads cannot be counted (see deviceReadsCounted). */
const countedReadsTest = COUNTED ? test.serial : test.skip

// Serial: /proc/self/io counts the whole process, so nothing else of this file may read meanwhile.
countedReadsTest('with direct I/O, a small object file read twice comes from memory the second time; a larger one is read from the device each time', async (t) => {
  const dataDir = await mkdtemp(join(root, 'blobs-cache-'))
  const blobs = new BlobFiles({ dataDir, inlineMaxBytes: 1024, maxObjectBytes: 64 * 1024 * 1024, cachedReadMaxBytes: 2 * DIRECT_CHUNK })
  await blobs.start()
  t.true(blobs.directIo)
  for (const [size, cached] of [
    [DIRECT_CHUNK, true],
    [2 * DIRECT_CHUNK, true],
    [2 * DIRECT_CHUNK + 1, false],
    [9 * DIRECT_CHUNK, false],
  ] as const) {
    const bytes = randomBytes(size)
    const etag = createHash('sha256').update(bytes).digest('hex')
    const body = await blobs.receive(Readable.from([bytes]), size)
    if (body.kind !== 'file') return t.fail('a file was expected')
    const name = await blobs.commit(body, `cache-${size}`)
    const readOnce = async () => {
      const before = await deviceReadBytes()
      t.true((await collect(await blobs.openVerified(name, etag, () => t.fail('no corruption here')))).equals(bytes))
      return (await deviceReadBytes()) - before
    }
    // Written with O_DIRECT, so not in the cache yet: the first read goes to the device either way.
    // (Only for these block-aligned sizes: the truncate after a direct write of a partial last block
    // reads that block into the cache, so a cached first read would then count one block less.)
    t.true((await readOnce()) >= size, `size ${size}: first read from the device`)
    const second = await readOnce()
    if (cached) t.true(second < size / 8, `size ${size}: second read from memory (${second} bytes from the device)`)
    else t.true(second >= size, `size ${size}: second read from the device again (${second} bytes)`)
  }
})
