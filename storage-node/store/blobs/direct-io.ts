/**
 * Direct I/O (O_DIRECT) for object files: their bytes go between the disk and buffers of our own
 * without passing through the page cache. An object file is written once and read rarely, so the
 * cache gains little from holding it, and filling the cache is not free: once it has to take memory
 * it did not just free, its page faults cost far more kernel CPU than a direct write or read
 * (docs/decisions/0006-direct-io.md). MinIO writes object parts with O_DIRECT for the same reasons.
 * Reads of small object files can still go through the cache (`--cached-read-max-bytes`, off by
 * default: blob-files.ts, CACHED_READ_MAX_BYTES).
 *
 * O_DIRECT needs the buffer's address, each transfer's length and the file offset aligned to the
 * device's logical block; DIRECT_ALIGN (4096) covers 512-byte and 4K-sector devices. Node's Buffers
 * have no alignment guarantee, so aligned buffers are carved from WebAssembly memories (whose base
 * is page-aligned) and pooled. A filesystem that refuses O_DIRECT is found by `probeDirectIo` at
 * start, and the node then uses the page cache as before.
 */
import { constants, createReadStream } from 'node:fs'
import { type FileHandle, open, readFile, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { type FileWriter, ShortWriteError } from './file-writer.js'

/** Alignment of addresses, lengths and offsets of direct transfers. */
export const DIRECT_ALIGN = 4096
/** Size of one aligned buffer, i.e. of one direct transfer (a multiple of the 64 KiB WebAssembly page). */
export const DIRECT_CHUNK = 1024 * 1024
const WASM_PAGE = 64 * 1024
const CHUNKS_PER_MEMORY = 8
/** 64 MiB of aligned buffers at most: 32 direct uploads, or 64 direct reads, at once. */
const DEFAULT_MAX_BUFFERS = 64

const O_DIRECT = constants.O_DIRECT ?? 0

/** The part of the WebAssembly global used here (the project's TypeScript libs leave it out). */
declare const WebAssembly: { Memory: new (descriptor: { initial: number; maximum: number }) => { buffer: ArrayBuffer } }

/**
 * Aligned buffers of DIRECT_CHUNK bytes, reused: a buffer is handed out to one user at a time, who
 * gives it back once no transfer into or out of it is in flight. The pool makes at most
 * `maxBuffers` (two per upload, one per read); past that, or when no WebAssembly memory can be
 * reserved (each reserves address space, not memory: a few GiB under `ulimit -v`), `acquire` says
 * no and the caller goes through the page cache instead.
 */
export class AlignedBufferPool {
  private readonly free: Buffer[] = []
  private made = 0

  constructor(private readonly maxBuffers = DEFAULT_MAX_BUFFERS) {}

  /** A buffer, or undefined when the pool is spent. */
  acquire(): Buffer | undefined {
    const b = this.free.pop()
    if (b) return b
    const n = Math.min(CHUNKS_PER_MEMORY, this.maxBuffers - this.made)
    if (n <= 0) return undefined
    let memory: { buffer: ArrayBuffer }
    try {
      memory = new WebAssembly.Memory({ initial: (n * DIRECT_CHUNK) / WASM_PAGE, maximum: (n * DIRECT_CHUNK) / WASM_PAGE })
    } catch {
      return undefined
    }
    this.made += n
    for (let i = 1; i < n; i++) this.free.push(Buffer.from(memory.buffer, i * DIRECT_CHUNK, DIRECT_CHUNK))
    return Buffer.from(memory.buffer, 0, DIRECT_CHUNK)
  }

  /** Two buffers, or none. */
  acquirePair(): [Buffer, Buffer] | undefined {
    const a = this.acquire()
    if (!a) return undefined
    const b = this.acquire()
    if (b) return [a, b]
    this.release(a)
    return undefined
  }

  release(b: Buffer): void {
    this.free.push(b)
  }

  /** Buffers made and not handed out now (for tests: every user gave its buffers back). */
  get available(): number {
    return this.free.length
  }
}

/** Whether files in `dir` can be written and read with O_DIRECT (one aligned block, written and removed). */
export async function probeDirectIo(dir: string, pool: AlignedBufferPool): Promise<boolean> {
  if (O_DIRECT === 0) return false
  const path = join(dir, `.direct-io-probe-${process.pid}`)
  let buf: Buffer | undefined
  let fh: FileHandle | undefined
  try {
    buf = pool.acquire()
    if (!buf) return false
    buf.fill(0, 0, DIRECT_ALIGN)
    fh = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC | O_DIRECT, 0o600)
    const { bytesWritten } = await fh.write(buf, 0, DIRECT_ALIGN, 0)
    const { bytesRead } = await fh.read(buf, 0, DIRECT_ALIGN, 0)
    return bytesWritten === DIRECT_ALIGN && bytesRead === DIRECT_ALIGN
  } catch {
    // EINVAL from a filesystem without O_DIRECT (or unaligned memory), a RangeError from a
    // WebAssembly memory that could not be reserved: either way, the page cache it is.
    return false
  } finally {
    await fh?.close().catch(() => undefined)
    await unlink(path).catch(() => undefined)
    if (buf) pool.release(buf)
  }
}

