/**
 * Group commit of the node's write transactions. Every read-modify-write asked for during one
 * turn of the event loop runs, in order, inside one synchronous LMDB transaction at the end of
 * that turn, committed (and, when durable, fdatasync'ed) before any of them resolves: one commit
 * and one sync for the whole group. Each callback is atomic as with lmdb-js's asynchronous
 * transaction callbacks: callbacks run one after another, see the writes of those before them, and
 * make every check that can throw before their first write (lmdb-js keeps what a callback wrote
 * before it threw).
 *
 * The commit's sync runs on the main thread: the event loop waits for the disk once per group
 * (two device flushes, data then meta; requests arriving meanwhile join the next group, so the
 * groups grow as the disk slows). lmdb-js's `transaction(callback)` syncs on its own thread instead,
 * but hands off between threads several times per batch: measured here (4 KiB coordinated writes
 * into a store), 0.77 ms of CPU per write with it one write at a time against 0.34 ms, and 0.15
 * against 0.10 ms at 12 concurrent writes; 4 KiB PUTs through the cluster went from ~930 to
 * 1,030-1,120 per second. One lmdb-js asynchronous transaction per group was slower still, and
 * syncing on libuv's pool while the main thread goes on gained nothing (README, "Performance").
 */
import type { RootDatabase } from 'lmdb'

/** lmdb-js TransactionFlags (a const enum in its types): abortable, committed (and synced, unless the environment was opened `noSync`) before returning. */
const ABORTABLE_SYNCHRONOUS = 1 | 2

/** Told the outcome of every group's transaction (e.g. to keep derived state in step with it). */
export interface CommitListener {
  committed(): void
  aborted(): void
}

interface Queued {
  fn: () => unknown
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
}

export class GroupCommit {
  private queue: Queued[] = []
  private scheduled: Promise<void> | undefined
  private closed = false

  /** Each group's commit is synced to disk before it resolves unless `root` was opened `noSync` (then the OS writes it back). */
  constructor(
    private readonly root: RootDatabase,
    private readonly listener?: CommitListener,
  ) {}

  /** Run `fn` inside the next group's transaction; resolves with its result once the group is committed (and synced when durable). */
  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.closed) {
        reject(new Error('the store is closed'))
        return
      }
      this.queue.push({ fn, resolve: resolve as (value: unknown) => void, reject })
      this.scheduled ??= new Promise<void>((done) =>
        setImmediate(() => {
          this.scheduled = undefined
          try {
            this.commit()
          } finally {
            done()
          }
        }),
      )
    })
  }

  /** Refuse new work; resolves once the group already asked for has committed. */
  async close(): Promise<void> {
    this.closed = true
    await this.scheduled
  }

  private commit(): void {
    const group = this.queue
    this.queue = []
    const outcomes: ({ ok: true; value: unknown } | { ok: false; err: unknown })[] = []
    try {
      this.root.transactionSync(() => {
        for (const q of group) {
          try {
            const value = q.fn()
            // Writes after an await would land outside the group's transaction.
            if (value instanceof Promise) throw new Error('a group commit callback must be synchronous')
            outcomes.push({ ok: true, value })
          } catch (err) {
            outcomes.push({ ok: false, err })
          }
        }
      }, ABORTABLE_SYNCHRONOUS)
    } catch (err) {
      // The commit itself failed (a full map, an I/O error): nothing of the group is stored.
      this.listener?.aborted()
      for (const q of group) q.reject(err)
      return
    }
    this.listener?.committed()
    group.forEach((q, i) => {
      const o = outcomes[i] as (typeof outcomes)[number]
      if (o.ok) q.resolve(o.value)
      else q.reject(o.err)
    })
  }
}
