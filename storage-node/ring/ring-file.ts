/**
 * The ring record on a node's disk (`<data dir>/ring.json`), with the owners its last completed
 * ownership transfer was made for. Small and rarely written (at membership changes only), so one
 * JSON document replaced atomically: tmp, fsync, rename, fsync of the directory (as Swift keeps
 * its ring in a file of its own).
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { RingEntriesSchema, type RingEntry } from '../../shared/wire/ring.js'

const RingFileSchema = z.object({
  ring: RingEntriesSchema,
  /** Owners (sorted ids) the last completed transfer pass moved data for; absent before the first. */
  transferredFor: z.array(z.string()).optional(),
})
export type RingFile = z.infer<typeof RingFileSchema>

export const RING_FILE = 'ring.json'

/** The saved record, or undefined for a data dir that has none yet; a damaged file is an error (the node must not guess its ring). */
export function loadRingFile(dataDir: string): RingFile | undefined {
  let text: string
  try {
    text = readFileSync(join(dataDir, RING_FILE), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  return RingFileSchema.parse(JSON.parse(text))
}

export function saveRingFile(dataDir: string, ring: readonly RingEntry[], transferredFor: readonly string[] | undefined): void {
  const path = join(dataDir, RING_FILE)
  const tmp = `${path}.tmp`
  const fd = openSync(tmp, 'w', 0o600)
  try {
    writeSync(fd, JSON.stringify({ ring: [...ring], ...(transferredFor ? { transferredFor: [...transferredFor] } : {}) } satisfies RingFile))
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
  const dir = openSync(dataDir, 'r')
  try {
    fsyncSync(dir)
  } finally {
    closeSync(dir)
  }
}
