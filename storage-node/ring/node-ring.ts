/**
 * A node's copy of the ring record: loaded from its data dir, merged with what gossip brings, saved
 * whenever it changes. A node admits itself (a `joining` entry of version 1) the first time it
 * starts and makes itself a member once its ranges' holders have sent them (ownership-transfer.ts);
 * after that only an operator's change (decommission, remove) takes it out.
 */
import type { Logger } from '../../shared/log.js'
import { RingRecord } from '../../shared/ring/ring-record.js'
import type { RingEntry, RingState } from '../../shared/wire/ring.js'
import { loadRingFile, saveRingFile } from './ring-file.js'

export interface NodeRingInit {
  selfId: string
  address: string
  /** Where ring.json lives; undefined keeps the record in memory only (unit tests). */
  dataDir?: string | undefined
  log: Logger
}

export class NodeRing {
  private readonly record: RingRecord
  private transferred: string[] | undefined
  /** Called after every change of the record (merge or local change). */
  onChange: (() => void) | undefined

  constructor(private readonly init: NodeRingInit) {
    const saved = init.dataDir ? loadRingFile(init.dataDir) : undefined
    this.record = new RingRecord(saved?.ring ?? [])
    this.transferred = saved?.transferredFor
    const self = this.record.get(init.selfId)
    if (!self) this.apply(init.selfId, 'joining', init.address)
    else if ((self.state === 'member' || self.state === 'joining') && self.address !== init.address) this.apply(init.selfId, self.state, init.address)
    else if (self.state === 'removed') init.log.warn({ node: init.selfId }, 'this node was removed from the ring: it owns no ranges (a node rejoins under a new id)')
  }

  get selfId(): string {
    return this.init.selfId
  }

  entries(): RingEntry[] {
    return this.record.entries()
  }

  get version(): number {
    return this.record.version
  }

  get(id: string): RingEntry | undefined {
    return this.record.get(id)
  }

  placement(): string[] {
    return this.record.placement()
  }

  owners(): string[] {
    return this.record.owners()
  }

  joining(): string[] {
    return this.record.joining()
  }

  holdsRanges(id: string): boolean {
    return this.record.holdsRanges(id)
  }

  /** Merge gossiped entries; saves and logs a change. */
  merge(entries: readonly RingEntry[]): boolean {
    const before = this.record.placement().join(',')
    if (!this.record.merge(entries)) return false
    const after = this.record.placement().join(',')
    if (before !== after) this.init.log.info({ placement: this.record.placement(), owners: this.record.owners(), version: this.record.version }, 'ring changed')
    this.saved()
    return true
  }

  /** An operator's change of `id`'s entry, applied here first and spread by gossip. */
  apply(id: string, state: RingState, address?: string): RingEntry {
    const known = this.record.get(id)
    const entry = this.record.change(id, state, address ?? known?.address ?? id, this.init.selfId)
    this.init.log.info({ entry }, 'ring entry changed')
    this.saved()
    return entry
  }

  /** Owners the last completed transfer pass was made for (undefined: none yet). */
  get transferredFor(): readonly string[] | undefined {
    return this.transferred
  }

  set transferredFor(owners: readonly string[] | undefined) {
    this.transferred = owners ? [...owners] : undefined
    this.saved()
  }

  private saved(): void {
    if (this.init.dataDir) saveRingFile(this.init.dataDir, this.record.entries(), this.transferred)
    this.onChange?.()
  }
}
