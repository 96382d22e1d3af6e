/** The tables of a node's store in its LMDB environment, each journaled, and what each holds. */
import type { LmdbEnv } from './engine/lmdb-env.js'
import type { JournaledTable } from './engine/journaled-table.js'
import type { HintStats } from './object-store.js'
import type { StoredRecord } from './records.js'
import type { IndexKey, LoggedKey } from './segment-index.js'

export interface StoreTables {
  /** Own data: (bucket, key) -> the versions held and what this node issued for the key. */
  objects: JournaledTable<StoredRecord, [string, string]>
  /** Hints: (target, bucket, key) -> the versions held for `target`. */
  hints: JournaledTable<StoredRecord, [string, string, string]>
  /** Inline bytes not embedded in their record (see records.ts, inlineKey). */
  inline: JournaledTable<Buffer, string>
  /** This node's actor, its count of key incarnations, the layout, the hint total, the index state. */
  meta: JournaledTable<string | number, string>
  /** Keys whose every held version is a tombstone -> when the newest of them was written (reaping candidates). */
  tombstones: JournaledTable<number, [string, string]>
  /** Hinted versions and bytes per target. */
  hintStats: JournaledTable<HintStats, string>
  /** Own keys by anti-entropy segment, and the log of keys changed since (see segment-index.ts). */
  segments: JournaledTable<string, IndexKey>
  segmentLog: JournaledTable<LoggedKey[], number>
}

export function openTables(env: LmdbEnv): StoreTables {
  return {
    objects: env.table('objects'),
    hints: env.table('hints'),
    inline: env.table('inline', { encoding: 'binary' }),
    meta: env.table('meta'),
    tombstones: env.table('tombstones'),
    hintStats: env.table('hint-stats'),
    segments: env.table('segments'),
    segmentLog: env.table('segment-log'),
  }
}
