/**
 * Writing a new object file as its body streams in. Two ways: through the page cache
 * (PagedFileWriter, here) or around it (DirectFileWriter, direct-io.ts); BlobFiles picks one per
 * file. Either way a write cut short (a full disk) fails the file instead of leaving it short, and
 * `finish` returns once the file is whole, synced (unless durability is off) and closed.
 */
import { type FileHandle, open } from 'node:fs/promises'

/**
 * A write that stored fewer bytes than asked. On a regular file that means the filesystem is full,
 * so it carries ENOSPC's code: callers treat it as the full disk it is.
 */
export class ShortWriteError extends Error {
  readonly code = 'ENOSPC'
}

export interface FileWriter {
  /** Add bytes at the end (may wait for an earlier write, which is how the body is paced). */
  append(chunk: Buffer): Promise<void>
  /** Write what is left, sync (when durable) and close: the file then holds every appended byte. */
  finish(): Promise<void>
  /** Stop after a failure: wait for what is in flight, close. The caller removes the file. */
  abort(): Promise<void>
}

/** Bytes gathered before one write. */
const WRITE_BATCH_BYTES = 1024 * 1024
/** Bytes written between background datasyncs. */
const SYNC_EVERY_BYTES = 16 * 1024 * 1024

/** Errors of background writes and syncs surface when they are awaited, never as unhandled rejections. */
function background<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined)
  return p
}

/**
 * Through the page cache: chunks are gathered and written a batch at a time (one `writev` in flight
 * while the next batch arrives), and every SYNC_EVERY_BYTES a datasync starts in the background, so
 * the disk flushes while the body is still streaming: the fsync at the end then has little left to
 * do, instead of a whole large object's dirty pages
 * (docs/decisions/0017-background-datasync-of-large-files.md).
 */
export class PagedFileWriter implements FileWriter {
  private chunks: Buffer[] = []
  private batched = 0
  private unsynced = 0
  private writing: Promise<unknown> = Promise.resolve()
  private syncing: Promise<unknown> = Promise.resolve()

  private constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
    private readonly durable: boolean,
  ) {}

  /** Create `path`, which must not exist. */
  static async create(path: string, durable: boolean): Promise<PagedFileWriter> {
    return new PagedFileWriter(await open(path, 'wx'), path, durable)
  }

  async append(chunk: Buffer): Promise<void> {
    this.chunks.push(chunk)
    this.batched += chunk.length
    if (this.batched >= WRITE_BATCH_BYTES) await this.flushBatch()
  }

  private async flushBatch(): Promise<void> {
    const batch = this.chunks
    const expected = this.batched
    this.chunks = []
    this.batched = 0
    this.unsynced += expected
    await this.writing
    this.writing = background(
      this.handle.writev(batch).then(({ bytesWritten }) => {
        if (bytesWritten !== expected) throw new ShortWriteError(`short write to ${this.path}: ${bytesWritten} of ${expected} bytes`)
      }),
    )
    if (this.durable && this.unsynced >= SYNC_EVERY_BYTES) {
      this.unsynced = 0
      await this.syncing
      const written = this.writing
      this.syncing = background(written.then(() => this.handle.datasync()))
    }
  }

  async finish(): Promise<void> {
    if (this.batched > 0) await this.flushBatch()
    await this.writing
    await this.syncing
    if (this.durable) await this.handle.sync()
    await this.handle.close()
  }

  async abort(): Promise<void> {
    await this.writing.catch(() => undefined)
    await this.syncing.catch(() => undefined)
    await this.handle.close().catch(() => undefined)
  }
}
