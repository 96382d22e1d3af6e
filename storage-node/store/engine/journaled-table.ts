/**
 * A table of the store whose writes are journaled: what every module of the store reads and writes
 * through, so no write can reach LMDB without reaching the group's journal record too.
 */
import type { Database, Key, RangeOptions } from 'lmdb'
import type { JournalWrite } from './journal.js'

/** What a table asks of the group commit it belongs to (GroupCommit implements it). */
export interface TableWriteGate {
  /** Throws unless a write may happen now: inside a group, or outside one while no transaction is held open. */
  checkWritable(table: string): void
  /** Inside a group: record one table write in its journal record. */
  note(write: JournalWrite): void
  readonly holdsTransaction: boolean
}

/**
 * A table whose writes are journaled: reads go straight to LMDB (through the open transaction),
 * writes go to LMDB and to the record of the group running them. Written outside a group only
 * while no transaction is held open (when a store opens or closes), synchronously.
 */
export class JournaledTable<V, K extends Key = Key> {
  constructor(
    readonly name: string,
    readonly db: Database<V, K>,
    private readonly gate: TableWriteGate,
  ) {}

  get(key: K): V | undefined {
    return this.db.get(key)
  }

  getRange(options?: RangeOptions): ReturnType<Database<V, K>['getRange']> {
    return this.db.getRange(options)
  }

  getKeys(options?: RangeOptions): ReturnType<Database<V, K>['getKeys']> {
    return this.db.getKeys(options)
  }

  getKeysCount(options?: RangeOptions): number {
    return this.db.getKeysCount(options)
  }

  // Written to LMDB first: a write LMDB refuses (a bad key) must not reach the journal.
  put(key: K, value: V): void {
    this.gate.checkWritable(this.name)
    this.db.putSync(key, value)
    this.gate.note([this.name, key, value])
  }

  remove(key: K): void {
    this.gate.checkWritable(this.name)
    this.db.removeSync(key)
    this.gate.note([this.name, key])
  }

  /** Empty the table (only outside groups: when a store opens). */
  clear(): void {
    if (this.gate.holdsTransaction) throw new Error(`table ${this.name} cleared while a transaction is held open`)
    this.db.clearSync()
  }
}

/** Apply journal records to their tables' LMDB databases, in order (inside a transaction); returns how many writes. */
export function applyRecords(tables: ReadonlyMap<string, JournaledTable<unknown>>, records: readonly JournalWrite[][]): number {
  let writes = 0
  for (const record of records) {
    for (const w of record) {
      const table = tables.get(w[0])
      if (!table) throw new Error(`the journal names table ${w[0]}, which this store does not have`)
      if (w.length === 3) table.db.putSync(w[1] as Key, w[2])
      else table.db.removeSync(w[1] as Key)
      writes++
    }
  }
  return writes
}
