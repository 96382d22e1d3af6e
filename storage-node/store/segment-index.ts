/**
 * The anti-entropy index of a node's own data: keys grouped into 256 segments by the top byte of
 * their ring position, each with the ids of the versions held, so comparing a segment with a peer
 * reads one key range instead of the whole store.
 *
 * The index is derived data, and it is kept off the write path (as Riak's AAE hash trees are): a
 * write's transaction records the key's new ids in memory, and they reach the index table later,
 * every few seconds, in key order, a slice per group commit (see flushKeys). Written with every
 * write's transaction, the index dirtied, wrote and synced a leaf page of a second B-tree per write
 * (docs/decisions/0013-anti-entropy-index-off-the-write.md); flushed in key order, one page takes the
 * changes of many writes. Readers of a segment see the table merged with what is not yet flushed.
 *
 * What is not yet flushed would be lost with a crash, so each group commit that changes the index
 * also appends one row to a log table, naming the keys it changed (`seal`, in the group's own
 * transaction and journal record). The log is keyed by a sequence number: its appends fill one
 * last page, where writing the index's own rows would dirty a page per key. A row is deleted by
 * the flush that writes the last of its keys. After a crash (the journal has brought the records
 * and the log back to the last acknowledged write), `catchUp` rewrites the index rows of the logged
 * keys from their records: work in proportion to the writes not yet flushed, not to the store.
 */
import { objectPosition } from '../../shared/ring/hash.js'
import { versionId } from '../../shared/vclock/versions.js'
import type { Version } from '../../shared/wire/internal-api.js'
import type { JournaledTable } from './engine/journaled-table.js'

export const SEGMENTS = 256

export function segmentOf(bucket: string, key: string): number {
  return objectPosition(bucket, key) >>> 24
}

export interface SegmentEntry {
  bucket: string
  key: string
  /** Ids of the versions held, sorted, joined by spaces. */
  ids: string
}

/** A row of the index table: segment, bucket, key. */
export type IndexKey = [number, string, string]
/** A key whose index row may be behind its record: [bucket, key]. */
export type LoggedKey = [string, string]
/** A key's ids as they now are (null: the key is gone), and the log rows that name it (once per change). */
type Change = { at: IndexKey; ids: string | null; seqs: number[] }

const changeKey = (at: IndexKey): string => `${at[0]}\u0000${at[1]}\u0000${at[2]}`

/**
 * Strings in the order of their UTF-8 bytes, which is LMDB's order of the table's keys (and code
 * point order). Plain `<` compares UTF-16 code units, which puts a character above U+FFFF (a
 * surrogate pair) before one in U+E000-U+FFFF: a merged listing would then hash in another order
 * than the table's, and two replicas holding the same keys would report different digests.
 */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x === y) continue
    const surrogateX = x >= 0xd800 && x <= 0xdfff
    const surrogateY = y >= 0xd800 && y <= 0xdfff
    if (surrogateX !== surrogateY) return surrogateX ? 1 : -1
    return x - y
  }
  return a.length - b.length
}

/** The ids of the versions held, sorted, joined by spaces (null: none, the key is gone). */
export function idsOf(versions: readonly Pick<Version, 'dot'>[]): string | null {
  return versions.length === 0
    ? null
    : versions
        .map((v) => versionId(v.dot))
        .sort()
        .join(' ')
}

function compareAt(a: IndexKey, b: IndexKey): number {
  if (a[0] !== b[0]) return a[0] - b[0]
  return compareUtf8(a[1], b[1]) || compareUtf8(a[2], b[2])
}

export class SegmentIndex {
  /** Changes made by the transaction now running (they count once it has committed). */
  private staged: Change[] = []
  /** Committed changes not yet in the table, by segment, then by key. */
  private readonly pending = new Map<number, Map<string, Change>>()
  /** Changes written by the transaction now running (back to pending if it fails). */
  private flushing: Change[] = []
  /** Key of the next log row; the keys the running transaction changed, for it. */
  private nextSeq = 0
  private sealed: LoggedKey[] = []
  /** Log rows written since the store opened -> changes naming them not yet flushed (a row goes when this reaches 0). */
  private readonly rowRefs = new Map<number, number>()

