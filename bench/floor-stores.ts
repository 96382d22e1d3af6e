/**
 * The stores behind the durable floors' backends (bench/baseline-coordinator.ts): the least a
 * durable W=2, N=3 store written in Node must do per PUT here, against which the cluster is measured
 * (bench/durable-floor.ts). Each answers a write only once it is on disk, and serves GETs of what it
 * stored. Neither keeps versions, clocks, hints or an anti-entropy index.
 */
import { fdatasyncSync, fsync, mkdirSync, openSync, readSync, write, writevSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { crc32 } from 'node:zlib'
import { open } from 'lmdb'
import { GroupCommit } from '../storage-node/store/engine/group-commit.js'
import { fsyncDirSync } from '../storage-node/store/engine/journal.js'

export type FloorStore = 'lmdb' | 'log'
export const FLOOR_STORES: readonly FloorStore[] = ['lmdb', 'log']
export const isFloorStore = (name: string): name is FloorStore => (FLOOR_STORES as readonly string[]).includes(name)

export interface DurableStore {
  /** Resolves once `body` is stored under `path` and on disk. */
  put(path: string, body: Buffer): Promise<void>
  get(path: string): Buffer | undefined
}

export function openFloorStore(kind: FloorStore, dir: string): DurableStore {
  return kind === 'log' ? logStore(dir) : lmdbStore(dir)
}

/** LMDB in `dir`, every write group-committed exactly as a storage node commits (one journal record and one sync per event-loop turn, LMDB checkpointed ten times a second). */
function lmdbStore(dir: string): DurableStore {
  const root = open({ path: dir, compression: false })
  const group = new GroupCommit(root, { journalPath: join(dir, 'journal'), sync: true })
  const db = group.table('objects', root.openDB<Buffer, string>({ name: 'objects', encoding: 'binary' }))
  group.recover()
  return {
    put: (path, body) =>
      group.run(() => {
        db.put(path, body)
      }),
    get: (path) => db.get(path),
  }
}

/** The log file grows by this much at a time, zero-filled and synced ahead of the writes, so that a group's fdatasync has no size or extent change to journal. */
export const LOG_EXTENT_BYTES = 64 * 1024 * 1024
/** A record: key length (u32), body length (u32), CRC-32 of key then body (u32), key, body. */
export const LOG_RECORD_HEAD = 12

const writeAt = promisify(write)
const fsyncFd = promisify(fsync)

/**
 * An append-only file in `dir` (Bitcask's shape; the index of where each key's body lies is in
 * memory). Writes asked for in one event-loop turn form a group, appended with one writev and
 * fdatasync'ed once, on the main thread, before any of them resolves. The next extent of the file
 * is zero-filled and synced on libuv's pool while the current one still has room; a group that
 * would run past the end waits for it. On the main thread because that measured faster here: the
 * hand-off of each group's fdatasync to libuv's pool cost more CPU than the wait (see
 * docs/decisions/0010-durable-floors.md and docs/benchmarks.md).
 *
 * A measuring stick, not a store to keep data in: nothing reads the log back after a restart (the
 * records carry what a recovery would need). A failed write or sync fails the store for good: after
 * a failed fsync what is on disk is unknown, so nothing later is acknowledged (as PostgreSQL does).
 */
function logStore(dir: string): DurableStore {
  mkdirSync(dir, { recursive: true })
  const fd = openSync(join(dir, 'log'), 'wx+')
  // The new file's name must be durable too.
  fsyncDirSync(dir)
  const index = new Map<string, { at: number; length: number }>()
  /** Bytes of records written and synced; zero-filled and synced bytes of the file. */
  let end = 0
  let allocated = 0
  let extending: Promise<void> | undefined
  let failed: Error | undefined
  let scheduled = false
  let waiting: { path: string; body: Buffer; resolve: () => void; reject: (err: unknown) => void }[] = []

  const fail = (err: unknown): void => {
    failed ??= err instanceof Error ? err : new Error(String(err))
    const writes = waiting
    waiting = []
    for (const w of writes) w.reject(failed)
  }

  /** Zero-fill and sync the next extent off the main thread; records are never written past `allocated`, so never into it. */
  const extend = (): Promise<void> => {
    extending ??= (async () => {
      const from = allocated
      const zeros = Buffer.alloc(1024 * 1024)
      for (let at = 0; at < LOG_EXTENT_BYTES; at += zeros.length) await writeAt(fd, zeros, 0, zeros.length, from + at)
      await fsyncFd(fd)
      allocated = from + LOG_EXTENT_BYTES
    })().finally(() => {
      extending = undefined
    })
    return extending
  }

  const schedule = (): void => {
    if (scheduled || failed) return
    scheduled = true
    setImmediate(commit)
  }

  const commit = (): void => {
    scheduled = false
    if (failed || waiting.length === 0) return
    const buffers: Buffer[] = []
    const placed: { write: (typeof waiting)[number]; at: number; length: number }[] = []
    let at = end
    for (const w of waiting) {
      const key = Buffer.from(w.path)
      const head = Buffer.allocUnsafe(LOG_RECORD_HEAD)
      head.writeUInt32BE(key.length, 0)
      head.writeUInt32BE(w.body.length, 4)
      head.writeUInt32BE(crc32(w.body, crc32(key)), 8)
      buffers.push(head, key, w.body)
      placed.push({ write: w, at: at + LOG_RECORD_HEAD + key.length, length: w.body.length })
      at += LOG_RECORD_HEAD + key.length + w.body.length
    }
    if (at > allocated) {
      // The group waits (in `waiting`, joined by later writes) for the extent under way.
      extend().then(schedule, fail)
      return
    }
    const writes = waiting
    waiting = []
    try {
      const written = writevSync(fd, buffers, end)
      if (written !== at - end) throw new Error(`short write to the log: ${written} of ${at - end} bytes`)
      fdatasyncSync(fd)
    } catch (err) {
      waiting = writes
      fail(err)
      return
    }
    end = at
    for (const p of placed) {
      index.set(p.write.path, { at: p.at, length: p.length })
      p.write.resolve()
    }
    if (allocated - end < LOG_EXTENT_BYTES / 2) extend().catch(fail)
  }

  extend().catch(fail)
  return {
    put: (path, body) =>
      new Promise<void>((resolve, reject) => {
        if (failed) return reject(failed)
        waiting.push({ path, body, resolve, reject })
        schedule()
      }),
    get: (path) => {
      const place = index.get(path)
      if (!place) return undefined
      const out = Buffer.allocUnsafe(place.length)
      readSync(fd, out, 0, place.length, place.at)
      return out
    },
  }
}
