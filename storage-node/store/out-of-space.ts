/** One test for "the disk is full", shared by the engine (checkpoints) and the blob files (bodies). */
import { constants } from 'node:os'

/** An error of a write that found the disk (or the quota) full: lmdb-js gives the errno as a number, node:fs its name. */
export function isOutOfSpace(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return code === 'ENOSPC' || code === 'EDQUOT' || code === constants.errno.ENOSPC || code === constants.errno.EDQUOT
}