  constructor(
    private readonly db: JournaledTable<string, IndexKey>,
    private readonly log: JournaledTable<LoggedKey[], number>,
  ) {
    for (const last of log.getKeys({ reverse: true, limit: 1 })) this.nextSeq = last + 1
  }

  /** Inside a write transaction: the key now holds `versions` (none: it is gone). Call `seal` before the transaction ends (a group commit does). */
  record(bucket: string, key: string, versions: readonly Pick<Version, 'dot'>[]): void {
    this.sealed.push([bucket, key])
    this.staged.push({ at: [segmentOf(bucket, key), bucket, key], ids: idsOf(versions), seqs: [this.nextSeq] })
  }

  /** Inside a write transaction, after its last `record`: log the keys it changed, in one row. */
  seal(): void {
    if (this.sealed.length === 0) return
    this.log.put(this.nextSeq++, this.sealed)
    this.sealed = []
  }

  /** `c` is pending now: count it against the log rows that name it. */
  private hold(c: Change): void {
    for (const seq of c.seqs) this.rowRefs.set(seq, (this.rowRefs.get(seq) ?? 0) + 1)
  }

  /** Drop `seq`'s reference from a change leaving the pending set; inside a transaction, delete the row with its last. */
  private release(seq: number): void {
    const held = this.rowRefs.get(seq)
    // Not counted (never expected): keep the row. A row too many costs the next open's catch-up a
    // few reads; a row deleted too early would leave a stale index row after a crash.
    if (held === undefined) return
    const left = held - 1
    if (left > 0) {
      this.rowRefs.set(seq, left)
      return
    }
    this.rowRefs.delete(seq)
    this.log.remove(seq)
  }

  /** Make `c` the pending change of its key; `unlessNewer`: keep a change already pending (it is newer). Either way the log rows of both stay with it. */
  private makePending(c: Change, unlessNewer = false): void {
    let bySegment = this.pending.get(c.at[0])
    if (!bySegment) {
      bySegment = new Map()
      this.pending.set(c.at[0], bySegment)
    }
    const k = changeKey(c.at)
    const held = bySegment.get(k)
    if (!held) {
      bySegment.set(k, c)
      return
    }
    // Appended in place, not copied: a key written in every group until the next flush names thousands of rows.
    held.seqs.push(...c.seqs)
    if (!unlessNewer) bySegment.set(k, { ...c, seqs: held.seqs })
  }

  /** The write transaction committed: what it recorded counts, what it flushed is in the table. */
  committed(): void {
    for (const c of this.staged) {
      this.hold(c)
      this.makePending(c)
    }
    this.staged = []
    this.sealed = []
    this.flushing = []
  }

  /** The write transaction failed: nothing it recorded happened, and what it flushed is still pending (its rows too). */
  aborted(): void {
    this.staged = []
    this.sealed = []
    // A change committed since is newer than the one that failed to reach the table.
    for (const c of this.flushing) {
      this.hold(c)
      this.makePending(c, true)
    }
    this.flushing = []
  }

  /** Committed changes not yet in the table. */
  get unflushed(): number {
    let n = 0
    for (const bySegment of this.pending.values()) n += bySegment.size
    return n
  }

  /** The keys with changes not yet in the table, in the table's order (a flush writes them in slices). */
  pendingKeys(): IndexKey[] {
    const out: IndexKey[] = []
    for (const s of [...this.pending.keys()].sort((a, b) => a - b)) {
      const bySegment = this.pending.get(s) as Map<string, Change>
      out.push(...[...bySegment.values()].map((c) => c.at).sort(compareAt))
    }
    return out
  }

