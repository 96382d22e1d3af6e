/**
 * Keeping the segment index (segment-index.ts) in step with the store: opened with the store (caught
 * up from its log after a crash, or rebuilt from every record when its log cannot be trusted), its
 * pending changes written by a timer, a slice per group commit, and written whole, marked clean, at
 * close. The index is kept off the write path (docs/decisions/0013-anti-entropy-index-off-the-write.md).
 */
import type { Logger } from '../../shared/log.js'
import type { LmdbEnv } from './engine/lmdb-env.js'
import type { IndexKey, SegmentIndex } from './segment-index.js'
import type { StoreTables } from './tables.js'

/**
 * Meta key of the segment index's state: 'logged' while a store has it open (its log names every key
 * whose row may be behind), 'clean' once closed with every change written. Versions before the log
 * wrote 'open', and rebuild an index they find in any state but 'clean'.
 */
const INDEX_STATE = 'segmentIndex'
/** The segment index's pending changes are written once this many have gathered, or this long after the last flush. */
const INDEX_FLUSH_CHANGES = 20_000
const INDEX_FLUSH_MS = 5_000
const INDEX_CHECK_MS = 1_000
/** Changes written per group commit by a flush (a few ms of the event loop). */
const INDEX_SLICE = 512

export interface SegmentIndexUpkeepComponents {
  env: LmdbEnv
  tables: Pick<StoreTables, 'objects' | 'meta'>
  segments: SegmentIndex
  log?: Logger | undefined
}

export class SegmentIndexUpkeep {
  private timer: NodeJS.Timeout | undefined
  private flush: Promise<void> | undefined
  private flushedAt = performance.now()
  private stopped = false

  constructor(private readonly c: SegmentIndexUpkeepComponents) {}

  /**
   * Before the first write: a store that was not closed cleanly catches its index up from the log.
   * An index whose log cannot be trusted (left 'open' by a version before the log) is rebuilt from
   * every record, as is an empty index beside records (a data directory written before the index
   * existed). Then the index is marked 'logged' until close marks it clean, and the timer starts.
   */
  open(): void {
    const { env, tables, segments, log } = this.c
    const state = tables.meta.get(INDEX_STATE)
    // 'logged': this version kept the index, and its log names whatever the table lacks (a store
    // that crashed before its first flush has an empty table beside records). Otherwise an empty
    // table beside records is data written before the index existed.
    const missing = state !== 'logged' && segments.isEmpty() && tables.objects.getKeysCount({ limit: 1 }) > 0
    const t0 = performance.now()
    if ((state === 'clean' || state === 'logged') && !missing) {
      const keys = env.root.transactionSync(() => segments.catchUp((bucket, key) => tables.objects.get([bucket, key])?.versions ?? []))
      if (keys > 0) log?.info({ keys, ms: Math.round(performance.now() - t0) }, 'segment index caught up from its log (the store was not closed cleanly)')
    } else {
      const keys = env.root.transactionSync(() => segments.rebuild(tables.objects.getRange({}).map(({ key, value }) => ({ bucket: key[0], key: key[1], versions: value.versions }))))
      if (keys > 0)
        log?.info({ keys, ms: Math.round(performance.now() - t0) }, missing ? 'segment index built from the records' : 'segment index rebuilt from the records (left by a version without its log)')
    }
    tables.meta.put(INDEX_STATE, 'logged')
  }

  start(): void {
    this.timer = setInterval(() => this.flushIfDue(), INDEX_CHECK_MS)
    this.timer.unref()
  }

  /** Stop the timer (a flush in flight goes on: see `settled`). */
  stop(): void {
    this.stopped = true
    clearInterval(this.timer)
  }

  /** Resolves once a flush in flight has ended (its groups refused once the group commit closed). */
  async settled(): Promise<void> {
    await this.flush
  }

  /**
   * At close, once no group runs (and the store did not fail): every committed change of the index,
   * and the mark that it is complete, in one synced transaction. If that fails the mark stays
   * 'logged': the next open catches the index up from its log.
   */
  writeAll(): void {
    try {
      this.c.env.root.transactionSync(() => {
        this.c.segments.flushSlice(Number.POSITIVE_INFINITY)
        this.c.tables.meta.put(INDEX_STATE, 'clean')
      })
      this.c.segments.committed()
    } catch (err) {
      this.c.segments.aborted()
      this.c.log?.error({ err: String(err) }, 'segment index not written at close; the next start catches it up from its log')
    }
  }

  /**
   * Once enough changes have gathered, or enough time has passed: write the changes pending now
   * (not those that arrive meanwhile: they wait for the next flush), a slice per group commit. One
   * flush runs at a time.
   */
  private flushIfDue(): void {
    const pendingNow = this.c.segments.unflushed
    const due = pendingNow >= INDEX_FLUSH_CHANGES || (pendingNow > 0 && performance.now() - this.flushedAt >= INDEX_FLUSH_MS)
    if (!due || this.flush) return
    // .finally runs after the assignment, whatever the flush does.
    this.flush = this.writePending(this.c.segments.pendingKeys()).finally(() => {
      this.flushedAt = performance.now()
      this.flush = undefined
    })
  }

  private async writePending(keys: readonly IndexKey[]): Promise<void> {
    try {
      for (let i = 0; i < keys.length; i += INDEX_SLICE) {
        const slice = keys.slice(i, i + INDEX_SLICE)
        await this.c.env.group.run(() => this.c.segments.flushKeys(slice))
      }
    } catch (err) {
      // Left pending, for the next flush or the final one at close.
      if (!this.stopped) this.c.log?.warn({ err: String(err) }, 'segment index flush failed')
    }
  }
}
