/**
 * The hints a node holds for others (sloppy quorum): their accounting, versions and bytes per
 * target and the total, kept in the same LMDB transaction as the hinted versions, and the listing
 * the hint replayer hands off from. Past `maxBytes`, or past `maxVersions` hinted versions, the
 * node refuses to stand in (HintStoreFull), so hints cannot fill its disk: the count bounds what
 * the byte bound does not see, tombstones and empty objects, whose records cost space all the same.
 */
import { HintStoreFullError } from '../../shared/errors.js'
import type { Version } from '../../shared/wire/internal-api.js'
import type { JournaledTable } from './engine/journaled-table.js'
import type { HintStats, KeyVersions } from './object-store.js'
import { publicVersion, type StoredRecord } from './records.js'

/** The bounds of the hint store (none when undefined). */
export interface HintLimits {
  maxBytes?: number | undefined
  maxVersions?: number | undefined
}

/**
 * Throws HintStoreFullError unless `added` hinted versions fit beside those held (`heldBytes`, and
 * `heldVersions()` over every target, asked for only when the count grows); `dropped` ones leave.
 */
export function checkHintRoom(heldBytes: number, heldVersions: () => number, added: readonly Version[], dropped: readonly Version[], limits: HintLimits): void {
  const maxBytes = limits.maxBytes ?? Number.POSITIVE_INFINITY
  const maxVersions = limits.maxVersions ?? Number.POSITIVE_INFINITY
  const addBytes = added.reduce((a, v) => a + v.size, 0)
  if (addBytes > 0 && heldBytes + addBytes > maxBytes) throw new HintStoreFullError(`hint storage is full (${heldBytes} of ${maxBytes} bytes)`)
  if (added.length > dropped.length) {
    const versions = heldVersions()
    if (versions + added.length - dropped.length > maxVersions) throw new HintStoreFullError(`hint storage is full (${versions} of ${maxVersions} hinted versions)`)
  }
}

export class HintLedger {
  /** Versions and bytes stored as hints since start, per target (in memory: GET /metrics). */
  readonly stored = new Map<string, HintStats>()

  constructor(
    /** Versions and bytes per target. */
    private readonly stats: JournaledTable<HintStats, string>,
    /** Where the running total lives (the store's meta table, key `hintBytes`). */
    private readonly meta: JournaledTable<string | number, string>,
    private readonly limits: HintLimits = {},
  ) {}

  /** Inside a write transaction, before any other write of it (it may throw): versions added to and dropped from `target`'s hints. */
  account(target: string, added: readonly Version[], dropped: readonly Version[]): void {
    const total = Number(this.meta.get('hintBytes') ?? 0)
    // Summed over the targets (a handful of rows): always in step with the transaction.
    const versions = () => {
      let n = 0
      for (const { value } of this.stats.getRange({})) n += value.versions
      return n
    }
    checkHintRoom(total, versions, added, dropped, this.limits)
    const delta = added.reduce((a, v) => a + v.size, 0) - dropped.reduce((a, v) => a + v.size, 0)
    const s = this.stats.get(target) ?? { versions: 0, bytes: 0 }
    if (added.length > 0) {
      const st = this.stored.get(target) ?? { versions: 0, bytes: 0 }
      this.stored.set(target, { versions: st.versions + added.length, bytes: st.bytes + added.reduce((a, v) => a + v.size, 0) })
    }
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

/** Up to `limit` hinted keys for `target` from the hints table (target, bucket, key), after `after` (bucket, key). */
export function hintBatch(hints: JournaledTable<StoredRecord, [string, string, string]>, target: string, limit: number, after?: { bucket: string; key: string }): KeyVersions[] {
  const out: KeyVersions[] = []
  for (const { key, value } of hints.getRange({ start: after ? [target, after.bucket, after.key] : [target, '', ''] })) {
    if (key[0] !== target || out.length >= limit) break
    if (after && key[1] === after.bucket && key[2] === after.key) continue
    out.push({ bucket: key[1], key: key[2], versions: value.versions.map(publicVersion) })
  }
  return out
}
