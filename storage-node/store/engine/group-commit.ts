/**
 * Group commit of the node's writes, made durable by a write-ahead journal (journal.ts) and
 * checkpointed into LMDB.
 *
 * Every read-modify-write asked for during one turn of the event loop runs, in order, at the end of
 * that turn, inside the LMDB write transaction that stays open on the main thread between
 * checkpoints; the table writes they make are gathered and appended to the journal as one record
 * (one `writev`, one `fdatasync`) before any of them resolves. Reads on the main thread go through
 * the same open transaction, so they see every write as soon as its group has run. Ten times a
 * second (or once the journal holds `checkpointBytes`), the transaction is committed and synced,
 * and the journal starts a new generation: LMDB writes and syncs its pages once per checkpoint, not
 * once per group.
 *
 * Each callback is atomic as with lmdb-js's transaction callbacks: callbacks run one after another,
 * see the writes of those before them, and make every check that can throw before their first
 * write (what a callback wrote before it threw is kept, in LMDB and in the journal alike).
 *
 * Why this shape: committing LMDB once per group cost two device flushes per group, and syncing on
 * another thread cost more in hand-offs than it saved, while a journal append is one sequential
 * write and one flush of data blocks (docs/decisions/0002-write-ahead-journal.md); a group is one
 * event-loop turn, not a timed window (docs/decisions/0015-group-commit-per-event-loop-turn.md).
 *
 * After a crash, `recover` applies the records of the journal's current generation, in order, to
 * LMDB's last checkpoint, and commits them with the next generation number in one synced
 * transaction. A failed journal write or checkpoint fails the store for good (see Journal): every
 * write waiting or asked for later is refused, and `onFailure` is told (the node exits; its next
 * start recovers).
 *
 * Except a checkpoint that fails for want of space (the disk filled past the node's reserve, e.g.
 * by another tenant): LMDB rolls the transaction back and stays whole at its last checkpoint, and
 * the journal holds every write since, so a new transaction is held with those records applied
 * again, exactly the state that was lost. Checkpoints are then retried every CHECKPOINT_RETRY_MS;
 * meanwhile groups still append to the journal (inside its zero-filled extent, which needs no new
 * space) until it holds `checkpointBytes`, and past that new work is refused with
 * InsufficientStorageError (507) until a checkpoint succeeds. The node never stops for a full disk.
 */
import type { Database, Key, RootDatabase } from 'lmdb'
import { InsufficientStorageError } from '../../../shared/errors.js'
import type { CommitStats } from '../../../shared/wire/internal-api.js'
import { isOutOfSpace } from '../out-of-space.js'
import { Journal, type JournalWrite } from './journal.js'
import { applyRecords, JournaledTable, type TableWriteGate } from './journaled-table.js'

/** lmdb-js TransactionFlags (a const enum in its types): abortable, committed (and synced, unless the environment was opened `noSync`) before returning. */
const ABORTABLE_SYNCHRONOUS = 1 | 2

/**
 * A checkpoint is taken this long after the transaction opened, or once the journal holds this
 * many bytes. Its flush holds up every node's journal flushes on a shared disk, so smaller ones cut
 * the tail (docs/decisions/0002-write-ahead-journal.md).
 */
export const CHECKPOINT_MS = 100
export const CHECKPOINT_BYTES = 8 * 1024 * 1024
/** After a checkpoint failed for want of space, the next is tried this long after (each retry reads the journal back). */
export const CHECKPOINT_RETRY_MS = 1000

/** Told the outcome of every group (e.g. to keep derived state in step with it). */
export interface CommitListener {
  /** Inside the group, after its callbacks ran and before its journal record is written: the group's last writes (a throw fails the store). */
  seal?(): void
  committed(): void
  aborted(): void
}

export class StoreFailedError extends Error {}

export interface GroupCommitOptions {
  /** The journal file (created when missing). */
  journalPath: string
  /** fdatasync each group's record ('none': the OS writes it back; open the root `noSync` too). */
  sync: boolean
  checkpointMs?: number
  checkpointBytes?: number
  /** Size the journal file is zero-filled to (see Journal). */
  journalExtentBytes?: number
  /** A journal write or a checkpoint failed: the store refuses every write from now on. */
  onFailure?: (err: Error) => void
  /** A checkpoint failed for want of space (`err`), or succeeded again after such failures (undefined). */
  onSpaceShort?: (err: Error | undefined) => void
}