function roundUp(n: number): number {
  return Math.ceil(n / DIRECT_ALIGN) * DIRECT_ALIGN
}

/** Write exactly `length` bytes of `buf` at `position`; a short write (a full disk) is an error, never a short file. */
async function writeExactly(fh: FileHandle, buf: Buffer, length: number, position: number, path: string): Promise<void> {
  const { bytesWritten } = await fh.write(buf, 0, length, position)
  if (bytesWritten !== length) throw new ShortWriteError(`short write to ${path}: ${bytesWritten} of ${length} bytes at ${position}`)
}

/**
 * A new file written with O_DIRECT: appended bytes are gathered in one aligned buffer and written a
 * DIRECT_CHUNK at a time, one write in flight while the other buffer fills. `finish` writes the
 * last partial block zero-padded, cuts the file to its length, syncs (the device's cache and the
 * file's size still need it) and closes.
 */
export class DirectFileWriter implements FileWriter {
  /** The buffer being filled and the one being written (swapped at each write). */
  private filling: Buffer
  private spare: Buffer
  private filled = 0
  private position = 0
  private writing: Promise<void> = Promise.resolve()
  private released = false

  constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
    buffers: [Buffer, Buffer],
    private readonly pool: AlignedBufferPool,
    private readonly durable: boolean,
  ) {
    ;[this.filling, this.spare] = buffers
  }

  /** Create `path` (which must not exist) for direct writing; undefined when the pool has no buffers to spare. */
  static async create(path: string, pool: AlignedBufferPool, durable: boolean): Promise<DirectFileWriter | undefined> {
    const buffers = pool.acquirePair()
    if (!buffers) return undefined
    try {
      const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_DIRECT, 0o666)
      return new DirectFileWriter(fh, path, buffers, pool, durable)
    } catch (err) {
      for (const b of buffers) pool.release(b)
      throw err
    }
  }

  /** Bytes appended so far. */
  get size(): number {
    return this.position + this.filled
  }

  async append(chunk: Buffer): Promise<void> {
    let from = 0
    while (from < chunk.length) {
      const copied = chunk.copy(this.filling, this.filled, from)
      from += copied
      this.filled += copied
      if (this.filled === DIRECT_CHUNK) await this.writeFilling()
    }
  }

  /** Hand the full buffer to the disk and go on filling the other (once its own write is done). */
  private async writeFilling(): Promise<void> {
    await this.writing
    const buf = this.filling
    const at = this.position
    this.position += DIRECT_CHUNK
    this.filled = 0
    this.filling = this.spare
    this.spare = buf
    this.writing = writeExactly(this.handle, buf, DIRECT_CHUNK, at, this.path)
    // Surfaced by the next await of `writing`; never an unhandled rejection meanwhile.
    this.writing.catch(() => undefined)
  }

  async finish(): Promise<void> {
    await this.writing
    if (this.filled > 0) {
      const padded = roundUp(this.filled)
      this.filling.fill(0, this.filled, padded)
      await writeExactly(this.handle, this.filling, padded, this.position, this.path)
      if (padded !== this.filled) await this.handle.truncate(this.size)
    }
    this.release()
    if (this.durable) await this.handle.sync()
    await this.handle.close()
  }

  /** Wait for the write in flight (its buffer is not ours to hand back before), give the buffers back, close. */
  async abort(): Promise<void> {
    await this.writing.catch(() => undefined)
    this.release()
    await this.handle.close().catch(() => undefined)
  }

  private release(): void {
    if (this.released) return
    this.released = true
    this.pool.release(this.filling)
    this.pool.release(this.spare)
  }
}

