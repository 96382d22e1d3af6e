/**
 * The blob files the store refers to, for the orphan sweep at start (blobs/blob-files.ts,
 * sweepOrphans): a full scan of the records, data and hints, a slice at a time so that the node
 * serves while it runs.
 */
import type { JournaledTable } from './engine/journaled-table.js'
import type { StoredRecord } from './records.js'
import type { StoreTables } from './tables.js'

/** Visit every value of a table, `slice` at a time, giving the event loop a turn between slices. */
async function scanSliced<V, K extends (string | number)[]>(db: JournaledTable<V, K>, slice: number, visit: (value: V) => void): Promise<void> {
  let after: K | undefined
  for (;;) {
    let seen = 0
    for (const { key, value } of db.getRange({ start: after, limit: slice + 1 })) {
      // The slice starts at the last key of the one before: skip it.
      if (after && seen === 0 && key.length === after.length && key.every((k, i) => k === after?.[i])) continue
      seen++
      after = key
      visit(value)
      if (seen === slice) break
    }
    if (seen < slice) return
    await new Promise((resolve) => setImmediate(resolve))
  }
}

/** Names of every blob file a stored version (data or hint) refers to, reading `slice` records at a time. */
export async function referencedBlobs(tables: Pick<StoreTables, 'objects' | 'hints'>, slice: number): Promise<Set<string>> {
  const names = new Set<string>()
  const visit = (rec: StoredRecord) => {
    for (const v of rec.versions) if (v.blob) names.add(v.blob)
  }
  await scanSliced(tables.objects, slice, visit)
  await scanSliced(tables.hints, slice, visit)
  return names
}