interface Queued {
  fn: () => unknown
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
}

/** The hooks lmdb-js hands the thenable returned by a transactionSync callback: calling one ends the transaction (commit, or abort and rethrow). */
interface OpenTransaction {
  commit: (result: unknown) => unknown
  abort: (err: unknown) => unknown
}

/** Group commits that may hold a transaction, for the exit hook (see abortHeld): one hook for all of them. */
const liveGroups = new Set<GroupCommit>()
let exitHookInstalled = false

export class GroupCommit implements TableWriteGate {
  private queue: Queued[] = []
  private scheduled = false
  private closing: Promise<void> | undefined
  private drained: (() => void) | undefined
  private txn: OpenTransaction | undefined
  private checkpointWanted = false
  private checkpointTimer: NodeJS.Timeout | undefined
  /** The writes of the group now running; undefined outside a group. */
  private recording: JournalWrite[] | undefined
  private failure: Error | undefined
  /** Set while checkpoints fail for want of space: when the next may be tried (performance.now()). */
  private retryCheckpointAt: number | undefined
  private readonly tables = new Map<string, JournaledTable<unknown>>()
  /** Told of every group's outcome. */
  listener: CommitListener | undefined
  /** Told how long each group's journal append took (write and, when durable, fdatasync), in ms: GET /metrics's histogram. */
  onAppend: ((ms: number) => void) | undefined
  readonly stats: CommitStats = { groups: 0, writes: 0, journalBytes: 0, checkpoints: 0, checkpointMsTotal: 0, checkpointMsMax: 0, appendMsTotal: 0, appendMsMax: 0 }
  private readonly state: Database<number, string>
  private readonly journal: Journal
  private recovered = false

  constructor(
    private readonly root: RootDatabase,
    private readonly options: GroupCommitOptions,
  ) {
    this.state = root.openDB<number, string>({ name: 'journal' })
    this.journal = new Journal(options.journalPath, { sync: options.sync, ...(options.journalExtentBytes === undefined ? {} : { extentBytes: options.journalExtentBytes }) })
  }

  /** The journaled table `name` over `db` (each name once; every table a group writes must be one, before `recover`). */
  table<V, K extends Key>(name: string, db: Database<V, K>): JournaledTable<V, K> {
    if (this.tables.has(name)) throw new Error(`table ${name} is journaled already`)
    const t = new JournaledTable<V, K>(name, db, this)
    this.tables.set(name, t as unknown as JournaledTable<unknown>)
    return t
  }

  get holdsTransaction(): boolean {
    return this.txn !== undefined
  }

  /**
   * Apply the journal's records written since the last checkpoint (a crash), then start the next
   * generation: in one synced transaction, before any group runs. Returns how many writes it applied.
   */
  recover(): number {
    if (this.recovered) throw new Error('the journal was recovered already')
    const generation = this.state.get('generation') ?? 0
    const records = this.journal.read(generation)
    // Every generation writes from the start of the file, so the first record is of the newest one
    // written. Past both, a generation number is never used twice, even if LMDB came back older
    // than the journal (a data.mdb restored from a backup, or `--durability none` after a power
    // loss): stale records of a reused number could otherwise pass for new ones.
    const next = Math.max(generation, this.journal.firstGeneration() ?? 0) + 1
    let writes = 0
    this.root.transactionSync(() => {
      writes = applyRecords(this.tables, records)
      this.state.putSync('generation', next)
    }, ABORTABLE_SYNCHRONOUS)
    this.journal.restart(next)
    this.recovered = true
    liveGroups.add(this)
    if (!exitHookInstalled) {
      exitHookInstalled = true
      process.prependListener('exit', () => {
        for (const g of liveGroups) g.abortHeld()
      })
    }
    return writes
  }

