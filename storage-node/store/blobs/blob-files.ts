/**
 * Object bytes on disk. A body is received into a temp file while its SHA-256 is computed (written
 * past the page cache where the filesystem allows: file-writer.ts, direct-io.ts), the file is
 * fsync'ed, and at commit it is renamed to a name derived from the version id (never from the
 * user's key) and the directory is fsync'ed (djb's syncdir rule), so after a crash a committed
 * version always has whole bytes and a half-written upload is only a temp file, swept at start.
 * Bodies up to `inlineMaxBytes` stay in memory and are stored inline in the metadata store.
 */
import { createHash, hash as digest, randomUUID } from 'node:crypto'
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline, Readable, Transform } from 'node:stream'
import { CorruptReplicaError, EntityTooLargeError, InsufficientStorageError, InvalidRequestError, NoSuchVersionError, StoreError } from '../../../shared/errors.js'
import type { ByteSpan } from '../../../shared/wire/internal-api.js'
import { AlignedBufferPool, DirectFileWriter, probeDirectIo, readFileStream, readFileWhole } from './direct-io.js'
import { isOutOfSpace } from '../out-of-space.js'
import type { DiskSpace } from './disk-space.js'
import { type FileWriter, PagedFileWriter } from './file-writer.js'

/** A body received and hashed but not yet part of any stored version. */
export type ReceivedBody = { kind: 'inline'; size: number; etag: string; bytes: Buffer } | { kind: 'file'; size: number; etag: string; tmpPath: string }

export const EMPTY_ETAG = createHash('sha256').digest('hex')

async function fsyncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r')
  try {
    await d.sync()
  } finally {
    await d.close()
  }
}

/** Files up to this size are verified before the first byte is sent. */
export const VERIFY_FIRST_MAX_BYTES = 8 * 1024 * 1024

/**
 * With direct I/O, object files up to this size are still read through the page cache, so an
 * object read often is served from memory; larger ones are read past it. OpenStack Swift's object
 * server keeps objects under its `keep_cache_size` (5 MiB) cached by the same rule. Default 0 (every
 * read past the cache): on this machine filling the cache costs more than it saves
 * (docs/decisions/0007-cached-reads-off-by-default.md). Worth setting where a disk is slow and a hot
 * set fits in memory.
 */
export const CACHED_READ_MAX_BYTES = 0

/** 'fsync': a write is acknowledged once on disk (default). 'none': once handed to the OS (a crash may lose it; docs/decisions/0002-write-ahead-journal.md). */
export type Durability = 'fsync' | 'none'

export interface BlobFilesInit {
  dataDir: string
  inlineMaxBytes: number
  maxObjectBytes: number
  durability?: Durability
  /** 'auto' (default): object files are written and read with O_DIRECT when the data directory's filesystem takes it (see direct-io.ts); 'off': through the page cache. */
  directIo?: 'auto' | 'off'
  /** With direct I/O, files up to this size are read through the page cache (default CACHED_READ_MAX_BYTES). */
  cachedReadMaxBytes?: number
  /** The data directory's free space: new bodies are admitted against its reserve (none: no check, as in unit tests of other parts). */
  space?: DiskSpace
  /** Aligned buffers for direct I/O at most (default in direct-io.ts); a transfer that finds none goes through the page cache. */
  alignedBuffers?: number
}

export class BlobFiles {
  private readonly tmpDir: string
  private readonly blobDir: string
  /**
   * Names committed since this node started, until the orphan sweep ends. A name is derived from a
   * version id, so a version re-sent after a crash (read repair, anti-entropy) is renamed onto the
   * very orphan the sweep may hold as a candidate: such a name must be kept.
   */
  private committedBeforeSweepEnd: Set<string> | null = new Set()
  /** Sweep unlinks in flight, by name: a commit of the same name waits for its unlink (the thread pool may run them in either order). */
  private readonly unlinking = new Map<string, Promise<boolean>>()
  private readonly aligned: AlignedBufferPool
  /** Set by start: whether object files bypass the page cache. */
  private direct = false

  constructor(private readonly init: BlobFilesInit) {
    this.aligned = new AlignedBufferPool(init.alignedBuffers)
    this.tmpDir = join(init.dataDir, 'tmp')
    this.blobDir = join(init.dataDir, 'blobs')
  }

  /** Create the directories and sweep temp files a crash left behind. */
  async start(): Promise<void> {
    await rm(this.tmpDir, { recursive: true, force: true })
    await mkdir(this.tmpDir, { recursive: true })
    await mkdir(this.blobDir, { recursive: true })
    // Every shard directory exists and is durable before any blob is renamed into it.
    for (let i = 0; i < 256; i++) await mkdir(join(this.blobDir, i.toString(16).padStart(2, '0')), { recursive: true })
    await fsyncDir(this.blobDir)
    await fsyncDir(this.init.dataDir)
    this.direct = this.init.directIo !== 'off' && (await probeDirectIo(this.tmpDir, this.aligned))
  }

