/**
 * The rule that keeps a node's disk from filling: new data is taken only while the free space left
 * after it (and after what bodies already admitted still have to write) stays at or above a
 * reserve. The reserve keeps the writes that must always succeed possible: the journal, LMDB's
 * checkpoints, and the metadata of tombstones, reaps and hint hand-offs, which free space or hold
 * almost none. Pure: disk-space.ts feeds it the figures.
 */

/** The default reserve is this much at least... */
export const MIN_DEFAULT_RESERVE_BYTES = 256 * 1024 ** 2
/** ...or this share of the filesystem, whichever is larger (a large disk's metadata grows with it). */
export const DEFAULT_RESERVE_SHARE = 0.01

/** The reserve of a filesystem of `totalBytes` when `--reserve-bytes` is not given. */
export function defaultReserveBytes(totalBytes: number): number {
  return Math.max(MIN_DEFAULT_RESERVE_BYTES, Math.ceil(totalBytes * DEFAULT_RESERVE_SHARE))
}

export interface SpaceFigures {
  /** Free space as last measured, less what was written since. */
  freeBytes: number
  reserveBytes: number
  /** Bytes admitted bodies have declared and not written yet. */
  claimedBytes: number
}

/** Whether `incomingBytes` more of new data may be taken now. */
export function admits(f: SpaceFigures, incomingBytes: number): boolean {
  return f.freeBytes - f.claimedBytes - Math.max(0, incomingBytes) >= f.reserveBytes
}

/** Below the reserve: the node takes no new data at all, and says so in gossip so others stop sending it. */
export function isFull(f: Pick<SpaceFigures, 'freeBytes' | 'reserveBytes'>): boolean {
  return f.freeBytes < f.reserveBytes
}