  /**
   * At process exit with the transaction held (an uncaught exception, process.exit, a script that
   * never closed the store): abort it first, before lmdb-js's own exit hook closes the environment,
   * which waits for the write lock the held transaction owns and would hang the exit for good. Its
   * writes are in the journal.
   */
  abortHeld(): void {
    const txn = this.txn
    this.txn = undefined
    if (!txn) return
    try {
      txn.abort(new Error('process exit'))
    } catch {
      // lmdb-js rethrows the reason after aborting.
    }
  }

  /** Whether the store failed (see onFailure): nothing of it may be trusted to be on disk beyond the journal. */
  get failed(): boolean {
    return this.failure !== undefined
  }

  /** A table may be written inside a group, or outside one while no transaction is held open (it then commits on its own). */
  checkWritable(table: string): void {
    if (!this.recording && this.txn) throw new Error(`table ${table} written outside a group while a transaction is held open: the write would not be journaled`)
  }

  /** Inside a group: record one table write in its journal record. */
  note(write: JournalWrite): void {
    this.recording?.push(write)
  }

  /** Run `fn` in the next group; resolves with its result once the group's record is on disk. */
  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.failure) return reject(new StoreFailedError(`the store failed: ${this.failure.message}`))
      if (this.closing) return reject(new Error('the store is closed'))
      // The journal's extent is what keeps appends possible on a full disk: not past checkpointBytes.
      if (this.retryCheckpointAt !== undefined && this.journal.bytes >= (this.options.checkpointBytes ?? CHECKPOINT_BYTES)) {
        return reject(new InsufficientStorageError('the disk is full: this node takes no writes until space comes back'))
      }
      // Before recovery the journal would write over records not yet applied.
      if (!this.recovered) return reject(new Error('the journal is not recovered yet'))
      this.queue.push({ fn, resolve: resolve as (value: unknown) => void, reject })
      this.schedule()
    })
  }

  /** Refuse new work; once the groups asked for have run, checkpoint and close the journal. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.scheduled || this.queue.length > 0) await new Promise<void>((done) => (this.drained = done))
      clearTimeout(this.checkpointTimer)
      if (!this.failure) this.checkpoint(true)
      this.abortHeld()
      liveGroups.delete(this)
      this.journal.close()
    })()
    return this.closing
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => this.turn())
  }

  private turn(): void {
    this.scheduled = false
    if (!this.failure) {
      if (this.checkpointWanted) this.checkpoint()
      if (this.queue.length > 0 && !this.failure) this.commitGroup()
    }
    if (this.queue.length > 0 && !this.failure) this.schedule()
    else if (!this.scheduled) this.drained?.()
  }

  private commitGroup(): void {
    const group = this.queue
    this.queue = []
    try {
      this.openTransaction()
    } catch (err) {
      this.fail(err, group)
      return
    }
    const writes: JournalWrite[] = []
    this.recording = writes
    const outcomes: ({ ok: true; value: unknown } | { ok: false; err: unknown })[] = []
    for (const q of group) {
      try {
        const value = q.fn()
        // Writes after an await would land outside the group.
        if (value instanceof Promise) throw new Error('a group commit callback must be synchronous')
        outcomes.push({ ok: true, value })
      } catch (err) {
        outcomes.push({ ok: false, err })
      }
    }
    try {
      this.listener?.seal?.()
    } catch (err) {
      this.fail(err, group)
      return
    } finally {
      this.recording = undefined
    }
    try {
      if (writes.length > 0) {
        const t0 = performance.now()
        this.stats.journalBytes += this.journal.append(writes)
        const ms = performance.now() - t0
        this.stats.appendMsTotal += ms
        this.stats.appendMsMax = Math.max(this.stats.appendMsMax, ms)
        this.onAppend?.(ms)
      }
    } catch (err) {
      this.fail(err, group)
      return
    }
    this.stats.groups++
    this.stats.writes += writes.length
    this.listener?.committed()
    group.forEach((q, i) => {
      const o = outcomes[i] as (typeof outcomes)[number]
      if (o.ok) q.resolve(o.value)
      else q.reject(o.err)
    })
    if (this.journal.bytes >= (this.options.checkpointBytes ?? CHECKPOINT_BYTES)) this.wantCheckpoint()
  }

  private wantCheckpoint(): void {
    this.checkpointWanted = true
    this.schedule()
  }

  /**
   * Hold a write transaction open until the next checkpoint: the callback's result is a thenable
   * whose `then` hands us lmdb-js's commit and abort (lmdb-js calls it at once, see `when` in its
   * util), so the checkpoint ends the transaction synchronously, on our turn.
   */
  private openTransaction(): void {
    if (this.txn) return
    let hooks: OpenTransaction | undefined
    const pending = {
      // biome-ignore lint/suspicious/noThenProperty: lmdb-js recognises an ongoing transaction by a thenable
      then: (commit: (result: unknown) => unknown, abort: (err: unknown) => unknown) => {
        hooks = { commit, abort }
      },
    }
    this.root.transactionSync(() => pending, ABORTABLE_SYNCHRONOUS)
    if (!hooks) throw new Error('lmdb-js did not take the open transaction')
    this.txn = hooks
    this.checkpointTimer = setTimeout(() => this.wantCheckpoint(), this.options.checkpointMs ?? CHECKPOINT_MS)
    this.checkpointTimer.unref()
  }

  /** Commit (and sync) the open transaction; the journal's records up to here are then retired. `force`: even while retries for space wait (at close). */
  private checkpoint(force = false): void {
    this.checkpointWanted = false
    clearTimeout(this.checkpointTimer)
    const txn = this.txn
    if (!txn) return
    const wait = (this.retryCheckpointAt ?? 0) - performance.now()
    if (wait > 0 && !force) {
      this.checkpointTimer = setTimeout(() => this.wantCheckpoint(), wait)
      this.checkpointTimer.unref()
      return
    }
    const generation = this.journal.generation + 1
    const t0 = performance.now()
    try {
      this.state.putSync('generation', generation)
    } catch (err) {
      this.fail(err, []) // aborts the held transaction
      return
    }
    this.txn = undefined
    try {
      // lmdb-js defers the commit (a thenable) only while a child transaction is open: never here.
      const done = txn.commit(undefined)
      if (typeof (done as { then?: unknown } | undefined)?.then === 'function') throw new Error('lmdb-js deferred the checkpoint commit')
    } catch (err) {
      if (isOutOfSpace(err)) this.rebuild(err as Error)
      else this.fail(err, [])
      return
    }
    if (this.retryCheckpointAt !== undefined) {
      this.retryCheckpointAt = undefined
      this.options.onSpaceShort?.(undefined)
    }
    this.journal.restart(generation)
    const ms = performance.now() - t0
    this.stats.checkpoints++
    this.stats.checkpointMsTotal += ms
    this.stats.checkpointMsMax = Math.max(this.stats.checkpointMsMax, ms)
  }

  /**
   * After a checkpoint lost to a full disk (LMDB rolled its transaction back to the last
   * checkpoint): hold a new transaction with this generation's journal records applied again, in
   * order, which is the state the lost one held; so reads and later groups see every acknowledged
   * write. The journal keeps its records (they are still this generation's); the checkpoint is
   * tried again after CHECKPOINT_RETRY_MS.
   */
  private rebuild(err: Error): void {
    try {
      this.openTransaction()
      applyRecords(this.tables, this.journal.read(this.journal.generation))
    } catch (again) {
      this.fail(again, [])
      return
    }
    const first = this.retryCheckpointAt === undefined
    this.retryCheckpointAt = performance.now() + CHECKPOINT_RETRY_MS
    if (first) this.options.onSpaceShort?.(err)
  }

  private fail(err: unknown, group: readonly Queued[]): void {
    const failure = err instanceof Error ? err : new Error(String(err))
    this.failure ??= failure
    this.listener?.aborted()
    clearTimeout(this.checkpointTimer)
    this.abortHeld()
    const refused = new StoreFailedError(`the store failed: ${failure.message}`)
    for (const q of [...group, ...this.queue]) q.reject(refused)
    this.queue = []
    this.options.onFailure?.(failure)
  }
}
