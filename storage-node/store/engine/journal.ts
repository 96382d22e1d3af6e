/**
 * The write-ahead journal of a node's store: what makes a write durable before it is acknowledged.
 * Each group commit (see group-commit.ts) appends one record holding every table write of its
 * transactions, with one `writev` and one `fdatasync`, on the main thread; LMDB itself commits
 * (and syncs) only at checkpoints, ten times a second, one transaction for hundreds of writes.
 * After a crash the records written since the last checkpoint are applied again, in order, on top
 * of LMDB's last committed state (see GroupCommit.recover).
 *
 * A record: magic (u32), generation (u32), payload length (u32), CRC-32 of those 12 bytes and the
 * payload (u32), then the payload (msgpack of the writes). Every checkpoint starts a new generation
 * and writes again from the start of the file: the generation in effect is kept in LMDB and
 * committed with the checkpoint, so records of older generations (checkpointed, or left after the
 * end) are never applied twice, and a torn last record fails its CRC. The file is zero-filled ahead
 * of the writes and kept at its size: a record written inside it needs no size change, so its
 * `fdatasync` flushes the data blocks alone.
 *
 * A failed write or sync fails the journal for good: after a failed fsync what is on disk is
 * unknown (PostgreSQL's rule), so nothing later may be acknowledged; the node is restarted and
 * recovers from what reached the disk.
 */
import { closeSync, fdatasyncSync, fstatSync, fsyncSync, openSync, readSync, writeSync, writevSync } from 'node:fs'
import { dirname } from 'node:path'
import { crc32 } from 'node:zlib'
import { Packr } from 'msgpackr'

/** One table write: a put of `value`, or a remove when there is none. */
export type JournalWrite = [table: string, key: unknown] | [table: string, key: unknown, value: unknown]

export const JOURNAL_MAGIC = 0x444a4c31 // 'DJL1'
export const JOURNAL_HEAD_BYTES = 16
/** The file is zero-filled to this size when created (and kept at least this large). */
export const JOURNAL_EXTENT_BYTES = 16 * 1024 * 1024

/** Plain maps and arrays (no shared record structures): a record must decode on its own. */
const packr = new Packr({ useRecords: false, moreTypes: false })

export class JournalFailedError extends Error {}

/** fsync a directory, so that the names of files created in it survive a crash. */
export function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

export interface JournalOptions {
  /** fdatasync each record before `append` returns (false: `--durability none`, the OS writes it back). */
  sync: boolean
  extentBytes?: number
}

export class Journal {
  private readonly fd: number
  private current = 0
  /** Where the next record goes (bytes of records of this generation). */
  private end = 0
  /** Size of the file: writes inside it change no metadata. */
  private size: number
  private failed: Error | undefined

  constructor(
    readonly path: string,
    private readonly options: JournalOptions,
  ) {
    try {
      this.fd = openSync(path, 'r+')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      this.fd = openSync(path, 'wx+')
    }
    this.size = fstatSync(this.fd).size
    const extent = options.extentBytes ?? JOURNAL_EXTENT_BYTES
    if (this.size < extent) {
      const zeros = Buffer.alloc(Math.min(extent - this.size, 1024 * 1024))
      for (let at = this.size; at < extent; at += zeros.length) writeSync(this.fd, zeros, 0, Math.min(zeros.length, extent - at), at)
      fsyncSync(this.fd)
      this.size = extent
    }
    // The file's name must be durable too (also when a crash came right after it was created).
    fsyncDirSync(dirname(path))
  }

  /** The generation now written (set by `restart`). */
  get generation(): number {
    return this.current
  }

  /** Bytes of records written in the current generation (what a checkpoint would retire). */
  get bytes(): number {
    return this.end
  }

  /** The writes of every whole record of `generation`, from the start of the file, in order. */
  read(generation: number): JournalWrite[][] {
    const records: JournalWrite[][] = []
    for (let at = 0, r = this.recordAt(0); r?.generation === generation; at += r.bytes, r = this.recordAt(at)) {
      records.push(packr.unpack(r.payload) as JournalWrite[])
    }
    return records
  }

  /** The whole record at `at` (magic and CRC right), or undefined. */
  private recordAt(at: number): { generation: number; payload: Buffer; bytes: number } | undefined {
    const head = Buffer.alloc(JOURNAL_HEAD_BYTES)
    if (readSync(this.fd, head, 0, JOURNAL_HEAD_BYTES, at) < JOURNAL_HEAD_BYTES || head.readUInt32BE(0) !== JOURNAL_MAGIC) return undefined
    const length = head.readUInt32BE(8)
    if (at + JOURNAL_HEAD_BYTES + length > this.size) return undefined
    const payload = Buffer.alloc(length)
    if (readSync(this.fd, payload, 0, length, at + JOURNAL_HEAD_BYTES) < length) return undefined
    if (crc32(payload, crc32(head.subarray(0, 12))) !== head.readUInt32BE(12)) return undefined
    return { generation: head.readUInt32BE(4), payload, bytes: JOURNAL_HEAD_BYTES + length }
  }

  /** The generation of the file's first record when it is whole (the newest generation written: each starts at offset 0). */
  firstGeneration(): number | undefined {
    return this.recordAt(0)?.generation
  }

  /** Write `generation`'s records from the start of the file on (its predecessor's are checkpointed). */
  restart(generation: number): void {
    this.current = generation
    this.end = 0
  }

  /** Append one record of writes; on disk (when syncing) before it returns. Returns its size in bytes. Throws JournalFailedError after any failure. */
  append(writes: readonly JournalWrite[]): number {
    if (this.failed) throw new JournalFailedError(`the journal failed earlier: ${this.failed.message}`)
    const payload = packr.pack(writes)
    const head = Buffer.allocUnsafe(JOURNAL_HEAD_BYTES)
    head.writeUInt32BE(JOURNAL_MAGIC, 0)
    head.writeUInt32BE(this.current, 4)
    head.writeUInt32BE(payload.length, 8)
    head.writeUInt32BE(crc32(payload, crc32(head.subarray(0, 12))), 12)
    const length = JOURNAL_HEAD_BYTES + payload.length
    try {
      const written = writevSync(this.fd, [head, payload], this.end)
      if (written !== length) throw new Error(`short write to the journal: ${written} of ${length} bytes`)
      if (this.options.sync) fdatasyncSync(this.fd)
    } catch (err) {
      this.failed = err instanceof Error ? err : new Error(String(err))
      throw new JournalFailedError(`journal write failed: ${this.failed.message}`)
    }
    this.end += length
    this.size = Math.max(this.size, this.end)
    return length
  }

  close(): void {
    closeSync(this.fd)
  }
}
