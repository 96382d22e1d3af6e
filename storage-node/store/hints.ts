/**
 * Accounting of the hints a node holds for others (sloppy quorum): versions and bytes per target,
 * and the total, kept in the same LMDB transaction as the hinted versions. Past `maxBytes`, or past
 * `maxVersions` hinted versions, the node refuses to stand in (HintStoreFull), so hints cannot fill
 * its disk: the count bounds what the byte bound does not see, tombstones and empty objects, whose
 * records cost space all the same.
 */
import { HintStoreFullError } from '../../shared/errors.js'
import type { Version } from '../../shared/wire/internal-api.js'
import type { JournaledTable } from './engine/journaled-table.js'
import type { HintStats } from './object-store.js'

export class HintLedger {
  constructor(
    /** Versions and bytes per target. */
    private readonly stats: JournaledTable<HintStats, string>,
    /** Where the running total lives (the store's meta table, key `hintBytes`). */
    private readonly meta: JournaledTable<string | number, string>,
    private readonly maxBytes = Number.POSITIVE_INFINITY,
    private readonly maxVersions = Number.POSITIVE_INFINITY,
  ) {}

  /** Inside a write transaction, before any other write of it (it may throw): versions added to and dropped from `target`'s hints. */
  account(target: string, added: readonly Version[], dropped: readonly Version[]): void {
    const addBytes = added.reduce((a, v) => a + v.size, 0)
    const total = Number(this.meta.get('hintBytes') ?? 0)
    if (addBytes > 0 && total + addBytes > this.maxBytes) throw new HintStoreFullError(`hint storage is full (${total} of ${this.maxBytes} bytes)`)
    if (added.length > dropped.length) {
      // Summed over the targets (a handful of rows): always in step with the transaction.
      let versions = 0
      for (const { value } of this.stats.getRange({})) versions += value.versions
      const next = versions + added.length - dropped.length
      if (next > this.maxVersions) throw new HintStoreFullError(`hint storage is full (${versions} of ${this.maxVersions} hinted versions)`)
    }
    const delta = addBytes - dropped.reduce((a, v) => a + v.size, 0)
    const s = this.stats.get(target) ?? { versions: 0, bytes: 0 }
    const next = { versions: s.versions + added.length - dropped.length, bytes: s.bytes + delta }
    if (next.versions <= 0) this.stats.remove(target)
    else this.stats.put(target, next)
    this.meta.put('hintBytes', Math.max(0, total + delta))
  }

  /** Pending hints per target node. */
  totals(): Record<string, HintStats> {
    const out: Record<string, HintStats> = {}
    for (const { key, value } of this.stats.getRange({})) out[key] = value
    return out
  }
}