/** Read `length` bytes from `fh` at `position` into `buf` (aligned), copying them out; fewer only at the end of the file. */
async function readChunk(fh: FileHandle, buf: Buffer, position: number, length: number): Promise<Buffer> {
  const { bytesRead } = await fh.read(buf, 0, roundUp(length), position)
  const n = Math.min(bytesRead, length)
  const out = Buffer.allocUnsafeSlow(n)
  buf.copy(out, 0, 0, n)
  return out
}

/**
 * The first `size` bytes of the file at `path` in one Buffer: read with O_DIRECT when given a pool
 * with a buffer to spare, else through the page cache (no pool: direct I/O is off). Throws if the
 * file is shorter.
 */
export async function readFileWhole(path: string, size: number, pool: AlignedBufferPool | undefined): Promise<Buffer> {
  const buf = pool?.acquire()
  if (!pool || !buf) return readFile(path)
  try {
    const fh = await open(path, constants.O_RDONLY | O_DIRECT)
    try {
      const out = Buffer.allocUnsafeSlow(size)
      let at = 0
      while (at < size) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(DIRECT_CHUNK, roundUp(size - at)), at)
        if (bytesRead === 0) throw new Error(`${path} ended after ${at} of ${size} bytes`)
        at += buf.copy(out, at, 0, Math.min(bytesRead, size - at))
      }
      return out
    } finally {
      await fh.close()
    }
  } finally {
    // Every read has settled here: the buffer can go back.
    pool.release(buf)
  }
}

/**
 * The first `size` bytes of the file at `path` as a stream of DIRECT_CHUNK pieces (1 MiB reads: a
 * sixteenth of the syscalls and stream callbacks of the default 64 KiB), read with O_DIRECT, one
 * read ahead of the consumer at most, when given a pool with a buffer to spare; else through the
 * page cache (no pool: direct I/O is off). Fails if the file turns out shorter. `start`: the
 * bytes from there to `size` only (a Range read).
 */
export function readFileStream(path: string, size: number, pool: AlignedBufferPool | undefined, start = 0): Readable {
  const held = pool?.acquire()
  if (!pool || !held) return createReadStream(path, { highWaterMark: DIRECT_CHUNK, start, ...(size > 0 ? { end: size - 1 } : {}) })
  let buf: Buffer | undefined = held
  let fh: FileHandle | undefined
  // O_DIRECT reads start on an aligned offset: the bytes before `start` in the first block are cut.
  let position = start - (start % DIRECT_ALIGN)
  let skip = start - position
  let reading: Promise<unknown> = Promise.resolve()
  return new Readable({
    highWaterMark: DIRECT_CHUNK,
    construct(cb) {
      open(path, constants.O_RDONLY | O_DIRECT).then(
        (h) => {
          fh = h
          cb()
        },
        (err: Error) => cb(err),
      )
    },
    read() {
      if (position >= size) {
        this.push(null)
        return
      }
      if (!fh || !buf) return void this.destroy(new Error(`${path} is not open`))
      const want = Math.min(DIRECT_CHUNK, size - position)
      const read = readChunk(fh, buf, position, want)
      reading = read.catch(() => undefined)
      read.then(
        (chunk) => {
          if (chunk.length === 0) return this.destroy(new Error(`${path} ended after ${position} of ${size} bytes`))
          position += chunk.length
          this.push(skip > 0 ? chunk.subarray(skip) : chunk)
          skip = 0
        },
        (err: Error) => this.destroy(err),
      )
    },
    destroy(err, cb) {
      // A read in flight still writes into the buffer: it goes back to the pool only after.
      void reading.then(async () => {
        if (buf) pool.release(buf)
        buf = undefined
        await fh?.close().catch(() => undefined)
        cb(err)
      })
    },
  })
}
