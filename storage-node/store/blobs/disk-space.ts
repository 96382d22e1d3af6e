/**
 * The free space of a node's data directory, measured with statfs and kept fresh cheaply: looked up
 * on a timer (about once a second) and again soon after large writes, and between looks lowered by
 * every byte written, so admitting a body costs no system call. Bodies are admitted through claims
 * (space-admission.ts decides): a body of declared size claims its bytes up front, so concurrent
 * uploads cannot together eat the reserve; a body of unknown size is checked as it grows.
 */
import { statfs as statfsOf } from 'node:fs/promises'
import { InsufficientStorageError } from '../../../shared/errors.js'
import type { DiskStatus } from '../../../shared/wire/internal-api.js'
import { admits, defaultReserveBytes, isFull } from './space-admission.js'

/** How often free space is measured. */
export const DISK_SPACE_REFRESH_MS = 1000
/** Bytes written since the last measurement that call for the next one at once (a large upload moves the figure a lot). */
export const DISK_SPACE_REFRESH_AFTER_BYTES = 64 * 1024 * 1024

/** What /health shows (as DiskStatus), and what a node gossips (`full`). */
export interface DiskSnapshot {
  freeBytes: number
  totalBytes: number
  reserveBytes: number
  full: boolean
}

/** The snapshot as /health and /cluster show it. */
export function diskStatus(s: DiskSnapshot): DiskStatus {
  return { free_bytes: s.freeBytes, total_bytes: s.totalBytes, reserve_bytes: s.reserveBytes, full: s.full }
}

export interface DiskSpaceInit {
  /** A path on the filesystem measured (the data directory). */
  path: string
  /** Kept free for journal and metadata; default from defaultReserveBytes (the filesystem's size). */
  reserveBytes?: number | undefined
  refreshMs?: number
  refreshAfterBytes?: number
  /** Injected by tests. */
  statfs?: (path: string) => Promise<{ bavail: number; bsize: number; blocks: number }>
}

/** Space promised to one body: call `wrote` as its bytes go to disk and `release` when it is stored or dropped. */
export interface SpaceClaim {
  /** `n` more bytes written; past the size declared at admission, throws InsufficientStorageError once they no longer fit. */
  wrote(n: number): void
  release(): void
}

const refuse = (what: string) => new InsufficientStorageError(`this node is out of space for new data (${what}); it still serves reads and deletes`)

export class DiskSpace {
  private free = 0
  private total = 0
  private reserve = 0
  /** Bytes written since the last measurement started. */
  private written = 0
  /** Declared bytes of open claims not written yet. */
  private claimed = 0
  private wasFull = false
  private timer: NodeJS.Timeout | undefined
  private looking: Promise<void> | undefined
  /** Told when the node goes below its reserve or back above it. */
  onChange: ((snapshot: DiskSnapshot) => void) | undefined

  constructor(private readonly init: DiskSpaceInit) {}

  /** First measurement (it must succeed: the reserve depends on the filesystem's size), then the timer. */
  async start(): Promise<void> {
    await this.look()
    this.timer = setInterval(() => void this.refresh(), this.init.refreshMs ?? DISK_SPACE_REFRESH_MS)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
  }

  snapshot(): DiskSnapshot {
    const freeBytes = Math.max(0, this.free - this.written)
    return { freeBytes, totalBytes: this.total, reserveBytes: this.reserve, full: isFull({ freeBytes, reserveBytes: this.reserve }) }
  }

  get full(): boolean {
    return this.snapshot().full
  }

  /** Measure again now (e.g. after a write failed for want of space); failures are left to the timer. */
  refresh(): Promise<void> {
    this.looking ??= this.look()
      .catch(() => undefined)
      .finally(() => {
        this.looking = undefined
      })
    return this.looking
  }

  /**
   * Admit a new body of `declaredBytes` (undefined: unknown, checked as it grows): throws
   * InsufficientStorageError (507) unless it fits above the reserve with what is claimed already.
   */
  claim(declaredBytes: number | undefined): SpaceClaim {
    const declared = Math.max(0, declaredBytes ?? 0)
    if (!admits(this.figures(), declared)) throw refuse(declaredBytes === undefined ? 'below its reserve' : `${declared} bytes would not leave its reserve free`)
    let left = declared
    this.claimed += left
    let open = true
    return {
      wrote: (n: number) => {
        const within = Math.min(left, n)
        const beyond = n - within
        left -= within
        this.claimed -= within
        if (beyond > 0 && !admits(this.figures(), beyond)) throw refuse('the body grew past its reserve')
        this.noteWritten(n)
      },
      release: () => {
        if (!open) return
        open = false
        this.claimed -= left
        left = 0
      },
    }
  }

  private figures() {
    return { freeBytes: this.free - this.written, reserveBytes: this.reserve, claimedBytes: this.claimed }
  }

  private noteWritten(n: number): void {
    this.written += n
    if (this.written >= (this.init.refreshAfterBytes ?? DISK_SPACE_REFRESH_AFTER_BYTES)) void this.refresh()
    this.noteChange()
  }

  private async look(): Promise<void> {
    // Writes noted while statfs runs may or may not be in its answer: counted as not (the safe side).
    const before = this.written
    const s = await (this.init.statfs ?? statfsOf)(this.init.path)
    this.written -= before
    this.free = s.bavail * s.bsize
    this.total = s.blocks * s.bsize
    this.reserve = this.init.reserveBytes ?? defaultReserveBytes(this.total)
    this.noteChange()
  }

  private noteChange(): void {
    const snap = this.snapshot()
    if (snap.full === this.wasFull) return
    this.wasFull = snap.full
    this.onChange?.(snap)
  }
}
