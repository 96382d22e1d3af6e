/**
 * The layout number of a data directory, kept in `meta`: 1, bytes only in the inline table; 2, small
 * bytes may be embedded in records (records.ts). Code that knows only layout 1 would find embedded
 * bytes missing and quarantine them, so a directory of a newer layout than this code reads is
 * refused, not read.
 */
import { DEFAULT_EMBED_MAX_BYTES } from '../../shared/constants.js'
import type { JournaledTable } from './engine/journaled-table.js'

export const STORE_LAYOUT = 2

export class UnsupportedLayoutError extends Error {}

/**
 * Refuse a data directory of a newer layout than this code reads (a rollback after an upgrade);
 * mark the directory as layout 2 before the first embedded write (none when `embedMaxBytes` is 0).
 */
export function checkLayout(meta: JournaledTable<string | number, string>, dataDir: string, embedMaxBytes: number | undefined): void {
  const found = meta.get('layout')
  const layout = typeof found === 'number' ? found : 1
  if (layout > STORE_LAYOUT) {
    throw new UnsupportedLayoutError(`${dataDir} was written in store layout ${layout}; this version reads layouts up to ${STORE_LAYOUT}: run the newer version`)
  }
  if (layout < STORE_LAYOUT && (embedMaxBytes ?? DEFAULT_EMBED_MAX_BYTES) > 0) meta.put('layout', STORE_LAYOUT)
}