  /** Whether object files are written and read with O_DIRECT (known once started). */
  get directIo(): boolean {
    return this.direct
  }

  /** Names of the blob files on disk now. Taken before the node serves, they are the orphan sweep's only candidates. */
  async listFiles(): Promise<string[]> {
    const names: string[] = []
    // One push per name: spreading a huge directory listing into push() overflows the stack.
    for (const d of await readdir(this.blobDir)) for (const f of await readdir(join(this.blobDir, d))) names.push(f)
    return names
  }

  /**
   * Remove the `candidates` (blob files listed before the node served, see listFiles) that no stored
   * version refers to: left by a crash between a rename and its commit, or before an unlink. A new
   * file renamed into place after the listing is never a candidate, and a candidate's name committed
   * again since the node started (the same version re-sent) is kept, so the sweep can run while the
   * node serves. `referenced` (a full scan of the store) is asked for only when there is a
   * candidate. Returns how many files it removed.
   */
  async sweepOrphans(candidates: readonly string[], referenced: () => Promise<ReadonlySet<string>>): Promise<number> {
    try {
      if (candidates.length === 0) return 0
      const names = await referenced()
      let removed = 0
      for (const name of candidates) {
        // Checked and registered in one synchronous step: a commit either came first (kept) or waits.
        if (names.has(name) || this.committedBeforeSweepEnd?.has(name)) continue
        const gone = unlink(join(this.blobDir, name.slice(0, 2), name)).then(
          () => true,
          () => false,
        )
        this.unlinking.set(name, gone)
        if (await gone) removed++
        this.unlinking.delete(name)
      }
      return removed
    } finally {
      this.committedBeforeSweepEnd = null
    }
  }

