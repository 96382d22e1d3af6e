/**
 * The LMDB environment of a node's store: opened, its writes group-committed through the journal
 * (group-commit.ts), recovered from the journal after a crash, and closed. The store's modules only
 * see the journaled tables it hands out.
 */
import { type Key, open, type RootDatabase } from 'lmdb'
import type { Logger } from '../../../shared/log.js'
import type { Durability } from '../blobs/blob-files.js'
import { GroupCommit } from './group-commit.js'
import type { JournaledTable } from './journaled-table.js'

export interface LmdbEnvInit {
  dataDir: string
  /** 'fsync' (default): acknowledge after the write's journal record is on disk. 'none': after it is written to the OS (a crash may lose it). */
  durability?: Durability | undefined
  /** The journal or a checkpoint failed: the store refuses every write from now on (the node should exit; its next start recovers). */
  onFailure?: ((err: Error) => void) | undefined
  /** Time between checkpoints (default CHECKPOINT_MS of group-commit.ts). */
  checkpointMs?: number | undefined
  log?: Logger | undefined
}

export class LmdbEnv {
  readonly root: RootDatabase
  readonly group: GroupCommit

  constructor(private readonly init: LmdbEnvInit) {
    // noSync for `--durability none`: with lmdb-js's default overlappingSync a commit flagged not
    // to flush still syncs before it returns (the flag only moves the sync out of the write lock).
    const durable = init.durability !== 'none'
    // maxDbs: the store's named tables (nine, with the journal's state) and room for more; lmdb-js's
    // default of 12 would make a thirteenth table fail at open (MDB_DBS_FULL). Not stored on disk.
    this.root = open({ path: `${init.dataDir}/meta`, compression: false, maxDbs: 32, ...(durable ? {} : { noSync: true }) })
    const failed = (err: Error) => {
      init.log?.error({ err: err.message }, 'the store failed: writes are refused until the node restarts and recovers from its journal')
      init.onFailure?.(err)
    }
    try {
      this.group = new GroupCommit(this.root, {
        journalPath: `${init.dataDir}/meta/journal`,
        sync: durable,
        onFailure: failed,
        onSpaceShort: (err) => {
          if (err) init.log?.error({ err: err.message }, 'checkpoint failed: the disk is full; the store keeps serving from its journal, retries, and refuses writes once the journal is at its bound')
          else init.log?.info('checkpoint succeeded again: space came back')
        },
        ...(init.checkpointMs === undefined ? {} : { checkpointMs: init.checkpointMs }),
      })
    } catch (err) {
      void this.root.close()
      throw err
    }
  }

  /** The journaled table over LMDB's database `name` (every table, before `recover`). */
  table<V, K extends Key>(name: string, options: { encoding?: 'binary' } = {}): JournaledTable<V, K> {
    return this.group.table(name, this.root.openDB<V, K>({ name, ...options }))
  }

  /**
   * Apply the journal's records written after the last checkpoint, then `check` what is stored
   * (e.g. its layout); if either throws, the environment is closed and the error thrown.
   */
  recover(check: () => void): void {
    try {
      const replayed = this.group.recover()
      if (replayed > 0) this.init.log?.info({ writes: replayed }, 'journal replayed: writes acknowledged after the last checkpoint are back in the store')
      check()
    } catch (err) {
      void this.group.close().finally(() => this.root.close())
      throw err
    }
  }

  /** Whether LMDB syncs every commit to disk before it returns: false only under `--durability none`. */
  get syncsCommits(): boolean {
    return (this.root as { noSync?: boolean }).noSync !== true
  }

  /** Close the environment, once the group commit is closed (after a failure without waiting for LMDB's last flush). */
  async close(): Promise<void> {
    if (!this.group.failed) await this.root.flushed
    await this.root.close()
  }
}