  /**
   * Inside a write transaction: write the pending changes of these keys (those still pending) to
   * the table, and delete their log rows. Neighbouring keys share leaf pages, so a slice of keys in
   * order dirties few. Returns how many it wrote.
   */
  flushKeys(keys: readonly IndexKey[]): number {
    let written = 0
    for (const at of keys) {
      const bySegment = this.pending.get(at[0])
      const k = changeKey(at)
      const c = bySegment?.get(k)
      if (!bySegment || !c) continue
      if (c.ids === null) this.db.remove(c.at)
      else this.db.put(c.at, c.ids)
      for (const seq of c.seqs) this.release(seq)
      bySegment.delete(k)
      if (bySegment.size === 0) this.pending.delete(at[0])
      this.flushing.push(c)
      written++
    }
    return written
  }

  /** Inside a write transaction: write up to `max` pending changes to the table, the lowest keys first. */
  flushSlice(max: number): number {
    const keys = this.pendingKeys()
    return this.flushKeys(Number.isFinite(max) ? keys.slice(0, max) : keys)
  }

  /**
   * Inside a write transaction, before any write (a store opening): rewrite the index row of every
   * key the log names from the versions its record now holds (`versionsOf`), then empty the log.
   * Returns how many keys it rewrote.
   */
  catchUp(versionsOf: (bucket: string, key: string) => readonly Pick<Version, 'dot'>[]): number {
    // Sequence numbers restart below: a change still pending would name rows that get reused.
    if (this.staged.length > 0 || this.pending.size > 0 || this.sealed.length > 0) throw new Error('catchUp runs before any change is recorded')
    const logged = new Map<string, LoggedKey>()
    for (const { value } of this.log.getRange({})) for (const k of value) logged.set(`${k[0]}\u0000${k[1]}`, k)
    for (const [bucket, key] of logged.values()) {
      const at: IndexKey = [segmentOf(bucket, key), bucket, key]
      const ids = idsOf(versionsOf(bucket, key))
      if (ids === null) this.db.remove(at)
      else this.db.put(at, ids)
    }
    this.emptyLog()
    return logged.size
  }

  /** Inside a write transaction: empty the table and the log, and index every record given (pending changes are dropped: the records are newer). */
  rebuild(records: Iterable<{ bucket: string; key: string; versions: readonly Pick<Version, 'dot'>[] }>): number {
    this.db.clear()
    this.emptyLog()
    this.pending.clear()
    let n = 0
    for (const r of records) {
      const ids = idsOf(r.versions)
      if (ids === null) continue
      this.db.put([segmentOf(r.bucket, r.key), r.bucket, r.key], ids)
      n++
    }
    return n
  }

  /** The keys of one segment, in key order: the table merged with the changes not yet flushed. */
  *entries(segment: number): Generator<SegmentEntry> {
    const table = this.db.getRange({ start: [segment, '', ''], end: [segment + 1, '', ''] })
    const bySegment = this.pending.get(segment)
    if (!bySegment) {
      for (const { key, value } of table) yield { bucket: key[1], key: key[2], ids: value }
      return
    }
    const merged = new Map<string, { at: IndexKey; ids: string | null }>()
    for (const { key, value } of table) merged.set(changeKey(key), { at: key, ids: value })
    for (const [k, c] of bySegment) merged.set(k, c)
    const live = [...merged.values()].filter((c): c is { at: IndexKey; ids: string } => c.ids !== null)
    for (const c of live.sort((a, b) => compareAt(a.at, b.at))) yield { bucket: c.at[1], key: c.at[2], ids: c.ids }
  }

  isEmpty(): boolean {
    for (const _ of this.db.getKeys({ limit: 1 })) return false
    return true
  }

  /** Empty the log; its sequence numbers start again. */
  private emptyLog(): void {
    this.log.clear()
    this.nextSeq = 0
    this.rowRefs.clear()
  }

  /** Rows in the log: group commits with changes not all flushed yet. */
  get logged(): number {
    return this.log.getKeysCount()
  }
}