  /**
   * Read a whole body, hashing it; spills to a temp file past the inline limit, written as the
   * body streams (file-writer.ts: with O_DIRECT when the filesystem takes it and aligned buffers
   * are to be had, else through the page cache) and synced before this resolves.
   *
   * New data must fit above the node's reserve (disk-space.ts): a body of declared size is refused
   * (507) before its first byte is read, one of unknown size as soon as it no longer fits. A disk
   * that fills anyway (another process, or the estimate behind) fails the body with 507 too, its
   * temp file removed. Either way the rest of the body is drained, not the connection cut, so the
   * sender reads the answer instead of a reset. No error names a path on this node.
   */
  async receive(body: Readable, declaredSize?: number): Promise<ReceivedBody> {
    if (declaredSize !== undefined && declaredSize > this.init.maxObjectBytes) throw new EntityTooLargeError('object is larger than the limit')
    const claim = this.init.space?.claim(declaredSize)
    const hash = createHash('sha256')
    const head: Buffer[] = []
    let size = 0
    let writer: FileWriter | undefined
    let tmpPath = ''
    // The error of a disk operation, told apart from the body's own (a sender gone away).
    let diskError: unknown
    const onDisk = async <T>(op: () => Promise<T>): Promise<T> => {
      try {
        return await op()
      } catch (err) {
        diskError = err
        throw err
      }
    }
    try {
      // The body is not destroyed when the loop ends early: a refused one is drained below.
      for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        size += chunk.length
        if (size > this.init.maxObjectBytes) throw new EntityTooLargeError('object is larger than the limit')
        hash.update(chunk)
        claim?.wrote(chunk.length)
        const w = writer
        if (w) {
          await onDisk(() => w.append(chunk))
          continue
        }
        head.push(chunk)
        if (size <= this.init.inlineMaxBytes) continue
        tmpPath = join(this.tmpDir, randomUUID())
        const created = await onDisk(() => this.createWriter(tmpPath))
        writer = created
        for (const c of head.splice(0)) await onDisk(() => created.append(c))
      }
      if (declaredSize !== undefined && size !== declaredSize) throw new InvalidRequestError(`body ended after ${size} of ${declaredSize} bytes`)
      if (!writer) return { kind: 'inline', size, etag: hash.digest('hex'), bytes: head.length === 1 ? (head[0] as Buffer) : Buffer.concat(head, size) }
      const finishing = writer
      writer = undefined
      await onDisk(() => finishing.finish()).catch(async (err: unknown) => {
        await finishing.abort()
        throw err
      })
      return { kind: 'file', size, etag: hash.digest('hex'), tmpPath }
    } catch (err) {
      await writer?.abort()
      if (tmpPath) await unlink(tmpPath).catch(() => undefined)
      const outOfSpace = err instanceof InsufficientStorageError || (err === diskError && isOutOfSpace(err))
      if (outOfSpace) {
        if (!body.readableEnded && !body.destroyed) body.resume()
        void this.init.space?.refresh()
        throw err instanceof InsufficientStorageError ? err : new InsufficientStorageError('this node ran out of space while the body was written; nothing was stored')
      }
      if (!body.destroyed) body.destroy()
      if (err instanceof StoreError) throw err
      // Any other disk failure is the node's (a 500 whose message, naming files, is not shown).
      if (err === diskError) throw err
      // The sender went away mid-body (a proxy killed, a connection reset): nothing was stored.
      throw new InvalidRequestError('upload aborted: the body ended before it was complete')
    } finally {
      claim?.release()
    }
  }

  /** The aligned buffers a read of a file of `size` bytes takes when it goes past the page cache; undefined: through the cache. */
  private readPoolFor(size: number): AlignedBufferPool | undefined {
    return this.direct && size > (this.init.cachedReadMaxBytes ?? CACHED_READ_MAX_BYTES) ? this.aligned : undefined
  }

  private async createWriter(path: string): Promise<FileWriter> {
    const durable = this.init.durability !== 'none'
    return (this.direct && (await DirectFileWriter.create(path, this.aligned, durable))) || PagedFileWriter.create(path, durable)
  }

  /**
   * A body already in memory (received whole over the RPC channel): inline when small, else
   * through `receive` into a durable temp file. Inline bytes are copied out of the frame, so the
   * connection's receive buffer is not kept alive by a stored version.
   */
  async fromBuffer(bytes: Buffer): Promise<ReceivedBody> {
    if (bytes.length > this.init.inlineMaxBytes) return this.receive(Readable.from([bytes]), bytes.length)
    const claim = this.init.space?.claim(bytes.length)
    claim?.wrote(bytes.length)
    claim?.release()
    return { kind: 'inline', size: bytes.length, etag: digest('sha256', bytes), bytes: Buffer.from(bytes) }
  }

  /** Move a received file to its final name and make the rename durable. Returns the blob name. */
  async commit(body: ReceivedBody & { kind: 'file' }, versionId: string): Promise<string> {
    const name = digest('sha256', versionId)
    this.committedBeforeSweepEnd?.add(name)
    await this.unlinking.get(name)
    const dir = join(this.blobDir, name.slice(0, 2))
    await mkdir(dir, { recursive: true })
    await rename(body.tmpPath, join(dir, name))
    if (this.init.durability !== 'none') await fsyncDir(dir)
    return name
  }

  /** Drop a received body that will not be stored. */
  async discard(body: ReceivedBody): Promise<void> {
    if (body.kind === 'file') await unlink(body.tmpPath).catch(() => undefined)
  }

  /**
   * The bytes of a stored file, checked against their SHA-256. Files up to `verifyFirstMaxBytes` are
   * hashed before anything is sent (a corrupt copy is refused, so the reader can go to another
   * replica); larger ones are hashed as they stream and the stream fails at its end on a mismatch,
   * so a client never receives a complete corrupt body.
   *
   * `range`: only those bytes. A file up to `verifyFirstMaxBytes` is still read whole and verified
   * first; a larger one is read from `range.start` to `range.end` only and not verified (checking it
   * would mean reading all of it): a Range read of a large object trades the check for not reading
   * the rest, and full reads, which verify, still find and quarantine a corrupt copy.
   */
  async openVerified(name: string, etag: string, onLateCorruption: () => void, verifyFirstMaxBytes = VERIFY_FIRST_MAX_BYTES, range?: ByteSpan): Promise<Readable> {
    const path = join(this.blobDir, name.slice(0, 2), name)
    // Unlinked by a concurrent superseding write (before the stat or between it and the read): the
    // version is gone, not the node.
    const gone = (err: unknown): never => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NoSuchVersionError(`version bytes ${name} are gone`)
      throw err
    }
    const size = await stat(path).then((s) => s.size, gone)
    if (size <= verifyFirstMaxBytes) {
      const bytes = await readFileWhole(path, size, this.readPoolFor(size)).catch(gone)
      if (digest('sha256', bytes) !== etag) throw new CorruptReplicaError(`stored bytes of ${name} do not match their SHA-256`)
      return Readable.from([range ? bytes.subarray(range.start, range.end + 1) : bytes])
    }
    if (range) return readFileStream(path, Math.min(size, range.end + 1), this.readPoolFor(size), range.start)
    const hash = createHash('sha256')
    const check = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk)
        cb(null, chunk)
      },
      flush(cb) {
        if (hash.digest('hex') === etag) return cb(null)
        onLateCorruption()
        cb(new CorruptReplicaError(`stored bytes of ${name} do not match their SHA-256`))
      },
    })
    return pipeline(readFileStream(path, size, this.readPoolFor(size)), check, () => undefined)
  }

  /** Move a corrupt file aside (kept for inspection, never served again). */
  async quarantine(name: string): Promise<void> {
    const dir = join(this.init.dataDir, 'quarantine')
    await mkdir(dir, { recursive: true })
    await rename(join(this.blobDir, name.slice(0, 2), name), join(dir, name)).catch(() => undefined)
  }

  async remove(name: string): Promise<void> {
    await unlink(join(this.blobDir, name.slice(0, 2), name)).catch(() => undefined)
  }

  /** Number of blob files on disk (for tests and reaping checks). */
  async countFiles(): Promise<number> {
    let n = 0
    for (const d of await readdir(this.blobDir)) n += (await readdir(join(this.blobDir, d))).length
    return n
  }
}
